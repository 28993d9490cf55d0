// Fuzz target: REST request bodies (api/rest_body; PROTOCOL.md 17.2 and 17.4). The first byte
// picks the body kind (token request or publish) and the key used; the rest is the body.
// Checks: validation never crashes; answers are 400 or 403 with the codes of 17.1; an accepted
// publish body has a valid `from` and `data` within the limit; and every token request that is
// accepted mints a token that parleyd's own verifier admits with the same peerId and scope.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "check.hpp"
#include "api/rest_body.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"

namespace {

namespace api = parley::api;
namespace auth = parley::auth;
namespace config = parley::config;

constexpr std::int64_t now = 1700000000;

const config::config& cfg() {
    static const config::config_ptr c = config::parse(R"(
[[apps]]
id = "fuzz"
max_token_lifetime = 7200
  [[apps.keys]]
  type = "secret"
  id = "sk_id_all"
  secret = "sk_secret_all"
  channels = ["**"]
  [[apps.keys]]
  type = "secret"
  id = "sk_id_narrow"
  secret = "sk_secret_narrow"
  channels = ["room-*", "team/**", "a\\*b"]
  actions = ["subscribe", "presence"]
)",
                                                      "fuzz.toml");
    return *c;
}

void check_error(const api::rest_error& e) {
    FUZZ_CHECK(e.status == 400 || e.status == 403);
    FUZZ_CHECK(e.status != 400 || e.code == "invalid_request");
    FUZZ_CHECK(e.status != 403 || e.code == "action_not_permitted" ||
               e.code == "channel_not_authorized");
    FUZZ_CHECK(!e.message.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    const config::app_config& app = cfg().apps[0];
    const config::key_config& key = app.keys[data[0] & 1];

    if ((data[0] & 2) != 0) {
        auto r = api::parse_publish_request(body, 1024);
        if (auto* e = std::get_if<api::rest_error>(&r)) {
            check_error(*e);
            FUZZ_CHECK(e->status == 400);
            return 0;
        }
        const auto& p = std::get<api::publish_request>(r);
        FUZZ_CHECK(p.data.size() <= 1024 && parley::json::validate(p.data));
        FUZZ_CHECK(parley::proto::valid_peer_id(p.from));
        FUZZ_CHECK(p.peer_metadata_json.size() <= auth::max_peer_metadata_bytes);
        return 0;
    }

    auto r = api::parse_token_request(body, app, key);
    if (auto* e = std::get_if<api::rest_error>(&r)) {
        check_error(*e);
        return 0;
    }
    const auto& req = std::get<api::token_request>(r);
    FUZZ_CHECK(req.lifetime >= 1 && req.lifetime <= app.max_token_lifetime);
    // What POST /v1/tokens returns must be a token parleyd admits, as the same peer.
    std::string token = auth::sign_token(key.id, key.secret, api::token_payload(req, now));
    auth::result v = auth::verify_connection_token(cfg(), token, now);
    if (auto* f = std::get_if<auth::failure>(&v)) {
        std::fprintf(stderr, "minted token refused: %d %s\n", f->code, f->reason.c_str());
        FUZZ_CHECK(!"a minted token is admitted");
    }
    const auto& p = std::get<auth::principal>(v);
    FUZZ_CHECK(p.peer_id == req.peer_id);
    FUZZ_CHECK(p.key == &key);
    FUZZ_CHECK(p.expires_at && *p.expires_at == now + req.lifetime);
    FUZZ_CHECK(req.channels_json.has_value() == (p.scope && p.scope->channels.has_value()));
    FUZZ_CHECK(req.permissions_json.has_value() == (p.scope && p.scope->actions.has_value()));
    if (p.scope && p.scope->actions) {
        FUZZ_CHECK((*p.scope->actions & ~key.actions) == 0);
    }
    if (p.scope && p.scope->channels) {
        for (const auto& c : *p.scope->channels) {
            bool covered = false;
            for (const auto& k : key.channels) {
                covered = covered || k.covers(c);
            }
            FUZZ_CHECK(covered);
        }
    }
    FUZZ_CHECK(p.metadata == req.metadata_json.value_or(""));
    FUZZ_CHECK(p.peer_metadata == req.peer_metadata_json.value_or(""));
    return 0;
}
