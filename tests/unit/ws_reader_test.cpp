// net/ws_reader: client frame parsing (RFC 6455 section 5) with the close codes of PROTOCOL.md
// sections 5.1 and 12: 1002 framing violations, 1003 binary, 1007 invalid UTF-8, 1009 size cap.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/ws_reader.hpp"

namespace net = parley::net;
using kind = net::ws_reader::event_kind;

namespace {

// Builds a client frame. `len_form` forces the length encoding: 0 = minimal, 7/16/64.
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true,
                         bool masked = true, unsigned rsv = 0, int len_form = 0,
                         const unsigned char key[4] = nullptr) {
    static const unsigned char default_key[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (key == nullptr) key = default_key;
    std::string out;
    out.push_back(static_cast<char>((fin ? 0x80 : 0) | (rsv << 4) | (opcode & 0xF)));
    const std::uint64_t n = payload.size();
    const unsigned char mask_bit = masked ? 0x80 : 0;
    int form = len_form;
    if (form == 0) form = n < 126 ? 7 : (n <= 0xFFFF ? 16 : 64);
    if (form == 7) {
        out.push_back(static_cast<char>(mask_bit | n));
    } else if (form == 16) {
        out.push_back(static_cast<char>(mask_bit | 126));
        out.push_back(static_cast<char>(n >> 8));
        out.push_back(static_cast<char>(n & 0xFF));
    } else {
        out.push_back(static_cast<char>(mask_bit | 127));
        for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    }
    if (masked) {
        out.append(reinterpret_cast<const char*>(key), 4);
        for (std::size_t i = 0; i < payload.size(); ++i) {
            out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
        }
    } else {
        out.append(payload);
    }
    return out;
}

std::string text(std::string_view p, bool fin = true) { return client_frame(0x1, p, fin); }
std::string cont(std::string_view p, bool fin = true) { return client_frame(0x0, p, fin); }
std::string close_frame(std::string_view p) { return client_frame(0x8, p); }
std::string close_payload(std::uint16_t code, std::string_view reason = "") {
    std::string s;
    s.push_back(static_cast<char>(code >> 8));
    s.push_back(static_cast<char>(code & 0xFF));
    s.append(reason);
    return s;
}

struct ev {
    kind k;
    std::string payload;
    std::uint16_t code;
    std::string reason;
    bool operator==(const ev& o) const {
        return k == o.k && payload == o.payload && code == o.code && reason == o.reason;
    }
};

std::ostream& operator<<(std::ostream& os, const ev& e) {
    return os << "{kind=" << static_cast<int>(e.k) << " code=" << e.code << " payload.size="
              << e.payload.size() << " reason=" << e.reason << "}";
}

// Feeds bytes like a connection does: keeps unconsumed bytes, calls next() until it needs more.
class feeder {
public:
    explicit feeder(std::size_t max) : reader(max) {}

    void feed(std::string_view bytes) {
        buf.append(bytes);
        pump();
    }

    void pump() {
        while (!failed) {
            std::size_t consumed = 0;
            net::ws_reader::event e = reader.next(buf.data(), buf.size(), consumed);
            ev copy{e.kind, std::string(e.payload), e.code, std::string(e.reason)};
            if (e.kind == kind::fail) copy.payload.clear();  // only code and reason matter
            EXPECT_LE(consumed, buf.size());
            buf.erase(0, consumed);
            if (e.kind == kind::need_more) {
                if (consumed == 0) return;
                continue;
            }
            if (e.kind == kind::fail) {
                failed = true;
            }
            events.push_back(std::move(copy));
        }
    }

    net::ws_reader reader;
    std::string buf;
    std::vector<ev> events;
    bool failed = false;
};

std::vector<ev> run(std::string_view stream, std::size_t max = 1 << 20) {
    feeder f(max);
    f.feed(stream);
    return f.events;
}

std::vector<ev> run_bytewise(std::string_view stream, std::size_t max = 1 << 20) {
    feeder f(max);
    for (char c : stream) f.feed(std::string_view(&c, 1));
    return f.events;
}

ev fail(std::uint16_t code) {
    switch (code) {
        case 1002: return {kind::fail, "", 1002, "protocol error"};
        case 1003: return {kind::fail, "", 1003, "binary frames not supported"};
        case 1007: return {kind::fail, "", 1007, "invalid utf-8"};
        case 1009: return {kind::fail, "", 1009, "frame too large"};
    }
    return {kind::fail, "", code, "?"};
}

ev text_ev(std::string p) { return {kind::text, std::move(p), 0, ""}; }

// Expects the stream to produce exactly `want`, fed whole and one byte at a time.
void expect_events(std::string_view stream, const std::vector<ev>& want, std::size_t max = 1 << 20) {
    EXPECT_EQ(run(stream, max), want);
    EXPECT_EQ(run_bytewise(stream, max), want);
}

}  // namespace

