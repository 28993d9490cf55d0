// proto/json_scan: RFC 8259 validation corners, the depth limit of PROTOCOL.md section 20,
// exact member spans (section 7: `data` is relayed from its first to its last byte), scan_array
// and string unescaping.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/json_scan.hpp"

namespace json = parley::json;
using json::scan_result;
using json::value_kind;

namespace {

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// `{"a":{"a":...{}...}}` with `depth` objects in total.
std::string nested_objects(int depth) {
    std::string s;
    for (int i = 1; i < depth; ++i) {
        s += "{\"a\":";
    }
    s += "{}";
    s += std::string(depth - 1, '}');
    return s;
}

}  // namespace

// ---- numbers ---------------------------------------------------------------------------------

TEST(json_scan, numbers_valid) {
    for (const char* t : {"0", "-0", "1", "-1", "10", "1234567890", "1.5", "-1.5", "0.5", "-0.5",
                          "0.000", "1e5", "1E5", "1e+5", "1e-5", "1E-05", "0e0", "-0E+0",
                          "1.0e10", "12.34e-56"}) {
        EXPECT_TRUE(json::validate(t)) << t;
    }
}

TEST(json_scan, big_integers_and_huge_exponents_are_accepted) {
    EXPECT_TRUE(json::validate("123456789012345678901234567890123456789012345678901234567890"));
    EXPECT_TRUE(json::validate("-99999999999999999999999999999999"));
    EXPECT_TRUE(json::validate("1e400"));
    EXPECT_TRUE(json::validate("-1e400"));
    EXPECT_TRUE(json::validate("1e-400"));
    EXPECT_TRUE(json::validate("[1e400,18446744073709551616]"));
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object("{\"data\":1e400,\"n\":18446744073709551617}", m), scan_result::ok);
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].value, "1e400");
    EXPECT_EQ(m[1].value, "18446744073709551617");
}

TEST(json_scan, numbers_invalid) {
    for (const char* t : {"01", "-01", "00", "007", "-", "--1", "+1", "1.", "-1.", ".5", "-.5",
                          "1.e5", "1e", "1E", "1e+", "1e-", "1e+-1", "0x10", "Infinity",
                          "-Infinity", "NaN", "1.5.5", "1,5", "- 1", "1 2", "1e5.5", "0.e1"}) {
        EXPECT_FALSE(json::validate(t)) << t;
    }
}

TEST(json_scan, numbers_invalid_inside_containers) {
    EXPECT_FALSE(json::validate("[01]"));
    EXPECT_FALSE(json::validate("[1.]"));
    EXPECT_FALSE(json::validate("{\"a\":.5}"));
    EXPECT_FALSE(json::validate("{\"a\":-}"));
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object("{\"a\":01}", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("{\"a\":1.}", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("{\"a\":-}", m), scan_result::syntax_error);
}

// ---- strings ---------------------------------------------------------------------------------

TEST(json_scan, strings_valid_escapes) {
    for (const char* t :
         {R"("")", R"("abc")", R"("\"")", R"("\\")", R"("\/")", R"("\b")", R"("\f")", R"("\n")",
          R"("\r")", R"("\t")", R"("\u0041")", R"("\uABCD")", R"("\uabcd")", R"("\u00e9")",
          R"("\ud83d\ude00")", R"("a\"b\\c\/d\be\ff\ng\rh\ti\u0000j")"}) {
        EXPECT_TRUE(json::validate(t)) << t;
    }
}

TEST(json_scan, lone_surrogate_escapes_are_accepted) {
    EXPECT_TRUE(json::validate(R"("\ud800")"));
    EXPECT_TRUE(json::validate(R"("\udc00")"));
    EXPECT_TRUE(json::validate(R"("\udbff\u0041")"));
    EXPECT_TRUE(json::validate(R"("\ude00\ud83d")"));
    EXPECT_TRUE(json::validate(R"({"a":"\ud800"})"));
}

