// auth/jwt: connection tokens per PROTOCOL.md section 3.3 (every check, in order, with its 4001
// reason), the expiry deadline of section 13.1 (4002) and the Appendix B test vector.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "util/base64.hpp"

namespace auth = parley::auth;
namespace config = parley::config;

namespace {

constexpr std::int64_t NOW = 1700000000;

const char* const kConfig = R"(
[[apps]]
id = "app1"
max_token_lifetime = 3600

  [[apps.keys]]
  type = "secret"
  id = "sk_id_test"
  secret = "sk_secret_test"
  channels = ["**"]

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_test"
  channels = ["**"]

[[apps]]
id = "app2"

  [[apps.keys]]
  type = "secret"
  id = "sk_id_other"
  secret = "sk_secret_other"
  channels = ["room-*"]
)";

const std::string kAppendixB =
    "eyJhbGciOiJIUzI1NiIsImtpZCI6InNrX2lkX3Rlc3QiLCJ0eXAiOiJKV1QifQ."
    "eyJzdWIiOiJhbGljZSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAzNjAwLCJjaGFubmVscyI6WyJyb29tLSoiXSwicGVlck1ldGFkYXRhIjp7Im5hbWUiOiJBbGljZSJ9fQ."
    "bSRYL-Yo0LI0WjAqY-MjXRr5Z49YL_VjcWhkslcOdPI";

class jwt : public ::testing::Test {
protected:
    static void SetUpTestSuite() { cfg_ = config::parse(kConfig, "jwt_test.toml"); }
    static void TearDownTestSuite() { cfg_.reset(); }
    static config::config_ptr cfg_;
    const config::config& cfg() { return *cfg_; }

    static std::string b64(std::string_view s) { return parley::base64::encode_url(s); }

    // A token with an arbitrary header, signed with `secret`.
    static std::string raw_token(std::string_view header, std::string_view payload,
                                 std::string_view secret = "sk_secret_test") {
        std::string input = b64(header) + "." + b64(payload);
        return input + "." + b64(auth::hmac_sha256(secret, input));
    }
    static std::string token(std::string_view payload) {
        return auth::sign_token("sk_id_test", "sk_secret_test", payload);
    }
    // A valid payload with `extra` members appended.
    static std::string payload(std::string_view extra = "", std::int64_t exp = NOW + 3600) {
        std::string p = "{\"sub\":\"alice\",\"exp\":" + std::to_string(exp);
        if (!extra.empty()) p += "," + std::string(extra);
        return p + "}";
    }

    auth::result verify(std::string_view tok, std::int64_t now_ms = NOW * 1000) {
        return auth::verify_connection_token_ms(cfg(), tok, now_ms);
    }

    const auth::principal* ok(std::string_view tok, std::int64_t now_ms = NOW * 1000) {
        last_ = verify(tok, now_ms);
        if (auto* f = std::get_if<auth::failure>(&last_)) {
            ADD_FAILURE() << "rejected: " << f->code << " " << f->reason;
            return nullptr;
        }
        return &std::get<auth::principal>(last_);
    }

    void rejected(std::string_view tok, std::string_view reason, std::uint16_t code = 4001,
                  std::int64_t now_ms = NOW * 1000) {
        auth::result r = verify(tok, now_ms);
        auto* f = std::get_if<auth::failure>(&r);
        ASSERT_NE(f, nullptr) << "admitted, expected " << reason;
        EXPECT_EQ(f->code, code) << reason;
        EXPECT_EQ(f->reason, reason);
    }

    auth::result last_;
};

config::config_ptr jwt::cfg_;

}  // namespace

// ---- Appendix B ------------------------------------------------------------------------------

TEST_F(jwt, appendix_b_admitted) {
    const auth::principal* p = ok(kAppendixB, 1700000000000);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, "alice");
    ASSERT_TRUE(p->expires_at.has_value());
    EXPECT_EQ(*p->expires_at, 1700003600);
    ASSERT_NE(p->key, nullptr);
    EXPECT_EQ(p->key->id, "sk_id_test");
    EXPECT_EQ(p->peer_metadata, R"({"name":"Alice"})");
    EXPECT_TRUE(p->metadata.empty());
    EXPECT_FALSE(p->metadata_has_ice_servers);
    ASSERT_NE(p->scope, nullptr);
    ASSERT_TRUE(p->scope->channels.has_value());
    ASSERT_EQ(p->scope->channels->size(), 1u);
    EXPECT_EQ((*p->scope->channels)[0].text(), "room-*");
    EXPECT_TRUE((*p->scope->channels)[0].matches("room-1"));
    EXPECT_FALSE((*p->scope->channels)[0].matches("lobby"));
    EXPECT_FALSE(p->scope->actions.has_value());
}

