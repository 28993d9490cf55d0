// The checks of a WebSocket upgrade request (PROTOCOL.md section 2, RFC 6455 section 4.2.1) and
// the mapping of a request path to a static file. Pure functions of the parsed request, shared
// by http_session and the fuzz target fuzz/http_handshake.cpp.
#pragma once

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace parley::http {

// True when the comma-separated header value contains `token` (ASCII case-insensitive, optional
// whitespace around items).
bool has_token(std::string_view value, std::string_view token);

// True for a Sec-WebSocket-Key that is 16 bytes in base64 (22 characters and "==").
bool valid_websocket_key(std::string_view key);

// The Sec-WebSocket-Accept value for `key` (RFC 6455 section 1.3).
std::string websocket_accept(std::string_view key);

// Why an upgrade request is refused: the HTTP error to send.
struct upgrade_refusal {
    unsigned status = 400;
    std::string_view code;
    std::string_view message;
    // A header the response must carry (Allow, Upgrade, Sec-WebSocket-Version), or unknown.
    boost::beast::http::field header = boost::beast::http::field::unknown;
    std::string_view header_value;
};

// Steps 1-3 of section 2 for a request whose path is /v1, first match wins: 405 for a method
// other than GET, 426 without an upgrade to websocket, 426 for a version other than 13, 400
// for any other handshake defect. nullopt when the request may go on to the rate limit (step 4).
std::optional<upgrade_refusal> check_upgrade(const boost::beast::http::request_header<>& req);

// The file under `root` that serves the request path `path` (the target without its query):
// "/" and paths ending in '/' name index.html. nullopt when the path must not be served: it does
// not start with '/', or it contains "..", '\\', NUL, or an empty segment at its start (which
// std::filesystem would treat as an absolute path, outside `root`). The result is always
// `root` joined with a relative path; the caller still checks the file exists.
std::optional<std::filesystem::path> static_file(const std::string& root, std::string_view path);

}  // namespace parley::http