// ---- unmask / close codes --------------------------------------------------------------------

TEST(ws_reader, unmask_round_trip_all_lengths_and_alignments) {
    const unsigned char key[4] = {0xA1, 0x02, 0xFF, 0x5C};
    for (std::size_t off = 0; off < 8; ++off) {
        for (std::size_t len = 0; len < 40; ++len) {
            std::string orig(len, '\0');
            for (std::size_t i = 0; i < len; ++i) orig[i] = static_cast<char>(i * 7 + off);
            std::string buf(off, 'x');
            buf += orig;
            net::unmask(buf.data() + off, len, key);
            for (std::size_t i = 0; i < len; ++i) {
                ASSERT_EQ(static_cast<unsigned char>(buf[off + i]),
                          static_cast<unsigned char>(orig[i] ^ key[i % 4]))
                    << "len " << len << " off " << off << " i " << i;
            }
            net::unmask(buf.data() + off, len, key);
            EXPECT_EQ(buf.substr(off), orig);
        }
    }
}

TEST(ws_reader, valid_close_codes) {
    for (std::uint16_t c : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
                            3000, 3999, 4000, 4001, 4999}) {
        EXPECT_TRUE(net::valid_close_code(c)) << c;
    }
    for (std::uint16_t c : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
                            65535}) {
        EXPECT_FALSE(net::valid_close_code(c)) << c;
    }
}

// ---- basic framing ---------------------------------------------------------------------------

TEST(ws_reader, rfc6455_masked_hello) {
    // RFC 6455 section 5.7: a single-frame masked text message "Hello".
    const std::string wire("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    expect_events(wire, {text_ev("Hello")});
}

TEST(ws_reader, payload_is_unmasked_in_place) {
    net::ws_reader r(1000);
    std::string wire = text("{\"type\":\"ping\"}");
    std::size_t consumed = 0;
    auto e = r.next(wire.data(), wire.size(), consumed);
    ASSERT_EQ(e.kind, kind::text);
    EXPECT_EQ(consumed, wire.size());
    EXPECT_EQ(e.payload, "{\"type\":\"ping\"}");
    EXPECT_GE(e.payload.data(), wire.data());
    EXPECT_LE(e.payload.data() + e.payload.size(), wire.data() + wire.size());
}

TEST(ws_reader, zero_key_and_empty_payload) {
    const unsigned char zero[4] = {0, 0, 0, 0};
    expect_events(client_frame(0x1, "abc", true, true, 0, 0, zero), {text_ev("abc")});
    expect_events(text(""), {text_ev("")});
}

TEST(ws_reader, lengths_7_16_64_bit) {
    for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 70000u}) {
        std::string p(n, 'a');
        for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>('a' + (i * 31) % 26);
        EXPECT_EQ(run(text(p)), std::vector<ev>{text_ev(p)}) << n;
    }
}

TEST(ws_reader, incomplete_frames_consume_nothing) {
    std::string wire = text(std::string(300, 'q'));
    net::ws_reader r(1000);
    for (std::size_t len = 0; len < wire.size(); ++len) {
        std::string copy = wire;
        std::size_t consumed = 99;
        auto e = r.next(copy.data(), len, consumed);
        ASSERT_EQ(e.kind, kind::need_more) << len;
        ASSERT_EQ(consumed, 0u) << len;
    }
    std::size_t consumed = 0;
    auto e = r.next(wire.data(), wire.size(), consumed);
    EXPECT_EQ(e.kind, kind::text);
    EXPECT_EQ(consumed, wire.size());
}

