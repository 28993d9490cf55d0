// HS256 JSON Web Tokens as PROTOCOL.md section 3.3 defines them: verification of connection
// tokens (every check in the spec's order, with its 4001 reason) and signing for POST /v1/tokens.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <optional>
#include <vector>

#include "auth/auth.hpp"
#include "config/config.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"

namespace parley::auth {

// Clock leeway for nbf, iat and the lifetime cap (section 3.3, section 20).
inline constexpr std::int64_t clock_leeway_seconds = 30;
// Size caps of the peerMetadata and metadata claims (section 20).
inline constexpr std::size_t max_peer_metadata_bytes = 4096;
inline constexpr std::size_t max_metadata_bytes = 8192;
// Entry caps of the channels and permissions claims.
inline constexpr std::size_t max_token_channels = 100;
inline constexpr std::size_t max_token_permissions = 16;

// A JSON array of at most max_token_channels channel patterns (the `channels` claim, and the
// same member of POST /v1/tokens). nullopt when it is anything else.
std::optional<std::vector<proto::pattern>> parse_channel_list(const json::member& m);
// A JSON array of at most max_token_permissions action names, as bits. nullopt otherwise.
std::optional<std::uint8_t> parse_action_list(const json::member& m);

// Verifies `token` at unix time `now`: 4001 with the spec's reason for a bad token, 4002
// token_expired when its expiry deadline (exp x 1000 - 250 ms) has passed.
result verify_connection_token(const config::config& cfg, std::string_view token, std::int64_t now);

// Same, with the current time in milliseconds (the expiry deadline has millisecond precision).
result verify_connection_token_ms(const config::config& cfg, std::string_view token,
                                  std::int64_t now_ms);

// Signs `payload_json` with header {"alg":"HS256","kid":kid,"typ":"JWT"} and returns the
// compact token.
std::string sign_token(std::string_view kid, std::string_view secret, std::string_view payload_json);

// HMAC-SHA256 of `data` keyed with `key` (32 raw bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace parley::auth
