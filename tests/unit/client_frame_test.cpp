// proto/client_frame: envelope validation of PROTOCOL.md section 5.2 and the frame-local rules of
// the section 6 tables, in their order (the first failing rule decides the error code).
#include <gtest/gtest.h>

#include <string>

#include "parley/codes.hpp"
#include "proto/client_frame.hpp"

using parley::error_code;
using parley::proto::client_frame;
using parley::proto::frame_decoder;
using parley::proto::frame_error;
using parley::proto::frame_type;

namespace {

struct decoded {
    bool ok = false;
    client_frame f;
    frame_error err;
};

// Decodes with a decoder that lives for the duration of the test (views stay valid until the
// decoder's next call).
class client_frame_test : public ::testing::Test {
protected:
    frame_decoder dec{65536};
    client_frame f;
    frame_error err;

    // The frame text is kept alive: the decoded views point into it.
    std::string text_;
    bool decode(std::string_view text) {
        text_.assign(text);
        return dec.decode(text_, f, err);
    }

    // Expects a failure with `code` and the given requestId text ("" = none).
    void expect_error(std::string_view text, error_code code, std::string_view rid = "") {
        SCOPED_TRACE(std::string(text.substr(0, 200)));
        ASSERT_FALSE(decode(text));
        EXPECT_EQ(parley::to_string(err.code), parley::to_string(code));
        EXPECT_EQ(err.request_id_json, rid);
        EXPECT_FALSE(err.message.empty());
    }
};

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

// ---- §5.2 step 1: parse ----------------------------------------------------------------------

TEST_F(client_frame_test, not_json_is_malformed_without_request_id) {
    expect_error("not json", error_code::malformed_message);
    expect_error("", error_code::malformed_message);
    expect_error("{\"type\":\"ping\"", error_code::malformed_message);
    expect_error("{\"type\":\"ping\",\"requestId\":\"r\",}", error_code::malformed_message);
    expect_error("{\"type\":\"ping\"} x", error_code::malformed_message);
    expect_error("{\"type\":\"subscribe\",\"requestId\":\"r\",\"channel\":\"a\",\"x\":01}",
                 error_code::malformed_message);
}

TEST_F(client_frame_test, raw_control_character_is_malformed_json) {
    expect_error("{\"type\":\"subscribe\",\"requestId\":\"r\",\"channel\":\"a\x01\"}",
                 error_code::malformed_message);
}

TEST_F(client_frame_test, top_level_non_object_is_malformed) {
    for (const char* t : {"[]", "[{\"type\":\"ping\"}]", "\"ping\"", "1", "null", "true"}) {
        expect_error(t, error_code::malformed_message);
    }
}

TEST_F(client_frame_test, depth_limit) {
    // The frame object is level 1: a member may nest 63 more levels.
    EXPECT_TRUE(decode("{\"type\":\"ping\",\"x\":" + nested(63) + "}"));
    expect_error("{\"type\":\"ping\",\"requestId\":\"r\",\"x\":" + nested(64) + "}",
                 error_code::malformed_message);
    std::string data64 = "{\"type\":\"publish\",\"channel\":\"c\",\"data\":" + nested(63) + "}";
    ASSERT_TRUE(decode(data64));
    EXPECT_EQ(f.data, nested(63));
    expect_error("{\"type\":\"publish\",\"channel\":\"c\",\"requestId\":\"r\",\"data\":" +
                     nested(64) + "}",
                 error_code::malformed_message);
}

TEST_F(client_frame_test, duplicate_top_level_members) {
    expect_error(R"({"type":"ping","type":"ping"})", error_code::malformed_message);
    expect_error(R"({"type":"subscribe","requestId":"r","requestId":"r","channel":"a"})",
                 error_code::malformed_message);
    expect_error(R"({"type":"publish","requestId":"r","channel":"a","data":1,"data":2})",
                 error_code::malformed_message);
    // Duplicates after decoding escapes.
    expect_error(R"({"type":"ping","typ\u0065":"ping"})", error_code::malformed_message);
    expect_error(R"({"requestId":"r","type":"publish","channel":"a","data":1,"d\u0061ta":2})",
                 error_code::malformed_message);
    // Duplicate unknown members count too.
    expect_error(R"({"type":"ping","x":1,"x":2})", error_code::malformed_message);
    // Many members (a different code path for the comparison).
    expect_error(
        R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"type":"ping","a":0})",
        error_code::malformed_message);
    EXPECT_TRUE(decode(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"type":"ping"})"));
    // Nested duplicates are not top-level duplicates.
    EXPECT_TRUE(decode(R"({"type":"ping","x":{"a":1,"a":2}})"));
    EXPECT_TRUE(decode(R"({"type":"publish","channel":"c","data":{"k":1,"k":2}})"));
    EXPECT_EQ(f.data, R"({"k":1,"k":2})");
}

