// Upgrade checks and static file mapping; see handshake.hpp.
#include "http/handshake.hpp"

#include <openssl/evp.h>

#include <boost/beast/core/string.hpp>

#include "util/base64.hpp"

namespace parley::http {

namespace bhttp = boost::beast::http;

bool has_token(std::string_view value, std::string_view token) {
    std::size_t pos = 0;
    while (pos <= value.size()) {
        std::size_t comma = value.find(',', pos);
        std::string_view item =
            value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
            item.remove_prefix(1);
        }
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
            item.remove_suffix(1);
        }
        if (boost::beast::iequals(item, token)) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        pos = comma + 1;
    }
    return false;
}

bool valid_websocket_key(std::string_view key) {
    // 16 random bytes, base64: 22 characters and "==".
    if (key.size() != 24 || key.substr(22) != "==") {
        return false;
    }
    for (char c : key.substr(0, 22)) {
        const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '+' && c != '/') {
            return false;
        }
    }
    return true;
}

std::string websocket_accept(std::string_view key) {
    std::string input(key);
    input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";  // RFC 6455 section 1.3
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(input.data(), input.size(), digest, &len, EVP_sha1(), nullptr);
    return base64::encode(std::string_view(reinterpret_cast<char*>(digest), len));
}

std::optional<upgrade_refusal> check_upgrade(const bhttp::request_header<>& req) {
    if (req.method() != bhttp::verb::get) {
        return upgrade_refusal{405, "method_not_allowed", "the WebSocket endpoint accepts GET only",
                               bhttp::field::allow, "GET"};
    }
    if (!has_token(req[bhttp::field::upgrade], "websocket")) {
        return upgrade_refusal{426, "upgrade_required", "a WebSocket upgrade is required",
                               bhttp::field::upgrade, "websocket"};
    }
    if (req[bhttp::field::sec_websocket_version] != "13") {
        return upgrade_refusal{426, "upgrade_required", "Sec-WebSocket-Version must be 13",
                               bhttp::field::sec_websocket_version, "13"};
    }
    if (req.version() < 11 || !has_token(req[bhttp::field::connection], "upgrade") ||
        !valid_websocket_key(req[bhttp::field::sec_websocket_key])) {
        return upgrade_refusal{400, "invalid_request", "invalid WebSocket handshake",
                               bhttp::field::unknown, {}};
    }
    return std::nullopt;
}

std::optional<std::filesystem::path> static_file(const std::string& root, std::string_view path) {
    if (path.empty() || path.front() != '/') {
        return std::nullopt;
    }
    std::string rel(path.substr(1));
    // "//etc/passwd" would leave "/etc/passwd": joined to root it replaces root entirely.
    if (!rel.empty() && rel.front() == '/') {
        return std::nullopt;
    }
    if (rel.empty() || rel.back() == '/') {
        rel += "index.html";
    }
    if (rel.find("..") != std::string::npos || rel.find('\\') != std::string::npos ||
        rel.find('\0') != std::string::npos) {
        return std::nullopt;
    }
    return std::filesystem::path(root) / rel;
}

}  // namespace parley::http
