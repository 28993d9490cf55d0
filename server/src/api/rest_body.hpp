// Validation of REST request bodies (PROTOCOL.md sections 17.2 and 17.4): pure functions of the
// body text and the key's settings, shared by the REST handlers (api/rest.cpp) and the fuzz
// target fuzz/rest_body.cpp. The 400 and 403 answers are decided here, in the order of 17.1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.hpp"

namespace parley::api {

// An HTTP error for a request: status, `error` code and message.
struct rest_error {
    unsigned status = 400;
    std::string code;
    std::string message;
};

// A validated POST /v1/tokens body. The optional claims keep their JSON text as received.
struct token_request {
    std::string peer_id;
    std::int64_t lifetime = 0;  // seconds: expiresInSec, or min(3600, maxTokenLifetime)
    std::optional<std::string> channels_json;
    std::optional<std::string> permissions_json;
    std::optional<std::string> metadata_json;
    std::optional<std::string> peer_metadata_json;
};

// Validates a POST /v1/tokens body for `key` of `app`: 400 invalid_request for a malformed body
// or member, then 403 action_not_permitted / channel_not_authorized when the token would exceed
// the key's scope.
std::variant<token_request, rest_error> parse_token_request(std::string_view body,
                                                            const config::app_config& app,
                                                            const config::key_config& key);

// The JWT payload (claims JSON) for a validated request minted at unix time `now`:
// sub, iat, exp, then channels, permissions, metadata and peerMetadata exactly when given.
std::string token_payload(const token_request& req, std::int64_t now);

// A validated POST /v1/channels/:id/publish body. `data` and `peer_metadata_json` view the body.
struct publish_request {
    std::string_view data;                // the JSON text of `data`, relayed verbatim
    std::string from = "system";          // decoded `from`
    std::string_view peer_metadata_json;  // empty when absent
};

// Validates a publish body: 400 invalid_request unless it is an object with `data` of at most
// `max_message_size` bytes, a valid `from` when present, and `peerMetadata` an object of at
// most 4096 bytes when present. The result's views point into `body`.
std::variant<publish_request, rest_error> parse_publish_request(std::string_view body,
                                                                std::size_t max_message_size);

}  // namespace parley::api