TEST(json_scan, strings_raw_utf8_and_del_are_accepted) {
    EXPECT_TRUE(json::validate("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""));
    EXPECT_TRUE(json::validate("\"\x7f\""));   // DEL is not a JSON control character
    EXPECT_TRUE(json::validate("\"\xc2\x85\""));  // nor is U+0085
}

TEST(json_scan, strings_reject_every_raw_control_character) {
    for (int c = 0; c < 0x20; ++c) {
        std::string s = "\"a";
        s.push_back(static_cast<char>(c));
        s += "b\"";
        EXPECT_FALSE(json::validate(s)) << "control byte " << c;
        std::vector<json::member> m;
        EXPECT_EQ(json::scan_object("{\"k\":" + s + "}", m), scan_result::syntax_error) << c;
        EXPECT_EQ(json::scan_object("{" + s + ":1}", m), scan_result::syntax_error) << c;
    }
    // Also past the 16-byte fast path.
    std::string longs = "\"" + std::string(40, 'x') + "\n" + std::string(40, 'y') + "\"";
    EXPECT_FALSE(json::validate(longs));
    EXPECT_TRUE(json::validate("\"" + std::string(40, 'x') + "\\n" + std::string(40, 'y') + "\""));
}

TEST(json_scan, strings_invalid) {
    for (const char* t :
         {R"("\x")", R"("\a")", R"("\U0041")", R"("\u12")", R"("\u12G4")", R"("\u")",
          R"("\uZZZZ")", R"("\u-123")", R"("\)", R"("abc)", R"(")", R"('abc')", R"("\ ")",
          R"("\0")"}) {
        EXPECT_FALSE(json::validate(t)) << t;
    }
}

// ---- literals, whitespace, structure ---------------------------------------------------------

TEST(json_scan, literals) {
    EXPECT_TRUE(json::validate("true"));
    EXPECT_TRUE(json::validate("false"));
    EXPECT_TRUE(json::validate("null"));
    for (const char* t : {"tru", "nul", "fals", "True", "NULL", "FALSE", "truex", "nulll",
                          "true false", "t", "undefined", "nan"}) {
        EXPECT_FALSE(json::validate(t)) << t;
    }
}

TEST(json_scan, whitespace) {
    EXPECT_TRUE(json::validate(" \t\n\r{ \t\n\r\"a\" \t\n\r: \t\n\r[ 1 , 2 ] \r\n} \t\n\r"));
    EXPECT_FALSE(json::validate(""));
    EXPECT_FALSE(json::validate(" \t\n\r"));
    EXPECT_FALSE(json::validate("\f{}"));         // form feed is not JSON whitespace
    EXPECT_FALSE(json::validate("{}\v"));
    EXPECT_FALSE(json::validate("\xc2\xa0{}"));   // NBSP
    EXPECT_FALSE(json::validate("[1,\f2]"));
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object("  {  }  ", m), scan_result::ok);
    EXPECT_EQ(json::scan_object("", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("   ", m), scan_result::syntax_error);
}

TEST(json_scan, trailing_garbage) {
    for (const char* t : {"{}x", "{}{}", "[]]", "{}}", "[] []", "1 1", "\"a\"\"b\"", "null,",
                          "{\"a\":1}}", "{\"a\":1},"}) {
        EXPECT_FALSE(json::validate(t)) << t;
    }
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object("{\"a\":1} x", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("{}{}", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("{\"a\":1}}", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("[] x", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("1 2", m), scan_result::syntax_error);
}

TEST(json_scan, structural_errors) {
    for (const char* t :
         {"[", "]", "{", "}", "[1,]", "[,1]", "[1,,2]", "[1 2]", "{,}", "{\"a\":1,}", "{\"a\"}",
          "{\"a\":}", "{a:1}", "{\"a\" 1}", "{\"a\"::1}", "{1:2}", "{\"a\":1 \"b\":2}", "[}",
          "{]", "{\"a\":[1}", "{\"a\":{]}", "[\"a\":1]", "{null:1}", "{'a':1}"}) {
        EXPECT_FALSE(json::validate(t)) << t;
        std::vector<json::member> m;
        EXPECT_EQ(json::scan_object(t, m), scan_result::syntax_error) << t;
    }
}

// ---- depth -----------------------------------------------------------------------------------

TEST(json_scan, depth_limit_arrays) {
    EXPECT_TRUE(json::validate(nested_arrays(1)));
    EXPECT_TRUE(json::validate(nested_arrays(64)));
    EXPECT_FALSE(json::validate(nested_arrays(65)));
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_array(nested_arrays(64), m), scan_result::ok);
    EXPECT_EQ(json::scan_array(nested_arrays(65), m), scan_result::too_deep);
}

TEST(json_scan, depth_limit_objects) {
    std::vector<json::member> m;
    EXPECT_TRUE(json::validate(nested_objects(64)));
    EXPECT_FALSE(json::validate(nested_objects(65)));
    EXPECT_EQ(json::scan_object(nested_objects(1), m), scan_result::ok);
    EXPECT_EQ(json::scan_object(nested_objects(64), m), scan_result::ok);
    EXPECT_EQ(json::scan_object(nested_objects(65), m), scan_result::too_deep);
}

TEST(json_scan, depth_limit_mixed_inside_object) {
    std::vector<json::member> m;
    // The top-level object is level 1, so its member may hold 63 more levels.
    std::string ok = "{\"type\":\"ping\",\"x\":" + nested_arrays(63) + "}";
    std::string deep = "{\"type\":\"ping\",\"x\":" + nested_arrays(64) + "}";
    EXPECT_EQ(json::scan_object(ok, m), scan_result::ok);
    EXPECT_EQ(json::scan_object(deep, m), scan_result::too_deep);
    std::string mixed_ok = "{\"x\":[{\"y\":" + nested_objects(61) + "}]}";  // 1+1+1+61 = 64
    std::string mixed_deep = "{\"x\":[{\"y\":" + nested_objects(62) + "}]}";
    EXPECT_EQ(json::scan_object(mixed_ok, m), scan_result::ok);
    EXPECT_EQ(json::scan_object(mixed_deep, m), scan_result::too_deep);
    // Depth is nesting, not the count of containers: many siblings are fine.
    std::string wide = "{\"x\":[";
    for (int i = 0; i < 1000; ++i) {
        wide += (i ? "," : "") + nested_arrays(10);
    }
    wide += "]}";
    EXPECT_EQ(json::scan_object(wide, m), scan_result::ok);
}

TEST(json_scan, depth_limit_parameter_and_huge_depth) {
    EXPECT_TRUE(json::validate("[[[]]]", 3));
    EXPECT_FALSE(json::validate("[[[]]]", 2));
    EXPECT_TRUE(json::validate("1", 0));
    std::vector<json::member> m;
    EXPECT_EQ(json::scan_object("{}", m, 0), scan_result::too_deep);
    EXPECT_EQ(json::scan_object("{\"a\":[]}", m, 1), scan_result::too_deep);
    EXPECT_EQ(json::scan_object("{\"a\":[]}", m, 2), scan_result::ok);
    // Far beyond any stack: rejected, no crash.
    EXPECT_FALSE(json::validate(std::string(200000, '[')));
    EXPECT_EQ(json::scan_object("{\"a\":" + std::string(200000, '[') + "}", m),
              scan_result::too_deep);
}

// ---- scan_object member spans ----------------------------------------------------------------

TEST(json_scan, member_spans_are_exact) {
    const std::string text =
        " { \"a\" : 1 , \"b\":\"x\\\"y\" ,\"c\" : [1, {\"d\":2} ] ,\"e\":{ } , \"f\":true,"
        "\"g\":null,\"h\":-1.5e3 ,\"i\":false,\"j\" :\t\"\" } ";
    std::vector<json::member> m;
    ASSERT_EQ(json::scan_object(text, m), scan_result::ok);
    ASSERT_EQ(m.size(), 9u);
    struct want {
        const char* key;
        value_kind kind;
        const char* value;
    };
    const want w[] = {{"a", value_kind::number, "1"},
                      {"b", value_kind::string, "\"x\\\"y\""},
                      {"c", value_kind::array, "[1, {\"d\":2} ]"},
                      {"e", value_kind::object, "{ }"},
                      {"f", value_kind::boolean, "true"},
                      {"g", value_kind::null, "null"},
                      {"h", value_kind::number, "-1.5e3"},
                      {"i", value_kind::boolean, "false"},
                      {"j", value_kind::string, "\"\""}};
    for (std::size_t i = 0; i < std::size(w); ++i) {
        EXPECT_EQ(m[i].raw_key, w[i].key) << i;
        EXPECT_FALSE(m[i].key_has_escape) << i;
        EXPECT_EQ(m[i].kind, w[i].kind) << i;
        EXPECT_EQ(m[i].value, w[i].value) << i;
        // The span points into the scanned text.
        EXPECT_GE(m[i].value.data(), text.data());
        EXPECT_LE(m[i].value.data() + m[i].value.size(), text.data() + text.size());
    }
}

TEST(json_scan, member_span_keeps_inner_whitespace_and_escapes) {
    const std::string data = "{ \"text\" : \"h\\u00e9\\n\" ,\n \"n\" : [ 1.50 , 2E+3 ] }";
    const std::string text = "{\"type\":\"publish\",\"data\":" + data + "\t,\"channel\":\"c\"}";
    std::vector<json::member> m;
    ASSERT_EQ(json::scan_object(text, m), scan_result::ok);
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[1].raw_key, "data");
    EXPECT_EQ(m[1].value, data);
    EXPECT_EQ(m[2].value, "\"c\"");
}

TEST(json_scan, keys_with_escapes_are_flagged) {
    std::vector<json::member> m;
    ASSERT_EQ(json::scan_object(R"({"t\u0079pe":1,"plain":2,"a\"b":3,"\\":4,"":5})", m),
              scan_result::ok);
    ASSERT_EQ(m.size(), 5u);
    EXPECT_EQ(m[0].raw_key, "t\\u0079pe");
    EXPECT_TRUE(m[0].key_has_escape);
    EXPECT_EQ(m[1].raw_key, "plain");
    EXPECT_FALSE(m[1].key_has_escape);
    EXPECT_EQ(m[2].raw_key, "a\\\"b");
    EXPECT_TRUE(m[2].key_has_escape);
    EXPECT_EQ(m[3].raw_key, "\\\\");
    EXPECT_TRUE(m[3].key_has_escape);
    EXPECT_EQ(m[4].raw_key, "");
    EXPECT_FALSE(m[4].key_has_escape);
}

TEST(json_scan, duplicate_keys_are_reported_not_rejected) {
    std::vector<json::member> m;
    ASSERT_EQ(json::scan_object(R"({"a":1,"a":2})", m), scan_result::ok);
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].value, "1");
    EXPECT_EQ(m[1].value, "2");
}

