// proto/channel: concrete names (PROTOCOL.md section 4.1), peerIds (section 20), reserved
// prefixes (section 4.5), pattern syntax and matching (section 4.2) and coverage (section 4.4).
#include <gtest/gtest.h>

#include <string>

#include "proto/channel.hpp"

using parley::proto::has_unescaped_star;
using parley::proto::is_reserved;
using parley::proto::pattern;
using parley::proto::valid_channel_name;
using parley::proto::valid_peer_id;

namespace {

pattern P(std::string_view text) {
    auto p = pattern::compile(text);
    if (!p) {
        ADD_FAILURE() << "pattern should be valid: " << text;
        return *pattern::compile("invalid-placeholder");
    }
    return *p;
}

bool matches(std::string_view pat, std::string_view name) { return P(pat).matches(name); }
bool covers(std::string_view a, std::string_view p) { return P(a).covers(P(p)); }

}  // namespace

// ---- concrete names --------------------------------------------------------------------------

TEST(channel, name_length_bounds) {
    EXPECT_FALSE(valid_channel_name(""));
    EXPECT_TRUE(valid_channel_name("a"));
    EXPECT_TRUE(valid_channel_name(std::string(256, 'a')));
    EXPECT_FALSE(valid_channel_name(std::string(257, 'a')));
    // Bytes, not characters: 128 x U+00E9 is 256 bytes, 129 x is 258.
    std::string e128;
    for (int i = 0; i < 128; ++i) e128 += "\xc3\xa9";
    EXPECT_TRUE(valid_channel_name(e128));
    EXPECT_FALSE(valid_channel_name(e128 + "\xc3\xa9"));
    EXPECT_FALSE(valid_channel_name(e128 + "x"));
    // 85 x U+20AC (3 bytes) = 255 bytes, + one more = 258.
    std::string euro;
    for (int i = 0; i < 85; ++i) euro += "\xe2\x82\xac";
    EXPECT_TRUE(valid_channel_name(euro + "a"));
    EXPECT_FALSE(valid_channel_name(euro + "\xe2\x82\xac"));
}

TEST(channel, name_control_characters) {
    for (int c = 0; c < 0x20; ++c) {
        std::string s = "ab";
        s.insert(1, 1, static_cast<char>(c));
        EXPECT_FALSE(valid_channel_name(s)) << c;
    }
    EXPECT_FALSE(valid_channel_name(std::string("\0", 1)));
    EXPECT_FALSE(valid_channel_name("a\x7f"));
    for (int c = 0x80; c <= 0x9F; ++c) {  // U+0080..U+009F = C2 80..C2 9F
        std::string s = "room";
        s += '\xc2';
        s += static_cast<char>(c);
        EXPECT_FALSE(valid_channel_name(s)) << c;
    }
    EXPECT_FALSE(valid_channel_name("\xc2\x80"));
    EXPECT_FALSE(valid_channel_name("x\xc2\x9f" "y"));
    // Neighbours of the forbidden ranges are fine.
    EXPECT_TRUE(valid_channel_name(" "));
    EXPECT_TRUE(valid_channel_name("~"));
    EXPECT_TRUE(valid_channel_name("\xc2\xa0"));       // U+00A0
    EXPECT_TRUE(valid_channel_name("\xc2\xbf"));       // U+00BF
    EXPECT_TRUE(valid_channel_name("\xc3\x80"));       // U+00C0 (second byte 0x80, lead C3)
    EXPECT_TRUE(valid_channel_name("\xe2\x80\xa8"));   // U+2028
    EXPECT_TRUE(valid_channel_name("\xf0\x9f\x98\x80"));
}

TEST(channel, name_star_and_ordinary_characters) {
    EXPECT_FALSE(valid_channel_name("*"));
    EXPECT_FALSE(valid_channel_name("room-*"));
    EXPECT_FALSE(valid_channel_name("a\\*b"));
    EXPECT_TRUE(valid_channel_name("a/b/c"));
    EXPECT_TRUE(valid_channel_name("c\\d"));
    EXPECT_TRUE(valid_channel_name("/"));
    EXPECT_TRUE(valid_channel_name("\\"));
    EXPECT_TRUE(valid_channel_name("Room-1"));
    EXPECT_TRUE(valid_channel_name("a?b[c]{d}"));
}

