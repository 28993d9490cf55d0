// Fuzz target: admission credentials (auth/auth, auth/jwt, util/base64; PROTOCOL.md 3.1-3.3).
// The first byte picks a mode:
//   0: the input is a token, verified as is (structure, base64url, JSON, signature);
//   1: the input is "<header JSON>\n<payload JSON>", signed with the configured secret, so the
//      claim checks after the signature are reached;
//   2: the input is a query string for authenticate() (percent-decoding, parameter rules).
// Checks: nothing crashes or overflows, and an admitted principal satisfies every rule of 3.3.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "check.hpp"
#include "auth/auth.hpp"
#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"
#include "util/base64.hpp"

namespace {

namespace auth = parley::auth;
namespace config = parley::config;

constexpr std::int64_t now = 1700000000;

const config::config& cfg() {
    static const config::config_ptr c = config::parse(R"(
[[apps]]
id = "fuzz"
max_token_lifetime = 3600
  [[apps.keys]]
  type = "secret"
  id = "sk_id_fuzz"
  secret = "sk_secret_fuzz"
  channels = ["**"]
  [[apps.keys]]
  type = "publishable"
  id = "pk_live_fuzz"
  channels = ["room-*"]
  allowed_origins = ["https://example.com", "http://[::1]:8080"]
)",
                                                      "fuzz.toml");
    return *c;
}

void check_principal(const auth::result& r) {
    if (const auto* f = std::get_if<auth::failure>(&r)) {
        FUZZ_CHECK(f->code == 4001 || f->code == 4002);
        FUZZ_CHECK(!f->reason.empty() && f->reason.size() <= 123);
        return;
    }
    const auto& p = std::get<auth::principal>(r);
    FUZZ_CHECK(p.key != nullptr);
    if (p.key->type == config::key_type::publishable) {
        FUZZ_CHECK(p.peer_id.empty() && !p.expires_at);
        return;
    }
    FUZZ_CHECK(parley::proto::valid_peer_id(p.peer_id));
    FUZZ_CHECK(p.expires_at.has_value());
    FUZZ_CHECK(*p.expires_at * 1000 - 250 > now * 1000);                   // not expired
    FUZZ_CHECK(*p.expires_at - now <= 3600 + auth::clock_leeway_seconds);  // lifetime cap
    FUZZ_CHECK(p.peer_metadata.size() <= auth::max_peer_metadata_bytes);
    FUZZ_CHECK(p.metadata.size() <= auth::max_metadata_bytes);
    std::vector<parley::json::member> members;
    if (!p.peer_metadata.empty()) {
        FUZZ_CHECK(parley::json::scan_object(p.peer_metadata, members) == parley::json::scan_result::ok);
    }
    if (!p.metadata.empty()) {
        FUZZ_CHECK(parley::json::scan_object(p.metadata, members) == parley::json::scan_result::ok);
    }
    if (p.scope && p.scope->channels) {
        FUZZ_CHECK(p.scope->channels->size() <= auth::max_token_channels);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const unsigned mode = data[0] % 3;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    if (mode == 0) {
        check_principal(auth::verify_connection_token(cfg(), in, now));
    } else if (mode == 1) {
        std::size_t nl = in.find('\n');
        std::string_view header = nl == std::string_view::npos ? std::string_view("{}") : in.substr(0, nl);
        std::string_view payload = nl == std::string_view::npos ? in : in.substr(nl + 1);
        std::string input = parley::base64::encode_url(header) + "." + parley::base64::encode_url(payload);
        std::string token =
            input + "." + parley::base64::encode_url(auth::hmac_sha256("sk_secret_fuzz", input));
        check_principal(auth::verify_connection_token(cfg(), token, now));
        // The same token with the milliseconds clock just before and after the deadline.
        (void)auth::verify_connection_token_ms(cfg(), token, now * 1000 + 999);
    } else {
        std::size_t nl = in.find('\n');
        std::optional<std::string> origin;
        std::string_view query = in;
        if (nl != std::string_view::npos) {
            origin = std::string(in.substr(nl + 1));
            query = in.substr(0, nl);
        }
        check_principal(auth::authenticate(cfg(), query, origin, now * 1000));
        if (origin) {
            (void)config::normalize_origin(*origin);
        }
    }
    return 0;
}