TEST(ws_reader, several_frames_in_one_buffer) {
    std::string stream = text("a") + client_frame(0x9, "p") + text("bc") + client_frame(0xA, "q") +
                         close_frame(close_payload(1000, "bye"));
    expect_events(stream, {text_ev("a"),
                           {kind::ping, "p", 0, ""},
                           text_ev("bc"),
                           {kind::pong, "q", 0, ""},
                           {kind::close, "bye", 1000, ""}});
}

// ---- fragmentation ---------------------------------------------------------------------------

TEST(ws_reader, fragmented_text_is_reassembled) {
    expect_events(text("Hel", false) + cont("lo", false) + cont("!"), {text_ev("Hello!")});
    expect_events(text("", false) + cont("", false) + cont("x"), {text_ev("x")});
    expect_events(text("abc", false) + cont(""), {text_ev("abc")});
}

TEST(ws_reader, mid_message_and_buffered) {
    feeder f(1000);
    f.feed(text("Hel", false));
    EXPECT_TRUE(f.events.empty());
    EXPECT_TRUE(f.reader.mid_message());
    EXPECT_EQ(f.reader.buffered(), 3u);
    f.feed(cont("lo", false));
    EXPECT_EQ(f.reader.buffered(), 5u);
    f.feed(cont("!"));
    ASSERT_EQ(f.events.size(), 1u);
    EXPECT_EQ(f.events[0], text_ev("Hello!"));
    f.feed(text("next"));
    ASSERT_EQ(f.events.size(), 2u);
    EXPECT_EQ(f.events[1], text_ev("next"));
    EXPECT_FALSE(f.reader.mid_message());
    EXPECT_EQ(f.reader.buffered(), 0u);
}

TEST(ws_reader, control_frames_between_fragments) {
    std::string stream = text("ab", false) + client_frame(0x9, "ping!") + cont("cd", false) +
                         client_frame(0xA, "") + cont("ef") + text("g");
    expect_events(stream, {{kind::ping, "ping!", 0, ""},
                           {kind::pong, "", 0, ""},
                           text_ev("abcdef"),
                           text_ev("g")});
    std::string with_close = text("ab", false) + close_frame(close_payload(1001));
    expect_events(with_close, {{kind::close, "", 1001, ""}});
}

TEST(ws_reader, large_fragmented_message) {
    std::string a(70000, 'a'), b(70000, 'b'), c(10, 'c');
    expect_events(text(a, false) + cont(b, false) + cont(c), {text_ev(a + b + c)});
}

// ---- protocol errors: 1002 -------------------------------------------------------------------

TEST(ws_reader, unmasked_frames) {
    expect_events(client_frame(0x1, "hi", true, false), {fail(1002)});
    expect_events(client_frame(0x9, "", true, false), {fail(1002)});
    expect_events(client_frame(0x8, close_payload(1000), true, false), {fail(1002)});
    expect_events(text("a", false) + client_frame(0x0, "b", true, false), {fail(1002)});
}

TEST(ws_reader, reserved_bits) {
    for (unsigned rsv : {1u, 2u, 4u, 7u}) {
        expect_events(client_frame(0x1, "hi", true, true, rsv), {fail(1002)});
        expect_events(client_frame(0x9, "", true, true, rsv), {fail(1002)});
    }
}

TEST(ws_reader, unknown_opcodes) {
    for (unsigned op : {0x3u, 0x4u, 0x5u, 0x6u, 0x7u, 0xBu, 0xCu, 0xDu, 0xEu, 0xFu}) {
        expect_events(client_frame(op, "x"), {fail(1002)});
    }
}

TEST(ws_reader, long_control_frames) {
    expect_events(client_frame(0x9, std::string(125, 'p')), {{kind::ping, std::string(125, 'p'), 0, ""}});
    expect_events(client_frame(0xA, std::string(125, 'p')), {{kind::pong, std::string(125, 'p'), 0, ""}});
    expect_events(client_frame(0x9, std::string(126, 'p')), {fail(1002)});
    expect_events(client_frame(0xA, std::string(200, 'p')), {fail(1002)});
    expect_events(close_frame(close_payload(1000, std::string(124, 'r'))), {fail(1002)});
    // A short control payload in a long length encoding is still a long-form control frame.
    expect_events(client_frame(0x9, "p", true, true, 0, 16), {fail(1002)});
}