TEST(json_scan, duplicate_names_found_among_many_members) {
    // A JWT head may hold thousands of members; duplicates are found wherever they are (and the
    // check is not quadratic: 20 000 members here).
    std::string text = "{";
    for (int i = 0; i < 20000; ++i) {
        text += (i ? ",\"m" : "\"m") + std::to_string(i) + "\":0";
    }
    json::object o;
    ASSERT_TRUE(json::parse_object(text + "}", o));
    EXPECT_FALSE(o.has_duplicate_names());
    ASSERT_TRUE(json::parse_object(text + ",\"m7\":1}", o));
    EXPECT_TRUE(o.has_duplicate_names());
    // Escaped spellings of one name are the same name.
    ASSERT_TRUE(json::parse_object(R"({"ab":1,"x":2,"a\u0062":3})", o));
    EXPECT_TRUE(o.has_duplicate_names());
}

TEST(json_scan, scan_object_non_objects) {
    std::vector<json::member> m;
    m.push_back({});
    for (const char* t : {"[]", "[1,2]", "1", "\"s\"", "null", "true", " 0 "}) {
        EXPECT_EQ(json::scan_object(t, m), scan_result::not_object) << t;
        EXPECT_TRUE(m.empty()) << t;
    }
    EXPECT_EQ(json::scan_object("[", m), scan_result::syntax_error);
    EXPECT_EQ(json::scan_object("01", m), scan_result::syntax_error);
}

