// Admission credentials (PROTOCOL.md section 3): the query-string parameters, publishable keys
// with their allowed origins, and the seam where JWTs are verified.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace parley::auth {

// What a JWT adds to the key's scope (section 3.5); absent members mean "the key's alone".
struct token_scope {
    std::optional<std::vector<proto::pattern>> channels;
    std::optional<std::uint8_t> actions;
};

// An admitted credential.
struct principal {
    const config::key_config* key = nullptr;
    std::string peer_id;                  // empty: assign a random UUID
    std::string peer_metadata;            // JSON object text, or empty
    std::string metadata;                 // JSON object text for the welcome, or empty
    bool metadata_has_ice_servers = false;
    std::optional<std::int64_t> expires_at;  // JWT exp (unix seconds)
    std::unique_ptr<token_scope> scope;      // JWT channels / permissions, when given
};

struct failure {
    std::uint16_t code = 4001;
    std::string reason;
};

using result = std::variant<principal, failure>;

// Percent-decodes one query component (RFC 3986; '+' is not special). nullopt when malformed.
std::optional<std::string> percent_decode(std::string_view s);

// Checks steps 1-3 of the admission table (section 3): exactly one credential, the key or token
// valid, token not expired. `query` is the part of the request target after '?'; `origin` is
// the Origin header when present; `now_ms` is unix time in milliseconds (the token expiry
// deadline of section 13.1 has millisecond precision).
result authenticate(const config::config& cfg, std::string_view query,
                    const std::optional<std::string>& origin, std::int64_t now_ms);

// Generates a random UUID v4 in lowercase 8-4-4-4-12 form.
std::string random_uuid();

}  // namespace parley::auth
