// JWT verification and signing; see jwt.hpp. The checks run in exactly the order of the table in
// PROTOCOL.md section 3.3, because the first failing check decides the close reason.
#include "auth/jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <simdjson.h>

#include "proto/channel.hpp"
#include "proto/json_scan.hpp"
#include "util/base64.hpp"
#include "util/json_writer.hpp"

namespace parley::auth {

std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}

std::string sign_token(std::string_view kid, std::string_view secret, std::string_view payload_json) {
    std::string header = "{\"alg\":\"HS256\",\"kid\":";
    json::append_string(header, kid);
    header += ",\"typ\":\"JWT\"}";
    std::string signing_input = base64::encode_url(header) + "." + base64::encode_url(payload_json);
    std::string sig = hmac_sha256(secret, signing_input);
    return signing_input + "." + base64::encode_url(sig);
}

namespace {

failure bad(std::string_view why) { return failure{4001, "invalid_token: " + std::string(why)}; }

// A JWT segment's JSON object; repeated member names make it invalid (no guessing which wins).
bool parse_segment(std::string_view text, json::object& out) {
    return json::parse_object(text, out) && !out.has_duplicate_names();
}

// Integer part of a JSON number (fractional part discarded), saturated to +-2^52 seconds (far
// beyond any real date) so that the expiry deadline, exp x 1000 - 250 ms, cannot overflow.
std::int64_t number_seconds(std::string_view text) {
    double v = std::strtod(std::string(text).c_str(), nullptr);
    if (std::isnan(v)) {
        return 0;
    }
    v = std::trunc(v);
    constexpr double lim = 4503599627370496.0;  // 2^52
    if (v > lim) {
        return static_cast<std::int64_t>(lim);
    }
    if (v < -lim) {
        return -static_cast<std::int64_t>(lim);
    }
    return static_cast<std::int64_t>(v);
}

}  // namespace

std::optional<std::vector<proto::pattern>> parse_channel_list(const json::member& m) {
    std::vector<json::member> items;
    if (m.kind != json::value_kind::array || json::scan_array(m.value, items) != json::scan_result::ok ||
        items.size() > max_token_channels) {
        return std::nullopt;
    }
    std::vector<proto::pattern> patterns;
    for (const auto& item : items) {
        bool lone = false;
        std::optional<proto::pattern> p;
        if (item.kind == json::value_kind::string) {
            p = proto::pattern::compile(json::decode_string(item, &lone));
        }
        if (!p || lone) {
            return std::nullopt;
        }
        patterns.push_back(std::move(*p));
    }
    return patterns;
}

std::optional<std::uint8_t> parse_action_list(const json::member& m) {
    std::vector<json::member> items;
    if (m.kind != json::value_kind::array || json::scan_array(m.value, items) != json::scan_result::ok ||
        items.size() > max_token_permissions) {
        return std::nullopt;
    }
    std::uint8_t bits = 0;
    for (const auto& item : items) {
        const std::string a = item.kind == json::value_kind::string ? json::decode_string(item) : "";
        if (a == "subscribe") {
            bits |= config::action_subscribe;
        } else if (a == "publish") {
            bits |= config::action_publish;
        } else if (a == "presence") {
            bits |= config::action_presence;
        } else if (a == "send") {
            bits |= config::action_send;
        } else {
            return std::nullopt;
        }
    }
    return bits;
}

result verify_connection_token(const config::config& cfg, std::string_view token, std::int64_t now) {
    return verify_connection_token_ms(cfg, token, now * 1000);
}