TEST_F(client_frame_test, escaped_member_names_are_decoded) {
    ASSERT_TRUE(decode(R"({"t\u0079pe":"publish","ch\u0061nnel":"room","d\u0061ta":1,"requestId":"r"})"));
    EXPECT_EQ(f.type, frame_type::publish);
    EXPECT_EQ(f.channel, "room");
    EXPECT_EQ(f.data, "1");
    EXPECT_EQ(f.request_id_json, "\"r\"");
}

TEST(client_frame, two_escaped_member_names_minimal) {
    // Smallest case: the second escaped name makes the decoder's key buffers reallocate.
    frame_decoder dec(65536);
    client_frame f;
    frame_error err;
    EXPECT_TRUE(dec.decode(R"({"t\u0079pe":"ping","\u0078":1})", f, err));
    EXPECT_EQ(f.type, frame_type::ping);
}

TEST(client_frame, escaped_member_names_on_a_fresh_decoder) {
    // Several escaped names in the first frame a decoder sees.
    frame_decoder dec(65536);
    client_frame f;
    frame_error err;
    ASSERT_TRUE(dec.decode(
        R"({"\u0074ype":"send","\u0074o":"bob","\u0064ata":[1],"\u0072equestId":"q"})", f, err));
    EXPECT_EQ(f.type, frame_type::send);
    EXPECT_EQ(f.to, "bob");
    EXPECT_EQ(f.data, "[1]");
    EXPECT_EQ(f.request_id_json, "\"q\"");

    frame_decoder dec2(65536);
    EXPECT_FALSE(dec2.decode(R"({"\u0061":1,"\u0062":2,"\u0063":3,"\u0061":4,"type":"ping"})", f,
                             err));
    EXPECT_EQ(err.code, error_code::malformed_message);
    frame_decoder dec3(65536);
    EXPECT_TRUE(dec3.decode(R"({"\u0061":1,"\u0062":2,"\u0063":3,"\u0064":4,"type":"ping"})", f,
                            err));
}

// ---- §5.2 step 2: requestId ------------------------------------------------------------------

TEST_F(client_frame_test, request_id_must_be_a_string) {
    for (const char* rid : {"1", "null", "true", "{}", "[\"r\"]"}) {
        expect_error(std::string(R"({"type":"subscribe","channel":"a","requestId":)") + rid + "}",
                     error_code::malformed_message);
        expect_error(std::string(R"({"type":"ping","requestId":)") + rid + "}",
                     error_code::malformed_message);
    }
}

TEST_F(client_frame_test, request_id_length_boundary) {
    const std::string id128(128, 'r');
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"a","requestId":")" + id128 + "\"}"));
    EXPECT_EQ(f.request_id_json, "\"" + id128 + "\"");
    expect_error(R"({"type":"subscribe","channel":"a","requestId":")" + std::string(129, 'r') + "\"}",
                 error_code::malformed_message);
    // Bytes of UTF-8: 64 x U+00E9 is 128 bytes, 65 x is 130.
    std::string e64;
    for (int i = 0; i < 64; ++i) e64 += "\xc3\xa9";
    EXPECT_TRUE(decode(R"({"type":"ping","requestId":")" + e64 + "\"}"));
    expect_error(R"({"type":"ping","requestId":")" + e64 + "\xc3\xa9\"}",
                 error_code::malformed_message);
    EXPECT_TRUE(decode(R"({"type":"ping","requestId":""})"));
}