TEST(channel, unescaped_star) {
    EXPECT_FALSE(has_unescaped_star(""));
    EXPECT_FALSE(has_unescaped_star("room"));
    EXPECT_TRUE(has_unescaped_star("*"));
    EXPECT_TRUE(has_unescaped_star("room-*"));
    EXPECT_TRUE(has_unescaped_star("**"));
    EXPECT_FALSE(has_unescaped_star("a\\*"));
    EXPECT_FALSE(has_unescaped_star("\\*\\*"));
    EXPECT_TRUE(has_unescaped_star("a\\\\*"));  // `\\` then an unescaped `*`
    EXPECT_TRUE(has_unescaped_star("\\**"));    // `\*` then `*`
    EXPECT_FALSE(has_unescaped_star("\\"));
    EXPECT_FALSE(has_unescaped_star("a\\"));
    EXPECT_TRUE(has_unescaped_star("a\\b*"));
}

// ---- peerIds ---------------------------------------------------------------------------------

TEST(channel, peer_id) {
    EXPECT_FALSE(valid_peer_id(""));
    EXPECT_TRUE(valid_peer_id("a"));
    EXPECT_TRUE(valid_peer_id(std::string(128, 'x')));
    EXPECT_FALSE(valid_peer_id(std::string(129, 'x')));
    EXPECT_TRUE(valid_peer_id(" "));
    EXPECT_TRUE(valid_peer_id("~"));
    EXPECT_TRUE(valid_peer_id("user:42/a*b\\c\"d"));
    EXPECT_FALSE(valid_peer_id("a\x1f"));
    EXPECT_FALSE(valid_peer_id("a\x7f"));
    EXPECT_FALSE(valid_peer_id(std::string("a\0b", 3)));
    EXPECT_FALSE(valid_peer_id("\xc3\xa9"));
    EXPECT_FALSE(valid_peer_id("a\tb"));
}

// ---- reserved prefixes -----------------------------------------------------------------------

TEST(channel, reserved_prefixes) {
    for (const char* n : {"_metered/", "_metered/x", "_internal/a/b", "_system/1", "_METERED/x",
                          "_Internal/x", "_sYsTeM/x", "_MeTeReD/"}) {
        EXPECT_TRUE(is_reserved(n)) << n;
    }
    for (const char* n : {"", "_metered", "_metered-x", "metered/x", "x_metered/", "_system",
                          "_systemx/", " _system/", "_internal\\/", "_meter/"}) {
        EXPECT_FALSE(is_reserved(n)) << n;
    }
}

// ---- pattern syntax --------------------------------------------------------------------------

TEST(channel, pattern_valid) {
    for (const char* t : {"a", "*", "**", "a*b", "a**", "**/x", "*/*", "\\*", "\\\\", "a\\*b",
                          "c\\\\d/*", "*\\**", "**\\***", "\\\\*", "room-1", "a/b/c"}) {
        EXPECT_TRUE(pattern::compile(t).has_value()) << t;
    }
    EXPECT_TRUE(pattern::compile(std::string(256, 'a')).has_value());
    EXPECT_TRUE(pattern::compile(std::string(254, 'a') + "**").has_value());
}

TEST(channel, pattern_invalid) {
    for (const char* t : {"", "a***", "***", "****", "a***b", "a\\b", "a\\", "\\", "\\a*",
                          "a*\\", "x/\\/", "\\**\\"}) {
        EXPECT_FALSE(pattern::compile(t).has_value()) << t;
    }
    EXPECT_FALSE(pattern::compile(std::string(257, 'a')).has_value());
    EXPECT_FALSE(pattern::compile(std::string(255, 'a') + "**").has_value());
    EXPECT_FALSE(pattern::compile("a\x01*").has_value());
    EXPECT_FALSE(pattern::compile("a\x1f").has_value());
    EXPECT_FALSE(pattern::compile("\x7f*").has_value());
    EXPECT_FALSE(pattern::compile("room-\xc2\x85*").has_value());
    EXPECT_FALSE(pattern::compile(std::string("a\0*", 3)).has_value());
}

TEST(channel, pattern_text_and_concreteness) {
    EXPECT_EQ(P("room-*").text(), "room-*");
    EXPECT_EQ(P("c\\\\d/*").text(), "c\\\\d/*");
    EXPECT_TRUE(P("room").is_concrete());
    EXPECT_TRUE(P("a\\*b").is_concrete());
    EXPECT_TRUE(P("\\\\").is_concrete());
    EXPECT_FALSE(P("a*").is_concrete());
    EXPECT_FALSE(P("**").is_concrete());
}