TEST(ws_reader, fragmented_control_frames) {
    expect_events(client_frame(0x9, "p", false), {fail(1002)});
    expect_events(client_frame(0xA, "p", false), {fail(1002)});
    expect_events(client_frame(0x8, close_payload(1000), false), {fail(1002)});
}

TEST(ws_reader, continuation_without_start) {
    expect_events(cont("x"), {fail(1002)});
    expect_events(cont("x", false), {fail(1002)});
    expect_events(text("a") + cont("b"), {text_ev("a"), fail(1002)});
}

TEST(ws_reader, new_message_inside_fragmented_message) {
    expect_events(text("a", false) + text("b"), {fail(1002)});
    expect_events(text("a", false) + client_frame(0x2, "b"), {fail(1002)});
}

TEST(ws_reader, length_with_most_significant_bit_set) {
    std::string hdr("\x81\xff\x80\x00\x00\x00\x00\x00\x00\x05", 10);
    expect_events(hdr, {fail(1002)});
    expect_events(hdr + std::string("\x01\x02\x03\x04", 4) + "abcde", {fail(1002)});
}

TEST(ws_reader, fail_reason_strings) {
    EXPECT_EQ(run(cont("x")), std::vector<ev>{fail(1002)});
    auto e = run(client_frame(0x2, "b"));
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(e[0].reason, "binary frames not supported");
}

// ---- binary: 1003 ----------------------------------------------------------------------------

TEST(ws_reader, binary_frames) {
    expect_events(client_frame(0x2, "bin"), {fail(1003)});
    expect_events(client_frame(0x2, ""), {fail(1003)});
    expect_events(client_frame(0x2, "bin", false), {fail(1003)});
    expect_events(text("ok") + client_frame(0x2, "\xff"), {text_ev("ok"), fail(1003)});
}

// ---- UTF-8: 1007 -----------------------------------------------------------------------------

