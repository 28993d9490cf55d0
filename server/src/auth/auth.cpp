// Admission credentials; see auth.hpp.
#include "auth/auth.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include "auth/jwt.hpp"

namespace parley::auth {

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c != '%') {
            out.push_back(c);
            continue;
        }
        if (i + 2 >= s.size()) {
            return std::nullopt;
        }
        auto hex = [](char h) -> int {
            if (h >= '0' && h <= '9') return h - '0';
            if (h >= 'a' && h <= 'f') return h - 'a' + 10;
            if (h >= 'A' && h <= 'F') return h - 'A' + 10;
            return -1;
        };
        int hi = hex(s[i + 1]);
        int lo = hex(s[i + 2]);
        if (hi < 0 || lo < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

namespace {

result authenticate_key(const config::config& cfg, const std::string& value,
                        const std::optional<std::string>& origin) {
    const config::key_config* key = cfg.find_key(value);
    if (key == nullptr || key->type != config::key_type::publishable) {
        return failure{4001, "invalid_key"};
    }
    if (!key->allowed_origins.empty()) {
        std::optional<std::string> normalized;
        if (origin && *origin != "null") {
            normalized = config::normalize_origin(*origin);
        }
        if (!normalized || std::find(key->allowed_origins.begin(), key->allowed_origins.end(),
                                     *normalized) == key->allowed_origins.end()) {
            return failure{4001, "origin_not_allowed"};
        }
    }
    principal p;
    p.key = key;
    return p;
}

}  // namespace

result authenticate(const config::config& cfg, std::string_view query,
                    const std::optional<std::string>& origin, std::int64_t now_ms) {
    // Exactly one `key` or `token` parameter (section 3.1); values are percent-decoded.
    bool is_token = false;
    std::optional<std::string> value;
    int credentials = 0;
    std::size_t pos = 0;
    while (!query.empty()) {
        std::size_t amp = query.find('&', pos);
        std::string_view pair = query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        std::size_t eq = pair.find('=');
        auto name = percent_decode(pair.substr(0, eq));
        if (name && (*name == "key" || *name == "token")) {
            ++credentials;
            is_token = *name == "token";
            value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        pos = amp + 1;
    }
    if (credentials == 0) {
        return failure{4001, "missing_credential"};
    }
    if (credentials > 1) {
        return failure{4001, "conflicting_credentials"};
    }
    if (!is_token) {
        if (!value) {
            return failure{4001, "invalid_key"};
        }
        return authenticate_key(cfg, *value, origin);
    }
    if (!value) {
        return failure{4001, "invalid_token: malformed"};
    }
    return verify_connection_token_ms(cfg, *value, now_ms);
}

std::string random_uuid() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        // RAND_bytes only fails when the OS has no entropy source; nothing sensible remains.
        std::abort();
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(hex[b[i] >> 4]);
        out.push_back(hex[b[i] & 0xF]);
    }
    return out;
}

}  // namespace parley::auth