TEST_F(client_frame_test, request_id_is_echoed_verbatim) {
    ASSERT_TRUE(decode(R"({"type":"unsubscribe","channel":"a","requestId":"a\"b\u00e9\/"})"));
    EXPECT_EQ(f.request_id_json, R"("a\"b\u00e9\/")");
    expect_error(R"({"requestId" : "x\ty\\" , "type":"nope"})", error_code::unknown_type,
                 R"("x\ty\\")");
}

TEST_F(client_frame_test, request_id_checked_before_type) {
    expect_error(R"({"requestId":5})", error_code::malformed_message);
    expect_error(R"({"type":"bogus","requestId":5})", error_code::malformed_message);
    expect_error(R"({"type":7,"requestId":")" + std::string(129, 'x') + "\"}",
                 error_code::malformed_message);
}

// ---- §5.2 steps 3-4: type --------------------------------------------------------------------

TEST_F(client_frame_test, type_must_be_a_string) {
    expect_error(R"({})", error_code::malformed_message);
    expect_error(R"({"requestId":"r"})", error_code::malformed_message, R"("r")");
    expect_error(R"({"type":1,"requestId":"r"})", error_code::malformed_message, R"("r")");
    expect_error(R"({"type":null,"requestId":"r"})", error_code::malformed_message, R"("r")");
    expect_error(R"({"type":["ping"],"requestId":"r"})", error_code::malformed_message, R"("r")");
    expect_error(R"({"type":{"a":1}})", error_code::malformed_message);
}

TEST_F(client_frame_test, unknown_type) {
    for (const char* t : {"Subscribe", "PING", "pong", "", "welcome", "ack", "message", " ping",
                          "subscribe "}) {
        expect_error(std::string(R"({"type":")") + t + R"(","requestId":"r"})",
                     error_code::unknown_type, R"("r")");
    }
    expect_error(R"({"type":"nope"})", error_code::unknown_type);
    // Unknown type wins over anything type-specific.
    expect_error(R"({"type":"join","channel":5,"to":"","requestId":"r"})", error_code::unknown_type,
                 R"("r")");
}

TEST_F(client_frame_test, type_with_escapes) {
    ASSERT_TRUE(decode(R"({"type":"p\u0069ng"})"));
    EXPECT_EQ(f.type, frame_type::ping);
    ASSERT_TRUE(decode(R"({"type":"\u0073ubscribe","channel":"c"})"));
    EXPECT_EQ(f.type, frame_type::subscribe);
}

// ---- ping ------------------------------------------------------------------------------------

TEST_F(client_frame_test, ping) {
    ASSERT_TRUE(decode(R"({"type":"ping"})"));
    EXPECT_EQ(f.type, frame_type::ping);
    ASSERT_TRUE(decode(R"(  {"type":"ping","requestId":"r","channel":5,"data":1,"to":7} )"));
    EXPECT_EQ(f.type, frame_type::ping);
    ASSERT_TRUE(decode("{\"type\":\"ping\",\"includeSenderMetadata\":\"x\"}"));
}

// ---- subscribe (§6.1) ------------------------------------------------------------------------

TEST_F(client_frame_test, subscribe_exact) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"room-1","requestId":"3f0c"})"));
    EXPECT_EQ(f.type, frame_type::subscribe);
    EXPECT_EQ(f.channel, "room-1");
    EXPECT_FALSE(f.is_pattern);
    EXPECT_FALSE(f.compiled.has_value());
    EXPECT_FALSE(f.include_sender_metadata);
    EXPECT_EQ(f.request_id_json, "\"3f0c\"");
}