TEST(json_scan, scan_object_clears_previous_members) {
    std::vector<json::member> m;
    ASSERT_EQ(json::scan_object(R"({"a":1,"b":2})", m), scan_result::ok);
    ASSERT_EQ(json::scan_object(R"({"c":3})", m), scan_result::ok);
    ASSERT_EQ(m.size(), 1u);
    EXPECT_EQ(m[0].raw_key, "c");
    ASSERT_EQ(json::scan_object("{}", m), scan_result::ok);
    EXPECT_TRUE(m.empty());
}

// ---- scan_array ------------------------------------------------------------------------------

TEST(json_scan, scan_array_elements) {
    std::vector<json::member> e;
    ASSERT_EQ(json::scan_array(R"( [1, "a\"", {"x":[]} , [ ], null,true ,-0.5e1] )", e),
              scan_result::ok);
    ASSERT_EQ(e.size(), 7u);
    EXPECT_EQ(e[0].value, "1");
    EXPECT_EQ(e[0].kind, value_kind::number);
    EXPECT_EQ(e[1].value, "\"a\\\"\"");
    EXPECT_EQ(e[1].kind, value_kind::string);
    EXPECT_EQ(e[2].value, "{\"x\":[]}");
    EXPECT_EQ(e[2].kind, value_kind::object);
    EXPECT_EQ(e[3].value, "[ ]");
    EXPECT_EQ(e[3].kind, value_kind::array);
    EXPECT_EQ(e[4].kind, value_kind::null);
    EXPECT_EQ(e[5].kind, value_kind::boolean);
    EXPECT_EQ(e[6].value, "-0.5e1");
    for (const auto& x : e) {
        EXPECT_TRUE(x.raw_key.empty());
    }
}