TEST_F(jwt, appendix_b_expired) {
    rejected(kAppendixB, "token_expired", 4002, 1700003600000);
    rejected(kAppendixB, "token_expired", 4002, 1700003700000);
}

TEST_F(jwt, appendix_b_bad_signature) {
    std::string t = kAppendixB;
    std::size_t sig = t.rfind('.') + 1;
    ASSERT_EQ(t[sig], 'b');
    t[sig] = 'c';
    rejected(t, "invalid_token: bad signature");
    t[sig] = 'B';
    rejected(t, "invalid_token: bad signature");
}

TEST_F(jwt, appendix_b_seconds_entry_point) {
    auth::result r = auth::verify_connection_token(cfg(), kAppendixB, 1700000000);
    ASSERT_TRUE(std::holds_alternative<auth::principal>(r));
    auth::result e = auth::verify_connection_token(cfg(), kAppendixB, 1700003600);
    ASSERT_TRUE(std::holds_alternative<auth::failure>(e));
    EXPECT_EQ(std::get<auth::failure>(e).code, 4002);
    EXPECT_EQ(std::get<auth::failure>(e).reason, "token_expired");
}

// ---- signing ---------------------------------------------------------------------------------

TEST_F(jwt, sign_token_reproduces_appendix_b) {
    EXPECT_EQ(auth::sign_token("sk_id_test", "sk_secret_test",
                               R"({"sub":"alice","iat":1700000000,"exp":1700003600,"channels":["room-*"],"peerMetadata":{"name":"Alice"}})"),
              kAppendixB);
}

TEST_F(jwt, sign_token_round_trip) {
    std::string t = auth::sign_token("sk_id_other", "sk_secret_other",
                                     R"({"sub":"bob","exp":1700000100,"permissions":["send"]})");
    // Header is {"alg":"HS256","kid":"sk_id_other","typ":"JWT"}.
    auto header = parley::base64::decode_url(t.substr(0, t.find('.')));
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(*header, R"({"alg":"HS256","kid":"sk_id_other","typ":"JWT"})");
    const auth::principal* p = ok(t);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, "bob");
    EXPECT_EQ(p->key->id, "sk_id_other");
    EXPECT_EQ(p->key->app_index, 1u);
    ASSERT_NE(p->scope, nullptr);
    EXPECT_FALSE(p->scope->channels.has_value());
    ASSERT_TRUE(p->scope->actions.has_value());
    EXPECT_EQ(*p->scope->actions, config::action_send);
    // No segment carries padding.
    EXPECT_EQ(t.find('='), std::string::npos);
}

TEST_F(jwt, hmac_sha256_rfc4231_case_2) {
    std::string mac = auth::hmac_sha256("Jefe", "what do ya want for nothing?");
    static const char hex[] = "0123456789abcdef";
    std::string h;
    for (unsigned char c : mac) {
        h += hex[c >> 4];
        h += hex[c & 15];
    }
    EXPECT_EQ(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(jwt, minimal_token_has_no_scope) {
    const auth::principal* p = ok(token(payload()));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, "alice");
    EXPECT_EQ(p->scope, nullptr);
    EXPECT_TRUE(p->peer_metadata.empty());
}

TEST_F(jwt, other_header_members_and_claims_are_ignored) {
    const auth::principal* p = ok(raw_token(
        R"({"typ":"at+jwt","alg":"HS256","cty":"x","kid":"sk_id_test","x5u":"http://x"})",
        payload(R"("iss":"me","aud":["a"],"jti":"1","foo":{"bar":[1,2]})")));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, "alice");
}

// ---- rule 1: malformed -----------------------------------------------------------------------

TEST_F(jwt, rule1_segments) {
    const std::string good = token(payload());
    const std::size_t d1 = good.find('.');
    const std::size_t d2 = good.rfind('.');
    const std::string h = good.substr(0, d1), p = good.substr(d1 + 1, d2 - d1 - 1),
                      s = good.substr(d2 + 1);
    for (const std::string& t : {std::string(""), std::string("abc"), h + "." + p,
                                 h + "." + p + "." + s + "." + s, h + "." + p + "." + s + ".",
                                 std::string(".."), std::string("."), "." + p + "." + s,
                                 h + ".." + s}) {
        rejected(t, "invalid_token: malformed");
    }
}