TEST_F(client_frame_test, subscribe_include_sender_metadata) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"a","includeSenderMetadata":true})"));
    EXPECT_TRUE(f.include_sender_metadata);
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"a","includeSenderMetadata":false})"));
    EXPECT_FALSE(f.include_sender_metadata);
    for (const char* v : {"\"true\"", "1", "0", "null", "[]", "{}"}) {
        expect_error(std::string(R"({"type":"subscribe","channel":"a","requestId":"r","includeSenderMetadata":)") +
                         v + "}",
                     error_code::malformed_message, R"("r")");
    }
}

TEST_F(client_frame_test, subscribe_include_sender_metadata_checked_before_channel) {
    expect_error(R"({"type":"subscribe","includeSenderMetadata":1,"requestId":"r"})",
                 error_code::malformed_message, R"("r")");
    expect_error(R"({"type":"subscribe","channel":"a***","includeSenderMetadata":"x"})",
                 error_code::malformed_message);
    expect_error(R"({"type":"subscribe","channel":"_metered/x","includeSenderMetadata":null})",
                 error_code::malformed_message);
}

TEST_F(client_frame_test, include_sender_metadata_ignored_elsewhere) {
    EXPECT_TRUE(decode(R"({"type":"unsubscribe","channel":"a","includeSenderMetadata":5})"));
    EXPECT_TRUE(decode(R"({"type":"publish","channel":"a","data":1,"includeSenderMetadata":5})"));
    EXPECT_TRUE(decode(R"({"type":"send","to":"b","data":1,"includeSenderMetadata":5})"));
}

TEST_F(client_frame_test, subscribe_invalid_channel) {
    for (const char* ch : {R"(5)", R"(null)", R"(["a"])", R"("")", R"("a\u0000")", R"("a\u001f")",
                           R"("a\u007f")", R"("a\u0085")", R"("a\u009F")",
                           R"("a\ud800")", R"("\udc00x")", R"("a***")", R"("a\\b*")",
                           R"("a\\*b")", R"("*\\")"}) {
        expect_error(std::string(R"({"type":"subscribe","requestId":"r","channel":)") + ch + "}",
                     error_code::invalid_channel, R"("r")");
    }
    expect_error(R"({"type":"subscribe","requestId":"r"})", error_code::invalid_channel, R"("r")");
}

TEST_F(client_frame_test, subscribe_channel_length_boundary) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":")" + std::string(256, 'c') + "\"}"));
    EXPECT_EQ(f.channel.size(), 256u);
    expect_error(R"({"type":"subscribe","channel":")" + std::string(257, 'c') + "\"}",
                 error_code::invalid_channel);
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":")" + std::string(254, 'c') + "**\"}"));
    EXPECT_TRUE(f.is_pattern);
    expect_error(R"({"type":"subscribe","channel":")" + std::string(255, 'c') + "**\"}",
                 error_code::invalid_channel);
    // Length is of the decoded name: 256 escaped bytes are fine.
    std::string esc;
    for (int i = 0; i < 256; ++i) esc += "\\u0061";
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":")" + esc + "\"}"));
    EXPECT_EQ(f.channel, std::string(256, 'a'));
}

TEST_F(client_frame_test, subscribe_channel_escapes_are_decoded) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"ro\u006fm\/1"})"));
    EXPECT_EQ(f.channel, "room/1");
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"\ud83d\ude00"})"));
    EXPECT_EQ(f.channel, "\xf0\x9f\x98\x80");
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"c\\d"})"));
    EXPECT_EQ(f.channel, "c\\d");
    EXPECT_FALSE(f.is_pattern);
}

TEST_F(client_frame_test, subscribe_pattern) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"room-*","requestId":"r"})"));
    EXPECT_TRUE(f.is_pattern);
    ASSERT_TRUE(f.compiled.has_value());
    EXPECT_EQ(f.compiled->text(), "room-*");
    EXPECT_EQ(f.channel, "room-*");
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"**"})"));
    EXPECT_TRUE(f.is_pattern);
    // `\\*` decodes to `\\*`: an escaped backslash then an unescaped star.
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"c\\\\*"})"));
    EXPECT_EQ(f.channel, "c\\\\*");
    EXPECT_TRUE(f.is_pattern);
    EXPECT_TRUE(f.compiled->matches("c\\x"));
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"a\\**"})"));
    EXPECT_TRUE(f.is_pattern);
    EXPECT_EQ(f.compiled->literal_prefix(), "a*");
    // A pattern that decodes from escapes.
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"room-\u002a"})"));
    EXPECT_TRUE(f.is_pattern);
}