TEST(json_scan, scan_array_errors) {
    std::vector<json::member> e;
    EXPECT_EQ(json::scan_array("[]", e), scan_result::ok);
    EXPECT_TRUE(e.empty());
    EXPECT_EQ(json::scan_array(" [ ] ", e), scan_result::ok);
    EXPECT_EQ(json::scan_array("{}", e), scan_result::not_object);
    EXPECT_EQ(json::scan_array("\"a\"", e), scan_result::not_object);
    EXPECT_EQ(json::scan_array("[1,]", e), scan_result::syntax_error);
    EXPECT_EQ(json::scan_array("[1] 2", e), scan_result::syntax_error);
    EXPECT_EQ(json::scan_array("[01]", e), scan_result::syntax_error);
    EXPECT_EQ(json::scan_array("[", e), scan_result::syntax_error);
    EXPECT_EQ(json::scan_array("", e), scan_result::syntax_error);
}

// ---- unescape --------------------------------------------------------------------------------

TEST(json_scan, unescape_simple_escapes) {
    std::string out;
    EXPECT_EQ(json::unescape(R"(plain)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "plain");
    out.clear();
    EXPECT_EQ(json::unescape(R"(a\"b\\c\/d\be\ff\ng\rh\ti)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "a\"b\\c/d\be\ff\ng\rh\ti");
}

TEST(json_scan, unescape_unicode_escapes) {
    std::string out;
    EXPECT_EQ(json::unescape(R"(\u0041\u00e9\u00E9\u20ac\uFFFF)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
    out.clear();
    EXPECT_EQ(json::unescape(R"(a\u0000b)", out), json::unescape_result::ok);
    EXPECT_EQ(out, std::string("a\0b", 3));
    out.clear();
    EXPECT_EQ(json::unescape(R"(\u007f\u0080\u07ff\u0800)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80");
}

TEST(json_scan, unescape_surrogate_pairs) {
    std::string out;
    EXPECT_EQ(json::unescape(R"(\ud83d\ude00)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "\xf0\x9f\x98\x80");
    out.clear();
    EXPECT_EQ(json::unescape(R"(x\uD800\uDC00y\uDBFF\uDFFF)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "x\xf0\x90\x80\x80y\xf4\x8f\xbf\xbf");
}

TEST(json_scan, unescape_reports_lone_surrogates) {
    const std::string fffd = "\xef\xbf\xbd";
    struct tc {
        const char* raw;
        std::string want;
    } cases[] = {
        {R"(\ud800)", fffd},
        {R"(\udc00)", fffd},
        {R"(a\udbffb)", "a" + fffd + "b"},
        {R"(\ud800\u0041)", fffd + "A"},
        {R"(\ud800\ud800)", fffd + fffd},
        {R"(\ude00\ud83d)", fffd + fffd},
        {R"(\ud800\n)", fffd + "\n"},
        {R"(\ud83d\ude00\udc00)", "\xf0\x9f\x98\x80" + fffd},
    };
    for (const auto& c : cases) {
        std::string out;
        EXPECT_EQ(json::unescape(c.raw, out), json::unescape_result::lone_surrogate) << c.raw;
        EXPECT_EQ(out, c.want) << c.raw;
    }
}

TEST(json_scan, unescape_appends) {
    std::string out = "pre:";
    EXPECT_EQ(json::unescape(R"(\u0041b)", out), json::unescape_result::ok);
    EXPECT_EQ(out, "pre:Ab");
}

TEST(json_scan, string_body_strips_quotes) {
    EXPECT_EQ(json::string_body("\"abc\""), "abc");
    EXPECT_EQ(json::string_body("\"\""), "");
    EXPECT_EQ(json::string_body("\"a\\\"\""), "a\\\"");
}
