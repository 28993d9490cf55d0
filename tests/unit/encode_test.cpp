// proto/encode and net/frame: server frames are valid, unmasked, unfragmented WebSocket frames
// (RFC 6455 section 5.2) carrying the JSON of PROTOCOL.md sections 3.6 and 7; presence snapshots
// are split to stay within 1,048,576 bytes (section 8.2).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/frame.hpp"
#include "parley/codes.hpp"
#include "proto/encode.hpp"
#include "proto/json_scan.hpp"

namespace net = parley::net;
namespace json = parley::json;
using parley::error_code;
using parley::proto::encoder;

namespace {

struct parsed_frame {
    bool fin = false;
    unsigned rsv = 0;
    unsigned opcode = 0;
    bool masked = false;
    std::uint64_t length = 0;
    std::size_t header = 0;
    std::string payload;
};

// Parses one server frame; fails the test when the wire bytes are not exactly one frame.
parsed_frame parse_wire(std::string_view w) {
    parsed_frame p;
    EXPECT_GE(w.size(), 2u);
    if (w.size() < 2) return p;
    auto b = [&](std::size_t i) { return static_cast<unsigned char>(w[i]); };
    p.fin = (b(0) & 0x80) != 0;
    p.rsv = (b(0) >> 4) & 0x7;
    p.opcode = b(0) & 0xF;
    p.masked = (b(1) & 0x80) != 0;
    std::uint64_t len = b(1) & 0x7F;
    std::size_t h = 2;
    if (len == 126) {
        len = (std::uint64_t{b(2)} << 8) | b(3);
        h = 4;
        EXPECT_GE(len, 126u) << "16-bit length must be minimal";
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | b(2 + i);
        h = 10;
        EXPECT_GT(len, 0xFFFFu) << "64-bit length must be minimal";
        EXPECT_EQ(len >> 63, 0u);
    }
    p.length = len;
    p.header = h;
    EXPECT_EQ(w.size(), h + len) << "wire size must be header + payload";
    p.payload = std::string(w.substr(h));
    return p;
}

// The top-level members of a JSON object text, by name (raw value text). Fails on duplicates.
std::map<std::string, std::string> members(std::string_view text) {
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object(text, m), json::scan_result::ok) << text;
    std::map<std::string, std::string> out;
    for (const auto& x : m) {
        std::string k;
        json::unescape(x.raw_key, k);
        EXPECT_TRUE(out.emplace(k, std::string(x.value)).second) << "duplicate member " << k;
    }
    return out;
}

// Checks that `f` is a single FIN text frame, unmasked, and returns its payload's members.
std::map<std::string, std::string> text_members(const net::frame_ptr& f) {
    EXPECT_TRUE(f);
    parsed_frame p = parse_wire(f->wire());
    EXPECT_TRUE(p.fin);
    EXPECT_EQ(p.rsv, 0u);
    EXPECT_EQ(p.opcode, 0x1u);
    EXPECT_FALSE(p.masked);
    EXPECT_EQ(p.payload, f->payload());
    EXPECT_EQ(f->size(), f->wire().size());
    EXPECT_TRUE(json::validate(p.payload)) << p.payload;
    return members(p.payload);
}

using M = std::map<std::string, std::string>;

}  // namespace

// ---- net::frame headers ----------------------------------------------------------------------

TEST(encode, frame_header_lengths) {
    struct tc {
        std::size_t len;
        std::string header;
    } cases[] = {
        {0, std::string("\x81\x00", 2)},
        {1, "\x81\x01"},
        {125, "\x81\x7d"},
        {126, std::string("\x81\x7e\x00\x7e", 4)},
        {127, std::string("\x81\x7e\x00\x7f", 4)},
        {65535, "\x81\x7e\xff\xff"},
        {65536, std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10)},
        {1048576, std::string("\x81\x7f\x00\x00\x00\x00\x00\x10\x00\x00", 10)},
    };
    for (const auto& c : cases) {
        std::string payload(c.len, 'x');
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
        net::frame_ptr f(net::frame::create(net::opcode::text, payload));
        std::string_view w = f->wire();
        ASSERT_EQ(w.size(), c.header.size() + c.len) << c.len;
        EXPECT_EQ(w.substr(0, c.header.size()), c.header) << c.len;
        EXPECT_EQ(f->payload(), payload) << c.len;
        EXPECT_EQ(f->size(), w.size());
        parsed_frame p = parse_wire(w);
        EXPECT_EQ(p.length, c.len);
    }
}

