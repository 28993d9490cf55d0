// auth/auth: admission credentials (PROTOCOL.md sections 3.1 and 3.2): the query-string rules,
// publishable keys, allowed origins, and the random peerId format.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <variant>

#include "auth/auth.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"

namespace auth = parley::auth;
namespace config = parley::config;

namespace {

constexpr std::int64_t NOW = 1700000000;

const char* const kConfig = R"(
[[apps]]
id = "app1"

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_test"
  channels = ["**"]

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_origin"
  channels = ["**"]
  allowed_origins = ["https://example.com", "http://localhost:3000", "http://Example.ORG:80", "https://[::1]:8443"]

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_a+b"
  channels = ["**"]

  [[apps.keys]]
  type = "secret"
  id = "sk_id_test"
  secret = "sk_secret_test"
  channels = ["**"]
)";

const std::string kAppendixB =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6InNrX2lkX3Rlc3QiLCJ0eXAiOiJKV1QifQ."
    "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJjaGFubmVscyI6WyJyb29tLSoiXSwicGVlck1ldGFkYXRhIjp7Im5hbWUiOiJBbGljZSJ9fQ."
    "bSRYL-Yo0LI0WjAqY-MjXRr5Z49YL_VjcWhkslcOdPI";

class auth_test : public ::testing::Test {
protected:
    static void SetUpTestSuite() { cfg_ = config::parse(kConfig, "auth_test.toml"); }
    static void TearDownTestSuite() { cfg_.reset(); }
    static config::config_ptr cfg_;

    auth::result run(std::string_view query, std::optional<std::string> origin = std::nullopt) {
        return auth::authenticate(*cfg_, query, origin, NOW * 1000);
    }

    // Expects admission with the key `key_id`; returns the principal.
    void admitted(std::string_view query, std::string_view key_id,
                  std::optional<std::string> origin = std::nullopt) {
        SCOPED_TRACE(std::string(query));
        last_ = run(query, origin);
        auto* p = std::get_if<auth::principal>(&last_);
        if (p == nullptr) {
            ADD_FAILURE() << "refused: " << std::get<auth::failure>(last_).reason;
            return;
        }
        ASSERT_NE(p->key, nullptr);
        EXPECT_EQ(p->key->id, key_id);
    }

    void refused(std::string_view query, std::string_view reason,
                 std::optional<std::string> origin = std::nullopt) {
        SCOPED_TRACE(std::string(query) + " origin=" + origin.value_or("<none>"));
        auth::result r = run(query, origin);
        auto* f = std::get_if<auth::failure>(&r);
        ASSERT_NE(f, nullptr) << "admitted, expected " << reason;
        EXPECT_EQ(f->code, 4001);
        EXPECT_EQ(f->reason, reason);
    }

    auth::result last_;
};

config::config_ptr auth_test::cfg_;

}  // namespace

// ---- §3.1 credential parameters --------------------------------------------------------------

TEST_F(auth_test, missing_credential) {
    for (const char* q : {"", "foo=bar", "keyx=pk_live_test", "Key=pk_live_test", "TOKEN=x",
                          "k=1&t=2", "&", "&&", "=pk_live_test", "xkey=1", "key_=1"}) {
        refused(q, "missing_credential");
    }
}

TEST_F(auth_test, conflicting_credentials) {
    refused("key=pk_live_test&token=" + kAppendixB, "conflicting_credentials");
    refused("token=" + kAppendixB + "&key=pk_live_test", "conflicting_credentials");
    refused("key=pk_live_test&key=pk_live_test", "conflicting_credentials");
    refused("key=pk_live_test&key=pk_live_origin", "conflicting_credentials");
    refused("token=" + kAppendixB + "&token=" + kAppendixB, "conflicting_credentials");
    refused("key=&key=", "conflicting_credentials");
    // A percent-encoded name is the same parameter.
    refused("key=pk_live_test&%6Bey=pk_live_test", "conflicting_credentials");
    // Repeated-but-empty still counts as repeated.
    refused("key&key=pk_live_test", "conflicting_credentials");
}

TEST_F(auth_test, publishable_key) {
    admitted("key=pk_live_test", "pk_live_test");
    auto& p = std::get<auth::principal>(last_);
    EXPECT_TRUE(p.peer_id.empty());  // a random UUID is assigned later
    EXPECT_TRUE(p.peer_metadata.empty());
    EXPECT_TRUE(p.metadata.empty());
    EXPECT_FALSE(p.metadata_has_ice_servers);
    EXPECT_FALSE(p.expires_at.has_value());
    EXPECT_EQ(p.scope, nullptr);
}