TEST_F(client_frame_test, subscribe_reserved) {
    for (const char* ch : {"_metered/x", "_internal/a", "_system/", "_SYSTEM/x", "_Metered/*",
                           "_internal/**", "_system/a/*"}) {
        expect_error(std::string(R"({"type":"subscribe","requestId":"r","channel":")") + ch + "\"}",
                     error_code::channel_reserved, R"("r")");
    }
    // Reserved is judged on lit(P).
    EXPECT_TRUE(decode(R"({"type":"subscribe","channel":"_intern*"})"));
    EXPECT_TRUE(decode(R"({"type":"subscribe","channel":"_metered*"})"));
    EXPECT_TRUE(decode(R"({"type":"subscribe","channel":"*/_metered/x"})"));
    EXPECT_TRUE(decode(R"({"type":"subscribe","channel":"_metered"})"));
    // invalid_channel (rule 1) beats channel_reserved (rule 2).
    expect_error(R"({"type":"subscribe","channel":"_metered/\u0001"})", error_code::invalid_channel);
    expect_error(R"({"type":"subscribe","channel":"_metered/***"})", error_code::invalid_channel);
    // Escaped reserved names are still reserved.
    expect_error(R"({"type":"subscribe","channel":"\u005fmetered/x"})", error_code::channel_reserved);
}

// ---- unsubscribe (§6.2) ----------------------------------------------------------------------

TEST_F(client_frame_test, unsubscribe) {
    ASSERT_TRUE(decode(R"({"type":"unsubscribe","channel":"room-1","requestId":"9a1d"})"));
    EXPECT_EQ(f.type, frame_type::unsubscribe);
    EXPECT_EQ(f.channel, "room-1");
    EXPECT_EQ(f.request_id_json, "\"9a1d\"");
    // Reserved names are not checked on unsubscribe.
    ASSERT_TRUE(decode(R"({"type":"unsubscribe","channel":"_metered/x"})"));
    EXPECT_EQ(f.channel, "_metered/x");
    ASSERT_TRUE(decode(R"({"type":"unsubscribe","channel":"a/*"})"));
    EXPECT_TRUE(f.is_pattern);
    expect_error(R"({"type":"unsubscribe","channel":"a***","requestId":"r"})",
                 error_code::invalid_channel, R"("r")");
    expect_error(R"({"type":"unsubscribe"})", error_code::invalid_channel);
    expect_error(R"({"type":"unsubscribe","channel":""})", error_code::invalid_channel);
    expect_error(R"({"type":"unsubscribe","channel":1})", error_code::invalid_channel);
}

// ---- publish (§6.3) --------------------------------------------------------------------------

TEST_F(client_frame_test, publish_data_is_verbatim) {
    const std::string data = "{ \"b\" : [1, 2.50, \"\\u00e9\", 1e400, 123456789012345678901] ,\n\"c\":null }";
    ASSERT_TRUE(decode("{\"type\":\"publish\",\"channel\":\"room-1\",\"data\": " + data +
                       " ,\"requestId\":\"c7e2\"}"));
    EXPECT_EQ(f.type, frame_type::publish);
    EXPECT_EQ(f.channel, "room-1");
    EXPECT_EQ(f.data, data);
    EXPECT_EQ(f.request_id_json, "\"c7e2\"");
    EXPECT_FALSE(f.is_pattern);
}

TEST_F(client_frame_test, publish_data_kinds) {
    struct tc {
        const char* in;
        const char* want;
    } cases[] = {{"null", "null"}, {"\"x\"", "\"x\""}, {"\"\"", "\"\""}, {"0", "0"},
                 {"-1.5E-3", "-1.5E-3"}, {"false", "false"}, {"[]", "[]"}, {"{}", "{}"},
                 {"\"\\ud800\"", "\"\\ud800\""}};
    for (const auto& c : cases) {
        ASSERT_TRUE(decode(std::string(R"({"type":"publish","channel":"c","data":)") + c.in + "}"))
            << c.in;
        EXPECT_EQ(f.data, c.want);
    }
}

TEST_F(client_frame_test, publish_rule_order) {
    // Rule 1: invalid channel (a `*` is never a pattern in publish).
    expect_error(R"({"type":"publish","channel":"room-*","data":1,"requestId":"r"})",
                 error_code::invalid_channel, R"("r")");
    expect_error(R"({"type":"publish","channel":"a\\*b","data":1})", error_code::invalid_channel);
    expect_error(R"({"type":"publish","channel":"**","data":1})", error_code::invalid_channel);
    expect_error(R"({"type":"publish","data":1})", error_code::invalid_channel);
    expect_error(R"({"type":"publish","channel":3,"data":1})", error_code::invalid_channel);
    expect_error(R"({"type":"publish","channel":"a\ud800","data":1})", error_code::invalid_channel);
    // Rule 1 before rule 3.
    expect_error(R"({"type":"publish","channel":""})", error_code::invalid_channel);
    // Rule 2.
    expect_error(R"({"type":"publish","channel":"_system/x","data":1,"requestId":"r"})",
                 error_code::channel_reserved, R"("r")");
    // Rule 2 before rule 3.
    expect_error(R"({"type":"publish","channel":"_internal/x"})", error_code::channel_reserved);
    // Rule 3.
    expect_error(R"({"type":"publish","channel":"c","requestId":"r"})", error_code::missing_data,
                 R"("r")");
    expect_error(R"({"type":"publish","channel":"c","Data":1})", error_code::missing_data);
}

TEST(client_frame, publish_max_message_size_boundary) {
    frame_decoder dec(10);
    client_frame f;
    frame_error err;
    ASSERT_TRUE(dec.decode(R"({"type":"publish","channel":"c","data":1234567890})", f, err));
    EXPECT_EQ(f.data, "1234567890");
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"c","data":12345678901,"requestId":"r"})",
                            f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
    EXPECT_EQ(err.request_id_json, "\"r\"");
    // The text as received counts, quotes, escapes and whitespace included.
    ASSERT_TRUE(dec.decode(R"({"type":"publish","channel":"c","data":"12345678"})", f, err));
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"c","data":"123456789"})", f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"c","data":"\u00e9\u00e9"})", f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
    ASSERT_TRUE(dec.decode(R"({"type":"publish","channel":"c","data":[1, 2, 3] })", f, err));
    EXPECT_EQ(f.data, "[1, 2, 3]");
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"c","data":[1,  2,  3]})", f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
    // Earlier rules win over payload_too_large.
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"_metered/x","data":12345678901})", f, err));
    EXPECT_EQ(err.code, error_code::channel_reserved);
    ASSERT_FALSE(dec.decode(R"({"type":"publish","channel":"a*","data":12345678901})", f, err));
    EXPECT_EQ(err.code, error_code::invalid_channel);
    // The default: exactly 65536 bytes of data pass, 65537 do not.
    frame_decoder big(65536);
    std::string d65536 = "\"" + std::string(65534, 'x') + "\"";
    const std::string frame65536 = R"({"type":"publish","channel":"c","data":)" + d65536 + "}";
    ASSERT_TRUE(big.decode(frame65536, f, err));
    EXPECT_EQ(f.data.size(), 65536u);
    ASSERT_FALSE(big.decode(R"({"type":"publish","channel":"c","data":")" + std::string(65535, 'x') +
                                "\"}",
                            f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
    EXPECT_EQ(big.max_message_size(), 65536u);
}

// ---- send (§6.4) -----------------------------------------------------------------------------

TEST_F(client_frame_test, send) {
    ASSERT_TRUE(decode(
        R"({"type":"send","to":"bob","data":{"type":"rtc-ice","candidate":null},"requestId":"51b8"})"));
    EXPECT_EQ(f.type, frame_type::send);
    EXPECT_EQ(f.to, "bob");
    EXPECT_EQ(f.data, R"({"type":"rtc-ice","candidate":null})");
    EXPECT_EQ(f.request_id_json, "\"51b8\"");
    ASSERT_TRUE(decode(R"({"type":"send","to":"b\u006fb","data":null})"));
    EXPECT_EQ(f.to, "bob");
    EXPECT_EQ(f.data, "null");
    // `channel` is not a member of send: even an invalid one is ignored.
    ASSERT_TRUE(decode(R"({"type":"send","to":"x","data":1,"channel":"***"})"));
}

TEST_F(client_frame_test, send_invalid_peer_id) {
    for (const char* to : {R"(5)", R"(null)", R"("")", R"("\u00e9")", "\"\xc3\xa9\"",
                           R"("a\u0001")", R"("a\u007f")", R"("a\ud800")", R"(["bob"])"}) {
        expect_error(std::string(R"({"type":"send","requestId":"r","data":1,"to":)") + to + "}",
                     error_code::invalid_peer_id, R"("r")");
    }
    expect_error(R"({"type":"send","data":1})", error_code::invalid_peer_id);
    ASSERT_TRUE(decode(R"({"type":"send","data":1,"to":")" + std::string(128, 'p') + "\"}"));
    expect_error(R"({"type":"send","data":1,"to":")" + std::string(129, 'p') + "\"}",
                 error_code::invalid_peer_id);
}

TEST(client_frame, send_rule_order) {
    frame_decoder dec(4);
    client_frame f;
    frame_error err;
    // Rule 1 before rule 2 and 3.
    ASSERT_FALSE(dec.decode(R"({"type":"send","to":""})", f, err));
    EXPECT_EQ(err.code, error_code::invalid_peer_id);
    ASSERT_FALSE(dec.decode(R"({"type":"send","data":123456})", f, err));
    EXPECT_EQ(err.code, error_code::invalid_peer_id);
    // Rule 2.
    ASSERT_FALSE(dec.decode(R"({"type":"send","to":"bob","requestId":"r"})", f, err));
    EXPECT_EQ(err.code, error_code::missing_data);
    EXPECT_EQ(err.request_id_json, "\"r\"");
    // Rule 3 with its boundary.
    ASSERT_TRUE(dec.decode(R"({"type":"send","to":"bob","data":1234})", f, err));
    ASSERT_FALSE(dec.decode(R"({"type":"send","to":"bob","data":12345})", f, err));
    EXPECT_EQ(err.code, error_code::payload_too_large);
}

// ---- decoder reuse ---------------------------------------------------------------------------

TEST_F(client_frame_test, decoder_reuse_resets_the_output) {
    ASSERT_TRUE(decode(R"({"type":"subscribe","channel":"a/*","includeSenderMetadata":true,"requestId":"r"})"));
    EXPECT_TRUE(f.is_pattern);
    ASSERT_TRUE(decode(R"({"type":"publish","channel":"b","data":2})"));
    EXPECT_FALSE(f.is_pattern);
    EXPECT_FALSE(f.compiled.has_value());
    EXPECT_FALSE(f.include_sender_metadata);
    EXPECT_TRUE(f.request_id_json.empty());
    EXPECT_EQ(f.channel, "b");
    ASSERT_FALSE(decode(R"({"type":"x","requestId":"r"})"));
    EXPECT_EQ(err.request_id_json, "\"r\"");
    ASSERT_FALSE(decode(R"({"type":"x"})"));
    EXPECT_TRUE(err.request_id_json.empty());
    ASSERT_TRUE(decode(R"({"type":"send","to":"b\u006fb","data":1})"));
    ASSERT_TRUE(decode(R"({"type":"send","to":"c\u0061rol","data":1})"));
    EXPECT_EQ(f.to, "carol");
}