TEST(encode, frame_opcodes) {
    net::frame_ptr ping(net::frame::create(net::opcode::ping, ""));
    EXPECT_EQ(ping->wire(), std::string("\x89\x00", 2));
    net::frame_ptr pong(net::frame::create(net::opcode::pong, "ab"));
    EXPECT_EQ(pong->wire(), "\x8a\x02" "ab");
    net::frame_ptr close(net::frame::create(net::opcode::close, ""));
    EXPECT_EQ(close->wire(), std::string("\x88\x00", 2));
    net::frame_ptr bin(net::frame::create(net::opcode::binary, "z"));
    EXPECT_EQ(bin->wire(), "\x82\x01z");
}

TEST(encode, frame_ptr_copies_share_one_frame) {
    net::frame_ptr a(net::frame::create(net::opcode::text, "{}"));
    net::frame* raw = a.get();
    {
        net::frame_ptr b = a;
        net::frame_ptr c;
        c = b;
        EXPECT_EQ(b.get(), raw);
        EXPECT_EQ(c.get(), raw);
        net::frame_ptr d = std::move(c);
        EXPECT_FALSE(c);
        EXPECT_EQ(d.get(), raw);
    }
    EXPECT_EQ(a->payload(), "{}");  // still alive (ASan would flag a premature free)
    a->set_stamp_ns(42);
    EXPECT_EQ(a->stamp_ns(), 42);
    net::frame* r = a.release();
    EXPECT_FALSE(a);
    net::frame_ptr again(r);
    EXPECT_EQ(again->payload(), "{}");
}

// ---- builders --------------------------------------------------------------------------------

TEST(encode, welcome_spec_example) {
    encoder e;
    auto f = e.welcome("\"alice\"", 1700003600, 1700000000, 65536,
                       R"({"iceServers":[{"urls":["stun:turn.example.com:3478"]}]})");
    EXPECT_EQ(text_members(f),
              (M{{"type", "\"welcome\""},
                 {"peerId", "\"alice\""},
                 {"expiresAt", "1700003600"},
                 {"serverTime", "1700000000"},
                 {"maxMessageSize", "65536"},
                 {"metadata", R"({"iceServers":[{"urls":["stun:turn.example.com:3478"]}]})"}}));
}

TEST(encode, welcome_publishable_key) {
    encoder e;
    auto f = e.welcome("\"0b1c6a34-9d1f-4c55-8a2e-1f2d3c4b5a69\"", std::nullopt, 1700000000, 1024, "");
    // expiresAt is always present, null for publishable keys; no metadata member.
    EXPECT_EQ(text_members(f), (M{{"type", "\"welcome\""},
                                  {"peerId", "\"0b1c6a34-9d1f-4c55-8a2e-1f2d3c4b5a69\""},
                                  {"expiresAt", "null"},
                                  {"serverTime", "1700000000"},
                                  {"maxMessageSize", "1024"}}));
}