TEST_F(jwt, rule1_base64url) {
    const std::string good = token(payload());
    const std::size_t d1 = good.find('.');
    const std::size_t d2 = good.rfind('.');
    const std::string h = good.substr(0, d1), p = good.substr(d1 + 1, d2 - d1 - 1),
                      s = good.substr(d2 + 1);
    rejected(h + "=." + p + "." + s, "invalid_token: malformed");  // padding
    rejected(h + "." + p + "==." + s, "invalid_token: malformed");
    rejected(h + "." + p + "." + s + "=", "invalid_token: malformed");
    rejected(h + "." + p + "." + s.substr(0, s.size() - 1) + "+", "invalid_token: malformed");
    rejected(h + "." + p + "." + s.substr(0, s.size() - 1) + "/", "invalid_token: malformed");
    rejected(h + "." + p + ".!!!!", "invalid_token: malformed");
    rejected(h + "." + p + "." + "a", "invalid_token: malformed");  // length 1 mod 4
    rejected(h + " ." + p + "." + s, "invalid_token: malformed");
    rejected(h + "." + p + "x." + s, "invalid_token: malformed");  // a stray character
}

TEST_F(jwt, rule1_json_objects) {
    auto with = [&](std::string_view header, std::string_view payload_text) {
        return b64(header) + "." + b64(payload_text) + ".c2ln";
    };
    const std::string hdr = R"({"alg":"HS256","kid":"sk_id_test"})";
    rejected(with("not json", payload()), "invalid_token: malformed");
    rejected(with("[]", payload()), "invalid_token: malformed");
    rejected(with("\"HS256\"", payload()), "invalid_token: malformed");
    rejected(with("", payload()), "invalid_token: malformed");
    rejected(with(hdr + " x", payload()), "invalid_token: malformed");
    rejected(with(hdr, "[1]"), "invalid_token: malformed");
    rejected(with(hdr, "null"), "invalid_token: malformed");
    rejected(with(hdr, "{\"sub\":\"alice\""), "invalid_token: malformed");
    rejected(with(hdr, "{\"sub\":\"\xff\"}"), "invalid_token: malformed");  // not UTF-8
    rejected(with("{\"alg\":\"HS256\",\"kid\":\"sk_id_test\",\"x\":\"\xc3\"}", payload()),
             "invalid_token: malformed");
}

// ---- rules 2-5 -------------------------------------------------------------------------------

TEST_F(jwt, rule2_alg) {
    for (const char* alg : {R"("none")", R"("RS256")", R"("HS384")", R"("hs256")", R"("HS256 ")",
                            R"("")", "256", "null", R"(["HS256"])"}) {
        rejected(raw_token(std::string(R"({"alg":)") + alg + R"(,"kid":"sk_id_test"})", payload()),
                 "invalid_token: unsupported alg");
    }
    rejected(raw_token(R"({"kid":"sk_id_test"})", payload()), "invalid_token: unsupported alg");
    // alg none with an empty signature (the classic attack).
    rejected(b64(R"({"alg":"none","kid":"sk_id_test"})") + "." + b64(payload()) + ".",
             "invalid_token: unsupported alg");
    // An escaped "HS256" is HS256.
    EXPECT_NE(ok(raw_token(R"({"alg":"HS\u0032\u0035\u0036","kid":"sk_id_test"})", payload())),
              nullptr);
}

TEST_F(jwt, rule3_kid) {
    rejected(raw_token(R"({"alg":"HS256"})", payload()), "invalid_token: missing kid");
    rejected(raw_token(R"({"alg":"HS256","kid":1})", payload()), "invalid_token: missing kid");
    rejected(raw_token(R"({"alg":"HS256","kid":null})", payload()), "invalid_token: missing kid");
    rejected(raw_token(R"({"alg":"HS256","kid":["sk_id_test"]})", payload()),
             "invalid_token: missing kid");
}