TEST(ws_reader, invalid_utf8) {
    for (const char* bad : {"\xff", "\xfe", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf",
                            "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                            "\xe2\x82", "a\x80", "\xc3", "\xf0\x9f\x98"}) {
        expect_events(text(bad), {fail(1007)});
        expect_events(text(std::string("{\"data\":\"") + bad + "\"}"), {fail(1007)});
    }
}

TEST(ws_reader, valid_utf8) {
    const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\x7f";
    expect_events(text(s), {text_ev(s)});
    std::string nul("a\0b", 3);
    expect_events(text(nul), {text_ev(nul)});
}

TEST(ws_reader, utf8_split_across_fragments) {
    // A valid character split over fragments is fine.
    expect_events(text("\xe2\x82", false) + cont("\xac"), {text_ev("\xe2\x82\xac")});
    expect_events(text("\xf0", false) + cont("\x9f", false) + cont("\x98\x80"),
                  {text_ev("\xf0\x9f\x98\x80")});
    // Invalid sequences split over fragments are caught.
    expect_events(text("\xe2", false) + cont("("), {fail(1007)});
    expect_events(text("ok", false) + cont("\xc3"), {fail(1007)});
    expect_events(text("\xed", false) + cont("\xa0\x80"), {fail(1007)});
    expect_events(text("a", false) + cont("\xff", false) + cont("b"), {fail(1007)});
}

// ---- close frames ----------------------------------------------------------------------------

TEST(ws_reader, close_frames) {
    expect_events(close_frame(""), {{kind::close, "", 1005, ""}});
    expect_events(close_frame("\x03"), {fail(1002)});
    expect_events(close_frame(close_payload(1000)), {{kind::close, "", 1000, ""}});
    expect_events(close_frame(close_payload(4000, "welcome timeout")),
                  {{kind::close, "welcome timeout", 4000, ""}});
    expect_events(close_frame(close_payload(1001, std::string(123, 'r'))),
                  {{kind::close, std::string(123, 'r'), 1001, ""}});
    expect_events(close_frame(close_payload(3000, "\xc3\xa9")), {{kind::close, "\xc3\xa9", 3000, ""}});
}

TEST(ws_reader, close_frames_with_invalid_codes) {
    for (std::uint16_t c : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
        expect_events(close_frame(close_payload(c)), {fail(1002)});
    }
}

TEST(ws_reader, close_frame_with_invalid_utf8_reason) {
    expect_events(close_frame(close_payload(1000, "\xff")), {fail(1007)});
    expect_events(close_frame(close_payload(1000, "ab\xc3")), {fail(1007)});
    expect_events(close_frame(close_payload(1000, "\xed\xa0\x80")), {fail(1007)});
}

// ---- size cap: 1009 --------------------------------------------------------------------------

TEST(ws_reader, size_cap_single_frame) {
    expect_events(text(std::string(100, 'x')), {text_ev(std::string(100, 'x'))}, 100);
    expect_events(text(std::string(101, 'x')), {fail(1009)}, 100);
    expect_events(text(std::string(69632, 'x')), {text_ev(std::string(69632, 'x'))}, 69632);
    expect_events(text(std::string(69633, 'x')), {fail(1009)}, 69632);
}

TEST(ws_reader, size_cap_decided_from_the_header) {
    // Only the header has arrived: 1009 without waiting for (or buffering) the payload.
    {
        feeder f(100);
        f.feed(std::string("\x81\xe5", 2));  // masked, 101 bytes
        EXPECT_EQ(f.events, std::vector<ev>{fail(1009)});
    }
    {
        feeder f(1000);
        f.feed(std::string("\x81\xfe\x03\xe9", 4));  // 16-bit length 1001
        EXPECT_EQ(f.events, std::vector<ev>{fail(1009)});
    }
    {
        feeder f(69632);
        f.feed(std::string("\x81\xff\x00\x00\x01\x00\x00\x00\x00\x00", 10));  // 2^40
        EXPECT_EQ(f.events, std::vector<ev>{fail(1009)});
    }
    {
        feeder f(69632);
        f.feed(std::string("\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff", 10));  // 2^63 - 1
        EXPECT_EQ(f.events, std::vector<ev>{fail(1009)});
    }
}

TEST(ws_reader, size_cap_across_fragments) {
    expect_events(text(std::string(60, 'a'), false) + cont(std::string(40, 'b')),
                  {text_ev(std::string(60, 'a') + std::string(40, 'b'))}, 100);
    expect_events(text(std::string(60, 'a'), false) + cont(std::string(41, 'b')), {fail(1009)}, 100);
    // Decided from the continuation's header, before its payload arrives.
    feeder f(100);
    f.feed(text(std::string(60, 'a'), false));
    EXPECT_TRUE(f.events.empty());
    f.feed(std::string("\x80\xa9", 2));  // FIN continuation, 41 bytes
    EXPECT_EQ(f.events, std::vector<ev>{fail(1009)});
    EXPECT_LE(f.reader.buffered(), 100u);
}

TEST(ws_reader, size_cap_does_not_apply_to_control_frames) {
    expect_events(client_frame(0x9, std::string(50, 'p')), {{kind::ping, std::string(50, 'p'), 0, ""}}, 10);
}

// ---- incremental feeding ---------------------------------------------------------------------

TEST(ws_reader, byte_at_a_time_gives_the_same_events) {
    const unsigned char key2[4] = {0x01, 0x80, 0xfe, 0x7f};
    std::string stream = text("{\"type\":\"ping\"}") + text("frag", false) + client_frame(0x9, "x") +
                         cont(std::string(300, 'm'), false) + client_frame(0xA, "y") +
                         cont("end\xc3\xa9") + client_frame(0x1, std::string(70000, 'z'), true, true, 0, 0, key2) +
                         text("") + close_frame(close_payload(1000, "done"));
    std::vector<ev> want = {text_ev("{\"type\":\"ping\"}"),
                            {kind::ping, "x", 0, ""},
                            {kind::pong, "y", 0, ""},
                            text_ev("frag" + std::string(300, 'm') + "end\xc3\xa9"),
                            text_ev(std::string(70000, 'z')),
                            text_ev(""),
                            {kind::close, "done", 1000, ""}};
    EXPECT_EQ(run(stream), want);
    EXPECT_EQ(run_bytewise(stream), want);
    // And in uneven chunks.
    for (std::size_t chunk : {2u, 3u, 7u, 13u, 4096u}) {
        feeder f(1 << 20);
        for (std::size_t i = 0; i < stream.size(); i += chunk) f.feed(std::string_view(stream).substr(i, chunk));
        EXPECT_EQ(f.events, want) << chunk;
    }
}