// ---- matching: the table of section 4.2 ------------------------------------------------------

TEST(channel, table_app_abc_star) {
    EXPECT_TRUE(matches("app_abc/*", "app_abc/room-1"));
    EXPECT_TRUE(matches("app_abc/*", "app_abc/"));
    EXPECT_FALSE(matches("app_abc/*", "app_abc/sub/deep"));
    EXPECT_FALSE(matches("app_abc/*", "app_abc"));
}

TEST(channel, table_app_abc_double_star) {
    EXPECT_TRUE(matches("app_abc/**", "app_abc/room-1"));
    EXPECT_TRUE(matches("app_abc/**", "app_abc/sub/deep"));
    EXPECT_TRUE(matches("app_abc/**", "app_abc/"));
    EXPECT_FALSE(matches("app_abc/**", "app_abc"));
    EXPECT_FALSE(matches("app_abc/**", "app_abcd/x"));
}

TEST(channel, table_double_star_matches_everything) {
    for (const std::string& n : {std::string("a"), std::string("room-1"), std::string("/"),
                                 std::string("a/b/c"), std::string("//"), std::string("\\"),
                                 std::string(256, 'z'), std::string("\xc3\xa9/\xe2\x82\xac")}) {
        EXPECT_TRUE(matches("**", n)) << n;
    }
}

TEST(channel, table_room_star) {
    EXPECT_TRUE(matches("room-*", "room-42"));
    EXPECT_TRUE(matches("room-*", "room-"));
    EXPECT_FALSE(matches("room-*", "admin-1"));
    EXPECT_FALSE(matches("room-*", "room-1/x"));
    EXPECT_FALSE(matches("room-*", "room"));
    EXPECT_FALSE(matches("room-*", "Room-1"));
}

TEST(channel, table_devices_events) {
    EXPECT_TRUE(matches("devices/*/events", "devices/d1/events"));
    EXPECT_FALSE(matches("devices/*/events", "devices/a/b/events"));
    EXPECT_TRUE(matches("devices/*/events", "devices//events"));
    EXPECT_FALSE(matches("devices/*/events", "devices/d1/events/x"));
    EXPECT_FALSE(matches("devices/*/events", "devices/d1/event"));
}

TEST(channel, table_escaped_backslash) {
    EXPECT_TRUE(matches("c\\\\d/*", "c\\d/1"));
    EXPECT_FALSE(matches("c\\\\d/*", "c\\\\d/1"));
    EXPECT_TRUE(matches("\\\\", "\\"));
    EXPECT_FALSE(matches("\\\\", "\\\\"));
}

TEST(channel, table_escaped_star) {
    // `a\*b` matches only the string `a*b`, which is never a concrete name.
    EXPECT_FALSE(matches("a\\*b", "axb"));
    EXPECT_FALSE(matches("a\\*b", "ab"));
    EXPECT_FALSE(matches("a\\*b", "a\\*b"));
    EXPECT_FALSE(matches("a\\*b", "a\\xb"));
    EXPECT_EQ(P("a\\*b").literal_prefix(), "a*b");
}

TEST(channel, table_invalid_rows) {
    EXPECT_FALSE(pattern::compile("a***").has_value());
    EXPECT_FALSE(pattern::compile("a\\b").has_value());
}

// ---- matching: anchoring, separators, empty matches -------------------------------------------

TEST(channel, match_is_anchored) {
    EXPECT_TRUE(matches("room", "room"));
    EXPECT_FALSE(matches("room", "room-1"));
    EXPECT_FALSE(matches("room", "xroom"));
    EXPECT_FALSE(matches("room", "roo"));
    EXPECT_TRUE(matches("*room", "aroom"));
    EXPECT_FALSE(matches("*room", "aroomx"));
    EXPECT_TRUE(matches("a*", "a"));
    EXPECT_FALSE(matches("a*", "ba"));
    EXPECT_TRUE(matches("*b", "b"));
    EXPECT_FALSE(matches("*b", "bc"));
}

