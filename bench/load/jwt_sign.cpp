// HS256 signing for the load generator (see jwt_sign.hpp).
#include "jwt_sign.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace parley::bench {
namespace {

std::string base64url(std::string_view in) {
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(in[k]); };
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
        out += table[v & 63];
    }
    if (i + 1 == in.size()) {
        unsigned v = byte(i) << 16;
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
    } else if (i + 2 == in.size()) {
        unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += table[(v >> 6) & 63];
    }
    return out;
}

}  // namespace

std::string sign_jwt(std::string_view kid, std::string_view secret, std::string_view sub,
                     std::int64_t exp) {
    std::string header = std::string(R"({"alg":"HS256","kid":")") + std::string(kid) +
                         R"(","typ":"JWT"})";
    std::string payload = std::string(R"({"sub":")") + std::string(sub) +
                          R"(","exp":)" + std::to_string(exp) + "}";
    std::string signing_input = base64url(header) + "." + base64url(payload);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac,
         &mac_len);
    return signing_input + "." +
           base64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace parley::bench