TEST_F(auth_test, other_parameters_are_ignored) {
    admitted("v=1&key=pk_live_test&x", "pk_live_test");
    admitted("a=b&&key=pk_live_test&c=%zz", "pk_live_test");
    admitted("keys=1&key=pk_live_test&tokens=2", "pk_live_test");
}

TEST_F(auth_test, invalid_key) {
    refused("key=pk_live_nope", "invalid_key");
    refused("key=", "invalid_key");
    refused("key", "invalid_key");
    refused("key=PK_LIVE_TEST", "invalid_key");
    refused("key=pk_live_test ", "invalid_key");
    // A secret key id is not a publishable key.
    refused("key=sk_id_test", "invalid_key");
    refused("key=sk_secret_test", "invalid_key");
}

TEST_F(auth_test, percent_decoding) {
    admitted("key=pk%5Flive%5Ftest", "pk_live_test");
    admitted("key=pk%5flive%5ftest", "pk_live_test");
    admitted("%6B%65%79=pk_live_test", "pk_live_test");
    admitted("key=%70%6B%5F%6C%69%76%65%5F%74%65%73%74", "pk_live_test");
    // `+` is not special: it is a literal plus, never a space.
    admitted("key=pk_live_a+b", "pk_live_a+b");
    admitted("key=pk_live_a%2Bb", "pk_live_a+b");
    refused("key=pk_live_a%20b", "invalid_key");
    refused("key=pk_live_test+", "invalid_key");
    // Decoded once only.
    refused("key=pk%255Flive%255Ftest", "invalid_key");
}

TEST_F(auth_test, malformed_percent_encoding_is_refused) {
    for (const char* q : {"key=%", "key=pk_live_test%", "key=pk_live_test%4", "key=%zzpk_live_test",
                          "key=%G1"}) {
        SCOPED_TRACE(q);
        auth::result r = run(q);
        auto* f = std::get_if<auth::failure>(&r);
        ASSERT_NE(f, nullptr);
        EXPECT_EQ(f->code, 4001);
    }
}

TEST_F(auth_test, percent_decode_function) {
    EXPECT_EQ(auth::percent_decode("abc"), "abc");
    EXPECT_EQ(auth::percent_decode(""), "");
    EXPECT_EQ(auth::percent_decode("%41%42"), "AB");
    EXPECT_EQ(auth::percent_decode("a+b"), "a+b");
    EXPECT_EQ(auth::percent_decode("%2b%2B"), "++");
    EXPECT_EQ(auth::percent_decode("%e2%82%ac"), "\xe2\x82\xac");
    EXPECT_EQ(auth::percent_decode("%00"), std::string("\0", 1));
    EXPECT_EQ(auth::percent_decode("%2541"), "%41");
    EXPECT_EQ(auth::percent_decode("x%41"), "xA");
    EXPECT_FALSE(auth::percent_decode("%").has_value());
    EXPECT_FALSE(auth::percent_decode("%4").has_value());
    EXPECT_FALSE(auth::percent_decode("a%4").has_value());
    EXPECT_FALSE(auth::percent_decode("%4g").has_value());
    EXPECT_FALSE(auth::percent_decode("%g4").has_value());
}

TEST_F(auth_test, token_parameter) {
    admitted("token=" + kAppendixB, "sk_id_test");
    auto& p = std::get<auth::principal>(last_);
    EXPECT_EQ(p.peer_id, "alice");
    EXPECT_EQ(p.expires_at, 1700003600);
    // encodeURIComponent leaves `-`, `_` and `.` alone; percent-encoding them changes nothing.
    std::string enc = kAppendixB;
    for (std::size_t i; (i = enc.find('.')) != std::string::npos;) enc.replace(i, 1, "%2E");
    admitted("token=" + enc, "sk_id_test");
    refused("token=", "invalid_token: malformed");
    refused("token", "invalid_token: malformed");
    refused("token=abc", "invalid_token: malformed");
    // The origin list does not apply to tokens.
    admitted("token=" + kAppendixB, "sk_id_test", std::string("https://evil.example"));
}