TEST(channel, single_star_does_not_cross_slash) {
    EXPECT_TRUE(matches("*", "abc"));
    EXPECT_FALSE(matches("*", "a/b"));
    EXPECT_FALSE(matches("*", "/"));
    EXPECT_TRUE(matches("*/*", "/"));
    EXPECT_TRUE(matches("*/*", "a/b"));
    EXPECT_FALSE(matches("*/*", "a/b/c"));
    EXPECT_FALSE(matches("*a*", "a/b"));
    EXPECT_TRUE(matches("*a*", "xay"));
    EXPECT_FALSE(matches("a*b", "a/b"));
}

TEST(channel, double_star_crosses_slash) {
    EXPECT_TRUE(matches("a**b", "ab"));
    EXPECT_TRUE(matches("a**b", "a/b"));
    EXPECT_TRUE(matches("a**b", "ax/y/zb"));
    EXPECT_FALSE(matches("a**b", "ax/y/zbc"));
    EXPECT_TRUE(matches("**/x", "/x"));
    EXPECT_TRUE(matches("**/x", "a/b/x"));
    EXPECT_FALSE(matches("**/x", "x"));
    EXPECT_TRUE(matches("**a*", "x/ab"));
    EXPECT_FALSE(matches("**a*", "x/a/b"));
    EXPECT_TRUE(matches("a/**/z", "a//z"));
    EXPECT_TRUE(matches("a/**/z", "a/b/c/z"));
    EXPECT_FALSE(matches("a/**/z", "a/z"));
}

TEST(channel, wildcards_match_empty) {
    EXPECT_TRUE(matches("*", ""));
    EXPECT_TRUE(matches("**", ""));
    EXPECT_TRUE(matches("a*b", "ab"));
    EXPECT_TRUE(matches("a**b", "ab"));
    EXPECT_TRUE(matches("**a**", "a"));
    EXPECT_TRUE(matches("*a*b*c*", "abc"));
}

TEST(channel, matching_needs_backtracking) {
    EXPECT_TRUE(matches("*ab", "aab"));
    EXPECT_TRUE(matches("*ab", "abab"));
    EXPECT_TRUE(matches("a*b*c", "aXbYc"));
    EXPECT_TRUE(matches("a*b*c", "abbc"));
    EXPECT_TRUE(matches("a*b*c", "abcbc"));
    EXPECT_FALSE(matches("a*b*c", "acb"));
    EXPECT_TRUE(matches("*-*-*", "a-b-c-d"));
    EXPECT_TRUE(matches("**/*", "a/b/c"));
    EXPECT_FALSE(matches("**/*", "abc"));
    EXPECT_TRUE(matches("*x\\*", "ax*"));  // literal star after a wildcard (white-box input)
}

TEST(channel, matching_is_bytewise_utf8) {
    EXPECT_TRUE(matches("\xc3\xa9*", "\xc3\xa9t\xc3\xa9"));
    EXPECT_TRUE(matches("*", "\xe2\x82\xac\xf0\x9f\x98\x80"));
    EXPECT_FALSE(matches("\xc3\xa9*", "e\xcc\x81t"));  // no normalization
    EXPECT_TRUE(matches("a*\xe2\x82\xac", "abc\xe2\x82\xac"));
}

TEST(channel, worst_case_pattern_terminates) {
    const auto p = P("*a*a*a*a*a*a*a*a*b");
    EXPECT_FALSE(p.matches(std::string(256, 'a')));
    EXPECT_TRUE(p.matches(std::string(255, 'a') + "b"));
    const auto q = P("**a**a**a**a**a**a**a**a**a**a**b");
    EXPECT_FALSE(q.matches(std::string(256, 'a')));
    std::string slashes;
    while (slashes.size() < 256) slashes += "a/";
    EXPECT_FALSE(q.matches(slashes.substr(0, 256)));
    const auto r = P("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c");
    EXPECT_FALSE(r.matches(std::string(256, 'a')));
    // A long worst case using the whole 256-byte budget.
    std::string big;
    while (big.size() + 2 <= 254) big += "*a";
    big += "*b";
    ASSERT_LE(big.size(), 256u);
    const auto s = P(big);
    EXPECT_FALSE(s.matches(std::string(256, 'a')));
    EXPECT_TRUE(s.matches(std::string(255, 'a') + "b"));
}

// ---- literal prefix --------------------------------------------------------------------------