result verify_connection_token_ms(const config::config& cfg, std::string_view token,
                                  std::int64_t now_ms) {
    const std::int64_t now = now_ms / 1000;
    // 1. Structure.
    std::size_t d1 = token.find('.');
    std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
        token.find('.', d2 + 1) != std::string_view::npos) {
        return bad("malformed");
    }
    auto header = base64::decode_url(token.substr(0, d1));
    auto payload = base64::decode_url(token.substr(d1 + 1, d2 - d1 - 1));
    auto signature = base64::decode_url(token.substr(d2 + 1));
    if (!header || !payload || !signature) {
        return bad("malformed");
    }
    json::object h;
    json::object p;
    if (!simdjson::validate_utf8(*header) || !simdjson::validate_utf8(*payload) ||
        !parse_segment(*header, h) || !parse_segment(*payload, p)) {
        return bad("malformed");
    }
    bool lone = false;
    // 2. alg.
    const json::member* alg = h.get("alg");
    if (alg == nullptr || alg->kind != json::value_kind::string || json::decode_string(*alg) != "HS256") {
        return bad("unsupported alg");
    }
    // 3-4. kid.
    const json::member* kid_m = h.get("kid");
    if (kid_m == nullptr || kid_m->kind != json::value_kind::string) {
        return bad("missing kid");
    }
    const config::key_config* key = cfg.find_key(json::decode_string(*kid_m));
    if (key == nullptr || key->type != config::key_type::secret) {
        return bad("unknown kid");
    }
    // 5. Signature, compared in constant time. The canonical base64url text is compared, so a
    // signature spelled differently (non-zero unused bits) does not verify.
    std::string expected = base64::encode_url(hmac_sha256(key->secret, token.substr(0, d2)));
    std::string_view given = token.substr(d2 + 1);
    if (given.size() != expected.size() ||
        CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
        return bad("bad signature");
    }
    const config::app_config& app = cfg.apps[key->app_index];
    // 6-7. exp and the lifetime cap.
    const json::member* exp_m = p.get("exp");
    if (exp_m == nullptr || exp_m->kind != json::value_kind::number) {
        return bad("missing exp");
    }
    const std::int64_t exp = number_seconds(exp_m->value);
    if (exp - now > app.max_token_lifetime + clock_leeway_seconds) {
        return bad("lifetime too long");
    }
    // 8. nbf.
    if (const json::member* nbf = p.get("nbf")) {
        if (nbf->kind != json::value_kind::number || number_seconds(nbf->value) > now + clock_leeway_seconds) {
            return bad("not yet valid");
        }
    }
    // 9. iat.
    if (const json::member* iat = p.get("iat")) {
        if (iat->kind != json::value_kind::number || number_seconds(iat->value) > now + clock_leeway_seconds) {
            return bad("iat in the future");
        }
    }
    // 10. sub.
    const json::member* sub_m = p.get("sub");
    if (sub_m == nullptr || sub_m->kind != json::value_kind::string) {
        return bad("bad sub");
    }
    std::string sub = json::decode_string(*sub_m, &lone);
    if (lone || !proto::valid_peer_id(sub)) {
        return bad("bad sub");
    }
    principal out;
    out.key = key;
    out.peer_id = std::move(sub);
    out.expires_at = exp;
    // 11. channels.
    if (const json::member* ch = p.get("channels")) {
        auto patterns = parse_channel_list(*ch);
        if (!patterns) {
            return bad("bad channels");
        }
        out.scope = std::make_unique<token_scope>();
        out.scope->channels = std::move(*patterns);
    }
    // 12. permissions.
    if (const json::member* perms = p.get("permissions")) {
        auto bits = parse_action_list(*perms);
        if (!bits) {
            return bad("bad permissions");
        }
        if (!out.scope) {
            out.scope = std::make_unique<token_scope>();
        }
        out.scope->actions = *bits;
    }
    // 13. peerMetadata.
    if (const json::member* pm = p.get("peerMetadata"); pm != nullptr && pm->kind != json::value_kind::null) {
        if (pm->kind != json::value_kind::object) {
            return bad("bad peerMetadata");
        }
        if (pm->value.size() > max_peer_metadata_bytes) {
            return bad("peerMetadata too large");
        }
        out.peer_metadata = std::string(pm->value);
    }
    // 14. metadata.
    if (const json::member* md = p.get("metadata"); md != nullptr && md->kind != json::value_kind::null) {
        if (md->kind != json::value_kind::object) {
            return bad("bad metadata");
        }
        if (md->value.size() > max_metadata_bytes) {
            return bad("metadata too large");
        }
        out.metadata = std::string(md->value);
        json::object mv;
        if (parse_segment(out.metadata, mv)) {
            out.metadata_has_ice_servers = mv.get("iceServers") != nullptr;
        }
    }
    // Admission step 3: the expiry deadline (section 13.1).
    if (now_ms >= exp * 1000 - 250) {
        return failure{4002, "token_expired"};
    }
    return out;
}

}  // namespace parley::auth
