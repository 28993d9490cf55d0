// TURN credentials in coturn's TURN REST scheme (`use-auth-secret`), injected into
// welcome.metadata.iceServers (PROTOCOL.md section 16).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace parley::turn {

struct credential {
    std::string username;    // "<expiry>:<peerId>"
    std::string password;    // base64(HMAC-SHA1(secret, username))
};

// The credential valid until unix time `expiry` for `peer_id`.
credential make_credential(std::string_view secret, std::string_view peer_id, std::int64_t expiry);

// The iceServers array for a connection admitted at unix time `now`: STUN URLs first (no
// credential), then TURN URLs with a fresh credential.
std::string ice_servers_json(const config::turn_config& turn, std::string_view peer_id, std::int64_t now);

// Returns `metadata_json` (an object's text, or empty for none) with an "iceServers" member set
// to `ice_json` appended.
std::string with_ice_servers(std::string_view metadata_json, std::string_view ice_json);

}  // namespace parley::turn