TEST(encode, ack) {
    encoder e;
    EXPECT_EQ(text_members(e.ack("\"c7e2\"")), (M{{"type", "\"ack\""}, {"requestId", "\"c7e2\""}}));
    // The requestId's JSON text is echoed verbatim.
    EXPECT_EQ(text_members(e.ack(R"("a\"b\u00e9")")),
              (M{{"type", "\"ack\""}, {"requestId", R"("a\"b\u00e9")"}}));
}

TEST(encode, error_with_and_without_request_id) {
    encoder e;
    EXPECT_EQ(text_members(e.error(error_code::channel_not_authorized,
                                   "channel not authorized: admin/1", "\"c7e2\"")),
              (M{{"type", "\"error\""},
                 {"requestId", "\"c7e2\""},
                 {"code", "\"channel_not_authorized\""},
                 {"message", "\"channel not authorized: admin/1\""}}));
    EXPECT_EQ(text_members(e.error(error_code::malformed_message, "frame is not valid JSON", "")),
              (M{{"type", "\"error\""},
                 {"code", "\"malformed_message\""},
                 {"message", "\"frame is not valid JSON\""}}));
}

TEST(encode, error_message_is_escaped_and_never_empty) {
    encoder e;
    auto m = text_members(e.error(error_code::invalid_channel, "bad \"x\\y\"\n\x01", ""));
    std::string decoded;
    json::unescape(json::string_body(m["message"]), decoded);
    EXPECT_EQ(decoded, "bad \"x\\y\"\n\x01");
    auto m2 = text_members(e.error(error_code::peer_not_found, "", "\"r\""));
    ASSERT_TRUE(m2.count("message"));
    EXPECT_GT(m2["message"].size(), 2u);
}

TEST(encode, every_error_code_name) {
    encoder e;
    for (std::size_t i = 0; i < parley::error_code_count; ++i) {
        auto code = static_cast<error_code>(i);
        auto m = text_members(e.error(code, "m", ""));
        EXPECT_EQ(m["code"], "\"" + std::string(parley::to_string(code)) + "\"");
    }
    EXPECT_EQ(parley::to_string(error_code::malformed_message), "malformed_message");
    EXPECT_EQ(parley::to_string(error_code::internal_error), "internal_error");
}

TEST(encode, message_frame) {
    encoder e;
    const std::string data = "{ \"text\" : \"hi\" , \"n\":1.50e+00 }";
    EXPECT_EQ(text_members(e.message("room-1", "\"alice\"", data, R"({"name":"Alice"})")),
              (M{{"type", "\"message\""},
                 {"channel", "\"room-1\""},
                 {"from", "\"alice\""},
                 {"data", data},
                 {"fromMetadata", R"({"name":"Alice"})"}}));
    EXPECT_EQ(text_members(e.message("room-1", "\"system\"", "null", "")),
              (M{{"type", "\"message\""},
                 {"channel", "\"room-1\""},
                 {"from", "\"system\""},
                 {"data", "null"}}));
}

TEST(encode, message_channel_is_json_escaped) {
    encoder e;
    auto m = text_members(e.message("c\\d/\"q\"\xc3\xa9", "\"a\"", "1", ""));
    std::string decoded;
    EXPECT_EQ(json::unescape(json::string_body(m["channel"]), decoded), json::unescape_result::ok);
    EXPECT_EQ(decoded, "c\\d/\"q\"\xc3\xa9");
}

TEST(encode, direct_frame) {
    encoder e;
    EXPECT_EQ(text_members(e.direct("\"alice\"", R"({"type":"rtc-ice","candidate":null})",
                                    R"({"name":"Alice"})")),
              (M{{"type", "\"direct\""},
                 {"from", "\"alice\""},
                 {"data", R"({"type":"rtc-ice","candidate":null})"},
                 {"fromMetadata", R"({"name":"Alice"})"}}));
    EXPECT_EQ(text_members(e.direct("\"a\"", "\"x\"", "")),
              (M{{"type", "\"direct\""}, {"from", "\"a\""}, {"data", "\"x\""}}));
}

TEST(encode, presence_deltas) {
    encoder e;
    EXPECT_EQ(text_members(e.presence_joined("room-1", R"({"peerId":"bob","metadata":{"name":"Bob"}})")),
              (M{{"type", "\"presence\""},
                 {"channel", "\"room-1\""},
                 {"joined", R"([{"peerId":"bob","metadata":{"name":"Bob"}}])"},
                 {"left", "[]"}}));
    EXPECT_EQ(text_members(e.presence_left("room-1", R"({"peerId":"bob"})")),
              (M{{"type", "\"presence\""},
                 {"channel", "\"room-1\""},
                 {"joined", "[]"},
                 {"left", R"([{"peerId":"bob"}])"}}));
}

TEST(encode, going_away_and_pong) {
    encoder e;
    EXPECT_EQ(text_members(e.going_away(1000)),
              (M{{"type", "\"going_away\""}, {"retryAfterMs", "1000"}}));
    const net::frame_ptr& p = encoder::pong();
    EXPECT_EQ(text_members(p), (M{{"type", "\"pong\""}}));
    EXPECT_EQ(encoder::pong().get(), p.get());
    {
        net::frame_ptr copy = encoder::pong();  // shared, never freed
        net::frame_ptr copy2 = copy;
    }
    EXPECT_EQ(encoder::pong()->payload(), "{\"type\":\"pong\"}");
}

TEST(encode, close_frame) {
    encoder e;
    auto f = e.close(4001, "invalid_token: bad signature");
    parsed_frame p = parse_wire(f->wire());
    EXPECT_TRUE(p.fin);
    EXPECT_EQ(p.opcode, 0x8u);
    EXPECT_FALSE(p.masked);
    EXPECT_EQ(p.payload, std::string("\x0f\xa1", 2) + "invalid_token: bad signature");
    auto g = e.close(1000, "");
    EXPECT_EQ(parse_wire(g->wire()).payload, std::string("\x03\xe8", 2));
    // Reasons are cut to 123 bytes so the control frame stays within 125.
    auto h = e.close(1009, std::string(200, 'r'));
    parsed_frame ph = parse_wire(h->wire());
    EXPECT_EQ(ph.length, 125u);
    EXPECT_EQ(ph.payload, std::string("\x03\xf1", 2) + std::string(123, 'r'));
}

TEST(encode, control_frames) {
    encoder e;
    auto ping = e.control(net::opcode::ping, "");
    EXPECT_EQ(ping->wire(), std::string("\x89\x00", 2));
    auto pong = e.control(net::opcode::pong, "hello");
    EXPECT_EQ(pong->wire(), "\x8a\x05hello");
}

TEST(encode, frames_survive_the_next_build) {
    encoder e;
    auto a = e.ack("\"1\"");
    auto b = e.ack("\"2\"");
    auto c = e.message("x", "\"p\"", std::string(70000, '1'), "");
    EXPECT_EQ(members(a->payload())["requestId"], "\"1\"");
    EXPECT_EQ(members(b->payload())["requestId"], "\"2\"");
    EXPECT_EQ(parse_wire(c->wire()).header, 10u);
}

// ---- presence snapshots ----------------------------------------------------------------------

namespace {

std::vector<net::frame_ptr> snapshot(encoder& e, std::string_view channel,
                                     const std::vector<std::string>& entries) {
    std::vector<net::frame_ptr> out;
    auto emit = [&](net::frame_ptr f) { out.push_back(std::move(f)); };
    e.snapshot_begin(channel, emit);
    for (const auto& x : entries) {
        e.snapshot_add(x, emit);
    }
    e.snapshot_finish(emit);
    return out;
}

// The joined entries of a presence frame, as raw texts.
std::vector<std::string> joined_of(const net::frame_ptr& f, std::string_view channel) {
    auto m = text_members(f);
    EXPECT_EQ(m["type"], "\"presence\"");
    EXPECT_EQ(m["channel"], "\"" + std::string(channel) + "\"");
    EXPECT_EQ(m["left"], "[]");
    EXPECT_EQ(m.size(), 4u);
    std::vector<json::member> el;
    EXPECT_EQ(json::scan_array(m["joined"], el), json::scan_result::ok);
    std::vector<std::string> out;
    for (const auto& x : el) out.emplace_back(x.value);
    return out;
}

std::string entry(int i, std::size_t pad) {
    return R"({"peerId":"p)" + std::to_string(i) + R"(","metadata":{"x":")" + std::string(pad, 'm') +
           "\"}}";
}

}  // namespace

TEST(encode, snapshot_empty) {
    encoder e;
    auto frames = snapshot(e, "room-1", {});
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(text_members(frames[0]), (M{{"type", "\"presence\""},
                                          {"channel", "\"room-1\""},
                                          {"joined", "[]"},
                                          {"left", "[]"}}));
}

TEST(encode, snapshot_entries_in_order) {
    encoder e;
    std::vector<std::string> entries = {R"({"peerId":"alice","metadata":{"name":"Alice"}})",
                                        R"({"peerId":"carol"})", R"({"peerId":"bob"})"};
    auto frames = snapshot(e, "room-1", entries);
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(joined_of(frames[0], "room-1"), entries);
}

TEST(encode, snapshot_split_over_the_server_frame_cap) {
    encoder e;
    std::vector<std::string> entries;
    for (int i = 0; i < 3000; ++i) entries.push_back(entry(i, 900 + i % 50));
    auto frames = snapshot(e, "big", entries);
    ASSERT_GE(frames.size(), 3u);
    std::vector<std::string> all;
    for (const auto& f : frames) {
        EXPECT_LE(f->payload().size(), parley::proto::max_server_frame);
        auto j = joined_of(f, "big");
        EXPECT_FALSE(j.empty());
        all.insert(all.end(), j.begin(), j.end());
    }
    EXPECT_EQ(all, entries);  // every entry once, in order
    // Frames are filled: each but the last could not have taken the next entry.
    std::size_t idx = 0;
    for (std::size_t k = 0; k + 1 < frames.size(); ++k) {
        idx += joined_of(frames[k], "big").size();
        EXPECT_GT(frames[k]->payload().size() + 1 + entries[idx].size(),
                  parley::proto::max_server_frame);
    }
}

TEST(encode, snapshot_exact_boundary) {
    const std::string head = R"({"type":"presence","channel":"c","joined":[)";
    const std::string tail = R"(],"left":[]})";
    const std::size_t cap = parley::proto::max_server_frame;
    std::vector<std::string> entries;
    std::size_t size = head.size() + tail.size();
    for (int i = 0; i < 1000; ++i) {
        entries.push_back(entry(i, 1000));
        size += entries.back().size() + (i ? 1 : 0);
    }
    ASSERT_LT(size + 100, cap);
    // The last entry brings the payload to exactly the cap.
    const std::size_t base = entry(1000, 0).size();
    const std::size_t pad = cap - size - 1 - base;
    entries.push_back(entry(1000, pad));
    {
        encoder e;
        auto frames = snapshot(e, "c", entries);
        ASSERT_EQ(frames.size(), 1u);
        EXPECT_EQ(frames[0]->payload().size(), cap);
        EXPECT_EQ(joined_of(frames[0], "c").size(), entries.size());
        parsed_frame p = parse_wire(frames[0]->wire());
        EXPECT_EQ(p.header, 10u);
        EXPECT_EQ(p.length, cap);
    }
    // One byte more and the last entry moves to a second frame.
    entries.back() = entry(1000, pad + 1);
    {
        encoder e;
        auto frames = snapshot(e, "c", entries);
        ASSERT_EQ(frames.size(), 2u);
        EXPECT_LT(frames[0]->payload().size(), cap);
        auto j1 = joined_of(frames[0], "c");
        auto j2 = joined_of(frames[1], "c");
        EXPECT_EQ(j1.size(), 1000u);
        ASSERT_EQ(j2.size(), 1u);
        EXPECT_EQ(j2[0], entries.back());
    }
}

TEST(encode, snapshot_encoder_is_reusable) {
    encoder e;
    std::vector<std::string> big;
    for (int i = 0; i < 1200; ++i) big.push_back(entry(i, 1000));
    auto frames = snapshot(e, "a", big);
    EXPECT_GE(frames.size(), 2u);
    auto again = snapshot(e, "b", {R"({"peerId":"x"})"});
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(joined_of(again[0], "b"), std::vector<std::string>{R"({"peerId":"x"})"});
    auto ack = e.ack("\"r\"");
    EXPECT_EQ(text_members(ack), (M{{"type", "\"ack\""}, {"requestId", "\"r\""}}));
}
