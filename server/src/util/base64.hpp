// Base64 (RFC 4648): the standard alphabet with padding (TURN credentials, WebSocket accept)
// and the URL-safe alphabet without padding (JWT segments).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::base64 {

std::string encode(std::string_view bytes);
std::string encode_url(std::string_view bytes);
// Strict base64url decoding without padding; nullopt on any invalid character or length.
std::optional<std::string> decode_url(std::string_view text);

}  // namespace parley::base64