TEST_F(jwt, rule4_unknown_kid) {
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_nope"})", payload()),
             "invalid_token: unknown kid");
    rejected(raw_token(R"({"alg":"HS256","kid":""})", payload()), "invalid_token: unknown kid");
    rejected(raw_token(R"({"alg":"HS256","kid":"SK_ID_TEST"})", payload()),
             "invalid_token: unknown kid");
    // A publishable key is not a kid, whatever the signature.
    rejected(raw_token(R"({"alg":"HS256","kid":"pk_live_test"})", payload()),
             "invalid_token: unknown kid");
    rejected(raw_token(R"({"alg":"HS256","kid":"pk_live_test"})", payload(), "pk_live_test"),
             "invalid_token: unknown kid");
    // The secret is not the id.
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_secret_test"})", payload()),
             "invalid_token: unknown kid");
}

TEST_F(jwt, rule5_signature) {
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_test"})", payload(), "sk_secret_other"),
             "invalid_token: bad signature");
    // The key is the whole secret string, prefix included.
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_test"})", payload(), "test"),
             "invalid_token: bad signature");
    // Signed by the other app's key but naming this one.
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_test"})", payload(), "sk_secret_other"),
             "invalid_token: bad signature");
    const std::string good = token(payload());
    const std::size_t d2 = good.rfind('.');
    rejected(good.substr(0, d2 + 1), "invalid_token: bad signature");               // empty
    rejected(good.substr(0, good.size() - 4), "invalid_token: bad signature");      // truncated
    rejected(good + "AAAA", "invalid_token: bad signature");                        // extended
    // The signature covers the header and payload text exactly.
    std::string other_payload = b64(payload("\"x\":1"));
    rejected(good.substr(0, good.find('.') + 1) + other_payload + good.substr(d2),
             "invalid_token: bad signature");
}

TEST_F(jwt, rules_2_to_5_order) {
    // alg before kid.
    rejected(raw_token(R"({"alg":"none"})", payload()), "invalid_token: unsupported alg");
    // unknown kid before signature.
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_nope"})", payload(), "wrong"),
             "invalid_token: unknown kid");
    // signature before every claim.
    rejected(raw_token(R"({"alg":"HS256","kid":"sk_id_test"})", R"({"sub":""})", "wrong"),
             "invalid_token: bad signature");
    // malformed before alg.
    rejected(b64(R"({"alg":"none"})") + "." + b64(payload()) + ".!", "invalid_token: malformed");
}

// ---- rules 6-9: exp, lifetime, nbf, iat ------------------------------------------------------

TEST_F(jwt, rule6_exp) {
    rejected(token(R"({"sub":"alice"})"), "invalid_token: missing exp");
    rejected(token(R"({"sub":"alice","exp":"1700003600"})"), "invalid_token: missing exp");
    rejected(token(R"({"sub":"alice","exp":null})"), "invalid_token: missing exp");
    rejected(token(R"({"sub":"alice","exp":[1700003600]})"), "invalid_token: missing exp");
    rejected(token(R"({"sub":"alice","exp":true})"), "invalid_token: missing exp");
    rejected(token(R"({"sub":"alice","Exp":1700003600})"), "invalid_token: missing exp");
}

TEST_F(jwt, rule7_lifetime_cap_with_leeway) {
    // app1: maxTokenLifetime 3600, so exp - now <= 3630.
    EXPECT_NE(ok(token(payload("", NOW + 3630))), nullptr);
    rejected(token(payload("", NOW + 3631)), "invalid_token: lifetime too long");
    rejected(token(payload("", NOW + 86400)), "invalid_token: lifetime too long");
    // app2: the default 86400.
    auto other = [&](std::int64_t exp) {
        return auth::sign_token("sk_id_other", "sk_secret_other", payload("", exp));
    };
    EXPECT_NE(ok(other(NOW + 86430)), nullptr);
    rejected(other(NOW + 86431), "invalid_token: lifetime too long");
    // A huge exp is too long, not an overflow.
    rejected(token(R"({"sub":"alice","exp":1e400})"), "invalid_token: lifetime too long");
    rejected(token(R"({"sub":"alice","exp":99999999999999999999999})"),
             "invalid_token: lifetime too long");
}

TEST_F(jwt, rule7_uses_whole_seconds_of_now) {
    // now_ms = NOW*1000 + 999 still means now = NOW.
    EXPECT_NE(ok(token(payload("", NOW + 3630)), NOW * 1000 + 999), nullptr);
    rejected(token(payload("", NOW + 3631)), "invalid_token: lifetime too long", 4001,
             NOW * 1000 + 999);
}