TEST_F(auth_test, token_expiry_through_authenticate) {
    auth::result r = auth::authenticate(*cfg_, "token=" + kAppendixB, std::nullopt, std::int64_t{1700003600} * 1000);
    auto* f = std::get_if<auth::failure>(&r);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->code, 4002);
    EXPECT_EQ(f->reason, "token_expired");
}

// ---- §3.2 allowed origins --------------------------------------------------------------------

TEST_F(auth_test, allowed_origins_match) {
    for (const char* o : {"https://example.com", "https://EXAMPLE.com", "HTTPS://Example.Com",
                          "https://example.com:443", "http://localhost:3000",
                          "http://LOCALHOST:3000", "http://example.org", "http://example.org:80",
                          "HTTP://EXAMPLE.ORG", "https://[::1]:8443"}) {
        admitted("key=pk_live_origin", "pk_live_origin", std::string(o));
    }
}

TEST_F(auth_test, allowed_origins_refuse) {
    for (const char* o : {"https://example.com:8443", "http://example.com", "https://example.co",
                          "https://sub.example.com", "http://localhost", "http://localhost:3001",
                          "https://localhost:3000", "https://example.org", "http://example.org:443",
                          "https://example.com/", "https://example.com/path", "example.com",
                          "null", "", "https://[::1]", "file://"}) {
        refused("key=pk_live_origin", "origin_not_allowed", std::string(o));
    }
    // A missing Origin never matches a non-empty list.
    refused("key=pk_live_origin", "origin_not_allowed", std::nullopt);
}

TEST_F(auth_test, empty_origin_list_allows_anything) {
    admitted("key=pk_live_test", "pk_live_test", std::nullopt);
    admitted("key=pk_live_test", "pk_live_test", std::string("null"));
    admitted("key=pk_live_test", "pk_live_test", std::string("https://anything.example"));
    admitted("key=pk_live_test", "pk_live_test", std::string("garbage"));
}

TEST_F(auth_test, invalid_key_checked_before_origin) {
    refused("key=pk_live_nope", "invalid_key", std::string("https://example.com"));
    refused("key=pk_live_nope", "invalid_key", std::nullopt);
}

TEST(normalize_origin, forms) {
    EXPECT_EQ(config::normalize_origin("https://example.com"), "https://example.com");
    EXPECT_EQ(config::normalize_origin("HTTPS://Example.COM"), "https://example.com");
    EXPECT_EQ(config::normalize_origin("https://example.com:443"), "https://example.com");
    EXPECT_EQ(config::normalize_origin("http://example.com:80"), "http://example.com");
    EXPECT_EQ(config::normalize_origin("http://example.com:443"), "http://example.com:443");
    EXPECT_EQ(config::normalize_origin("https://example.com:80"), "https://example.com:80");
    EXPECT_EQ(config::normalize_origin("http://localhost:3000"), "http://localhost:3000");
    EXPECT_EQ(config::normalize_origin("https://[::1]:443"), "https://[::1]");
    EXPECT_EQ(config::normalize_origin("https://[::1]:8443"), "https://[::1]:8443");
    EXPECT_EQ(config::normalize_origin("HTTP://EXAMPLE.ORG:80"), "http://example.org");
}

TEST(normalize_origin, rejects_non_origins) {
    for (const char* o : {"", "example.com", "://example.com", "https://", "https://a/b",
                          "https://a/", "https://a?x", "https://a#x", "https://u@a",
                          "https://a:x", "https://[::1", "https://[::1]x", "https://a b"}) {
        EXPECT_FALSE(config::normalize_origin(o).has_value()) << o;
    }
}

// ---- random peerIds --------------------------------------------------------------------------

TEST(random_uuid, format_and_uniqueness) {
    const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string u = auth::random_uuid();
        ASSERT_EQ(u.size(), 36u);
        EXPECT_TRUE(std::regex_match(u, re)) << u;
        EXPECT_TRUE(seen.insert(u).second) << "duplicate " << u;
    }
}

TEST(random_key_part, alphabet_and_length) {
    const std::regex re("^[A-Za-z0-9]+$");
    std::string a = config::random_key_part();
    EXPECT_GE(a.size(), 32u);
    EXPECT_TRUE(std::regex_match(a, re));
    EXPECT_EQ(config::random_key_part(40).size(), 40u);
    EXPECT_NE(config::random_key_part(), config::random_key_part());
}