TEST(channel, literal_prefix) {
    EXPECT_EQ(P("room-*").literal_prefix(), "room-");
    EXPECT_EQ(P("app_abc/**").literal_prefix(), "app_abc/");
    EXPECT_EQ(P("**").literal_prefix(), "");
    EXPECT_EQ(P("*abc").literal_prefix(), "");
    EXPECT_EQ(P("abc").literal_prefix(), "abc");
    EXPECT_EQ(P("a\\*b*c").literal_prefix(), "a*b");
    EXPECT_EQ(P("c\\\\d/*").literal_prefix(), "c\\d/");
    EXPECT_EQ(P("devices/*/events").literal_prefix(), "devices/");
    EXPECT_EQ(P("\\\\\\*").literal_prefix(), "\\*");
    EXPECT_EQ(P("_metered/*").literal_prefix(), "_metered/");
}

// ---- covers: the table of section 4.4 --------------------------------------------------------

TEST(channel, covers_table) {
    EXPECT_TRUE(covers("app_abc/**", "app_abc/devices/*/events"));  // (c)
    EXPECT_TRUE(covers("tenant-*/**", "tenant-7/rooms/*"));         // (c)
    EXPECT_TRUE(covers("devices/*/events", "devices/*/events"));    // (b)
    EXPECT_TRUE(covers("app/*", "app/room-1"));                     // (a)
    EXPECT_FALSE(covers("*", "room-*"));
    EXPECT_FALSE(covers("app/**", "app**"));
}

TEST(channel, covers_double_star_covers_every_pattern) {
    for (const char* p : {"a", "*", "**", "room-*", "a/**/b", "\\*", "\\\\*", "_metered/*",
                          "*/*/*", "a\\*b"}) {
        EXPECT_TRUE(covers("**", p)) << p;
    }
}

TEST(channel, covers_rule_a_concrete_p) {
    EXPECT_TRUE(covers("room-*", "room-1"));
    EXPECT_FALSE(covers("room-*", "room-1/x"));
    EXPECT_TRUE(covers("app/**", "app/"));
    EXPECT_FALSE(covers("app/**", "app"));
    EXPECT_TRUE(covers("a", "a"));
    EXPECT_FALSE(covers("a", "b"));
    EXPECT_TRUE(covers("c\\\\d/*", "c\\\\d/1"));  // P produces `c\d/1`
    EXPECT_FALSE(covers("c\\\\d/*", "c\\\\\\\\d/1"));
}

TEST(channel, covers_rule_b_identical_only) {
    EXPECT_TRUE(covers("a/*", "a/*"));
    EXPECT_TRUE(covers("*", "*"));
    EXPECT_TRUE(covers("a\\*b", "a\\*b"));
    EXPECT_TRUE(covers("*-*", "*-*"));
    EXPECT_FALSE(covers("a/*", "a/**"));
    EXPECT_FALSE(covers("a/*", "a/x*"));   // safe, but not provable by the rule
    EXPECT_FALSE(covers("*-*", "a-*"));
    EXPECT_FALSE(covers("a/*/c", "a/*/*"));
}

TEST(channel, covers_rule_c) {
    EXPECT_TRUE(covers("app/**", "app/**"));
    EXPECT_TRUE(covers("app/**", "app/x*"));
    EXPECT_TRUE(covers("app/**", "app/*/y"));
    EXPECT_FALSE(covers("app/**", "ap**"));
    EXPECT_FALSE(covers("app/**", "*"));
    EXPECT_FALSE(covers("app/**", "**"));
    EXPECT_TRUE(covers("a/*/**", "a/b/c/*"));
    EXPECT_FALSE(covers("a/*/**", "a/**"));
    EXPECT_TRUE(covers("a*/**", "a/**"));     // `a*/` matches the prefix `a/` of lit = `a/`
    EXPECT_TRUE(covers("a**", "abc*"));       // empty-suffix prefix: `a` matches `a`
    EXPECT_TRUE(covers("a**", "a*"));
    EXPECT_FALSE(covers("ab**", "a*"));       // lit(P) = `a` has no prefix matching `ab`
    EXPECT_TRUE(covers("\\*/**", "\\*/x*"));  // lit(P) = `*/x`
    EXPECT_TRUE(covers("x/**", "x/*"));
    EXPECT_FALSE(covers("x/**", "y/*"));
    EXPECT_FALSE(covers("room-*", "room-1*"));  // A does not end with `**`
}