TEST_F(jwt, exp_fractional_part_is_discarded) {
    std::string t = token(R"({"sub":"alice","exp":)" + std::to_string(NOW + 3630) + ".99}");
    const auth::principal* p = ok(t);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->expires_at, NOW + 3630);
    p = ok(token(R"({"sub":"alice","exp":1.7000036e9})"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->expires_at, 1700003600);
    p = ok(token(R"({"sub":"alice","exp":1700000100.5})"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->expires_at, 1700000100);
    rejected(token(R"({"sub":"alice","exp":)" + std::to_string(NOW + 3631) + ".0}"),
             "invalid_token: lifetime too long");
}

TEST_F(jwt, rule8_nbf) {
    EXPECT_NE(ok(token(payload("\"nbf\":" + std::to_string(NOW + 30)))), nullptr);
    EXPECT_NE(ok(token(payload("\"nbf\":" + std::to_string(NOW + 30) + ".9"))), nullptr);
    EXPECT_NE(ok(token(payload("\"nbf\":" + std::to_string(NOW - 1000)))), nullptr);
    EXPECT_NE(ok(token(payload("\"nbf\":0"))), nullptr);
    rejected(token(payload("\"nbf\":" + std::to_string(NOW + 31))), "invalid_token: not yet valid");
    rejected(token(payload("\"nbf\":\"0\"")), "invalid_token: not yet valid");
    rejected(token(payload("\"nbf\":null")), "invalid_token: not yet valid");
    rejected(token(payload("\"nbf\":1e400")), "invalid_token: not yet valid");
}

TEST_F(jwt, rule9_iat) {
    EXPECT_NE(ok(token(payload("\"iat\":" + std::to_string(NOW + 30)))), nullptr);
    EXPECT_NE(ok(token(payload("\"iat\":" + std::to_string(NOW + 30) + ".5"))), nullptr);
    EXPECT_NE(ok(token(payload("\"iat\":" + std::to_string(NOW - 5)))), nullptr);
    rejected(token(payload("\"iat\":" + std::to_string(NOW + 31))),
             "invalid_token: iat in the future");
    rejected(token(payload("\"iat\":\"now\"")), "invalid_token: iat in the future");
    rejected(token(payload("\"iat\":false")), "invalid_token: iat in the future");
}

TEST_F(jwt, exp_has_no_leeway) {
    // Deadline = exp * 1000 - 250 ms (section 13.1).
    const std::int64_t exp = NOW + 100;
    const std::string t = token(payload("", exp));
    EXPECT_NE(ok(t, exp * 1000 - 251), nullptr);
    rejected(t, "token_expired", 4002, exp * 1000 - 250);
    rejected(t, "token_expired", 4002, exp * 1000);
    rejected(token(payload("", NOW - 1)), "token_expired", 4002);
    rejected(token(payload("", 0)), "token_expired", 4002);
    rejected(token(payload("", -5)), "token_expired", 4002);
}

TEST_F(jwt, hugely_negative_exp_is_expired_not_an_overflow) {
    // Found by fuzz/jwt: exp = -1e300 saturated to -2^62 and exp x 1000 overflowed (UBSan).
    rejected(token(R"({"sub":"alice","exp":-1e300})"), "token_expired", 4002);
    rejected(token(R"({"sub":"alice","exp":-99999999999999999999999})"), "token_expired", 4002);
    rejected(token(R"({"sub":"alice","exp":-9223372036854775808})"), "token_expired", 4002);
    rejected(token(R"({"sub":"alice","exp":-9.3e15,"nbf":-1e300,"iat":-1e300})"), "token_expired",
             4002);
}

TEST_F(jwt, rules_6_to_9_order) {
    rejected(token(R"({"sub":"","nbf":9999999999,"iat":9999999999})"), "invalid_token: missing exp");
    rejected(token(payload("\"nbf\":9999999999", NOW + 999999)), "invalid_token: lifetime too long");
    rejected(token(payload("\"nbf\":9999999999,\"iat\":9999999999")),
             "invalid_token: not yet valid");
    rejected(token(R"({"sub":"","exp":)" + std::to_string(NOW + 60) + R"(,"iat":9999999999})"),
             "invalid_token: iat in the future");
}

// ---- rule 10: sub ----------------------------------------------------------------------------

TEST_F(jwt, rule10_sub) {
    auto with_sub = [&](std::string_view sub_json) {
        return token("{\"sub\":" + std::string(sub_json) + ",\"exp\":" + std::to_string(NOW + 60) + "}");
    };
    rejected(token("{\"exp\":" + std::to_string(NOW + 60) + "}"), "invalid_token: bad sub");
    for (const char* s : {R"("")", "5", "null", R"(["alice"])", R"("\u00e9")", "\"\xc3\xa9\"",
                          R"("a\u0000")", R"("a\u001f")", R"("a\u007f")", R"("a\ud800")",
                          R"("tab\there")"}) {
        rejected(with_sub(s), "invalid_token: bad sub");
    }
    rejected(with_sub("\"" + std::string(129, 'x') + "\""), "invalid_token: bad sub");
    const auth::principal* p = ok(with_sub("\"" + std::string(128, 'x') + "\""));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, std::string(128, 'x'));
    p = ok(with_sub(R"("\u0061lice \"the\" ~:/")"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, "alice \"the\" ~:/");
    p = ok(with_sub(R"(" ")"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_id, " ");
}

// ---- rules 11-12: channels, permissions ------------------------------------------------------

TEST_F(jwt, rule11_channels) {
    for (const char* c : {R"("room-*")", "{}", "5", "null", "true", R"(["a***"])", R"([""])",
                          R"([5])", R"(["ok",null])", R"(["a\\b"])", R"(["a\u0001"])",
                          R"(["a\ud800"])", R"([["room-*"]])"}) {
        rejected(token(payload(std::string("\"channels\":") + c)), "invalid_token: bad channels");
    }
    std::string list;
    for (int i = 0; i < 100; ++i) list += (i ? ",\"c" : "\"c") + std::to_string(i) + "-*\"";
    const auth::principal* p = ok(token(payload("\"channels\":[" + list + "]")));
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(p->scope && p->scope->channels);
    EXPECT_EQ(p->scope->channels->size(), 100u);
    EXPECT_EQ((*p->scope->channels)[99].text(), "c99-*");
    rejected(token(payload("\"channels\":[" + list + ",\"x\"]")), "invalid_token: bad channels");
    rejected(token(payload("\"channels\":[\"" + std::string(257, 'a') + "\"]")),
             "invalid_token: bad channels");
}

TEST_F(jwt, rule11_empty_channels_authorize_nothing) {
    const auth::principal* p = ok(token(payload("\"channels\":[]")));
    ASSERT_NE(p, nullptr);
    ASSERT_NE(p->scope, nullptr);
    ASSERT_TRUE(p->scope->channels.has_value());
    EXPECT_TRUE(p->scope->channels->empty());
    EXPECT_FALSE(p->scope->actions.has_value());
}

TEST_F(jwt, rule11_escaped_patterns_are_decoded) {
    const auth::principal* p = ok(token(payload(R"("channels":["c\\\\d/*","a\\*b","\u0072oom-*"])")));
    ASSERT_NE(p, nullptr);
    ASSERT_EQ(p->scope->channels->size(), 3u);
    EXPECT_TRUE((*p->scope->channels)[0].matches("c\\d/1"));
    EXPECT_EQ((*p->scope->channels)[1].literal_prefix(), "a*b");
    EXPECT_TRUE((*p->scope->channels)[2].matches("room-9"));
}

TEST_F(jwt, rule12_permissions) {
    const auth::principal* p =
        ok(token(payload(R"("permissions":["subscribe","publish","presence","send"])")));
    ASSERT_NE(p, nullptr);
    ASSERT_TRUE(p->scope && p->scope->actions);
    EXPECT_EQ(*p->scope->actions, config::action_all);
    EXPECT_FALSE(p->scope->channels.has_value());
    p = ok(token(payload(R"("permissions":[])")));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->scope->actions, 0);
    p = ok(token(payload(R"("permissions":["presence"],"channels":["a"])")));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->scope->actions, config::action_presence);
    EXPECT_EQ(p->scope->channels->size(), 1u);

    std::string sixteen;
    for (int i = 0; i < 16; ++i) sixteen += (i ? ",\"" : "\"") + std::string(i % 2 ? "send" : "publish") + "\"";
    p = ok(token(payload("\"permissions\":[" + sixteen + "]")));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p->scope->actions, config::action_send | config::action_publish);
    rejected(token(payload("\"permissions\":[" + sixteen + ",\"send\"]")),
             "invalid_token: bad permissions");
    for (const char* v : {R"("send")", "{}", "null", R"(["admin"])", R"(["Send"])", R"([1])",
                          R"(["send",null])", R"([""])", R"([["send"]])"}) {
        rejected(token(payload(std::string("\"permissions\":") + v)), "invalid_token: bad permissions");
    }
}

// ---- rules 13-14: peerMetadata, metadata -----------------------------------------------------

namespace {
// An object whose JSON text is exactly `n` bytes (n >= 10), with inner whitespace.
std::string object_of_size(std::size_t n) {
    const std::string head = "{ \"a\" : \"";
    const std::string tail = "\" }";
    return head + std::string(n - head.size() - tail.size(), 'x') + tail;
}
}  // namespace

TEST_F(jwt, rule13_peer_metadata) {
    const std::string m4096 = object_of_size(4096);
    ASSERT_EQ(m4096.size(), 4096u);
    const auth::principal* p = ok(token(payload("\"peerMetadata\":" + m4096)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_metadata, m4096);  // kept verbatim
    rejected(token(payload("\"peerMetadata\":" + object_of_size(4097))),
             "invalid_token: peerMetadata too large");
    for (const char* v : {"[]", R"("x")", "5", "true", R"([{"a":1}])"}) {
        rejected(token(payload(std::string("\"peerMetadata\":") + v)), "invalid_token: bad peerMetadata");
    }
    p = ok(token(payload("\"peerMetadata\":null")));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->peer_metadata.empty());
    p = ok(token(payload("\"peerMetadata\":{}")));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->peer_metadata, "{}");
}

TEST_F(jwt, rule14_metadata) {
    const std::string m8192 = object_of_size(8192);
    const auth::principal* p = ok(token(payload("\"metadata\":" + m8192)));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->metadata, m8192);
    EXPECT_FALSE(p->metadata_has_ice_servers);
    rejected(token(payload("\"metadata\":" + object_of_size(8193))),
             "invalid_token: metadata too large");
    for (const char* v : {"[]", R"("x")", "0", "false"}) {
        rejected(token(payload(std::string("\"metadata\":") + v)), "invalid_token: bad metadata");
    }
    p = ok(token(payload("\"metadata\":null")));
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->metadata.empty());
    EXPECT_FALSE(p->metadata_has_ice_servers);
}

TEST_F(jwt, rule14_metadata_ice_servers_flag) {
    struct tc {
        const char* md;
        bool flagged;
    } cases[] = {
        {R"({"iceServers":[{"urls":["stun:x"]}]})", true},
        {R"({"iceServers":[]})", true},
        {R"({"iceServers":null})", true},
        {R"({"other":1,"iceServers":"anything"})", true},
        {R"({"ice\u0053ervers":[]})", true},
        {R"({"x":{"iceServers":[]}})", false},
        {R"({"iceservers":[]})", false},
        {R"({})", false},
    };
    for (const auto& c : cases) {
        const auth::principal* p = ok(token(payload(std::string("\"metadata\":") + c.md)));
        ASSERT_NE(p, nullptr) << c.md;
        EXPECT_EQ(p->metadata_has_ice_servers, c.flagged) << c.md;
        EXPECT_EQ(p->metadata, c.md);
    }
}

TEST_F(jwt, rules_10_to_14_order) {
    rejected(token(R"({"sub":"","exp":)" + std::to_string(NOW + 60) + R"(,"channels":5})"),
             "invalid_token: bad sub");
    rejected(token(payload(R"("channels":5,"permissions":5)")), "invalid_token: bad channels");
    rejected(token(payload(R"("permissions":5,"peerMetadata":5)")), "invalid_token: bad permissions");
    rejected(token(payload(R"("peerMetadata":5,"metadata":5)")), "invalid_token: bad peerMetadata");
    rejected(token(payload("\"peerMetadata\":" + object_of_size(5000) + ",\"metadata\":5")),
             "invalid_token: peerMetadata too large");
}

TEST_F(jwt, invalid_claims_beat_expiry) {
    // Admission checks the token (4001) before the deadline (4002).
    rejected(token(payload("\"metadata\":5", NOW - 100)), "invalid_token: bad metadata");
    rejected(token(payload("\"channels\":5", NOW - 100)), "invalid_token: bad channels");
    rejected(token(R"({"sub":"","exp":1})"), "invalid_token: bad sub");
    std::string t = kAppendixB;
    t[t.rfind('.') + 1] = 'c';
    rejected(t, "invalid_token: bad signature", 4001, 1700003600000);
}
