// HS256 JSON Web Tokens for the generator's JWT-authenticated connections (PROTOCOL.md §3.3),
// signed with OpenSSL: the generator does not link the server's auth code.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

// Returns the compact token {"alg":"HS256","kid":kid,"typ":"JWT"}.{"sub":sub,"exp":exp} signed
// with the UTF-8 bytes of `secret`.
std::string sign_jwt(std::string_view kid, std::string_view secret, std::string_view sub,
                     std::int64_t exp);

}  // namespace parley::bench
