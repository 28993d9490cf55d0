// One accepted TCP connection while it speaks HTTP/1.1: the WebSocket upgrade of /v1 (PROTOCOL.md
// section 2), the operational endpoints (section 18), REST, and the bundled web pages. After a
// successful upgrade the socket moves to a shard::connection and this object goes away.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <memory>
#include <optional>

#include "net/session_stream.hpp"
#include "shard/connection.hpp"

namespace parley::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using stream_t = net::session_stream;
using request_t = bhttp::request<bhttp::string_body>;
using response_t = bhttp::response<bhttp::string_body>;

// Limits of section 2 and section 17.1.
inline constexpr std::size_t max_request_head = 64 * 1024;
inline constexpr std::size_t max_request_body = 32768;
// How long a client may take to send a request (slow clients are cut off).
inline constexpr std::chrono::seconds request_timeout{10};

// Builds `{"error": code, "message": message}` with the given status.
response_t json_error(unsigned status, std::string_view code, std::string_view message,
                      unsigned version, bool keep_alive);
// Builds a JSON response with the given body.
response_t json_response(unsigned status, std::string body, unsigned version, bool keep_alive);

class http_session : public std::enable_shared_from_this<http_session> {
public:
    // `ssl` is the TLS state when the listener serves TLS (owned from now on), else null.
    http_session(shard::shard& s, shard::socket_t socket, SSL* ssl);
    void run();

    // Writes `res`, then reads the next request (keep-alive) or closes. Must run on the
    // session's shard thread; every response of a request goes through here exactly once.
    void write(response_t res);
    // Reads the request body (after its head was accepted), then calls `then`. Over the body
    // limit the client gets 413 and `then` is not called.
    void read_body(std::function<void(request_t&)> then);
    // The client's address: the TCP peer, or the X-Forwarded-For hop before a trusted proxy.
    std::string source_ip(const request_t& req) const;
    shard::shard& shard_ref() { return shard_; }

private:
    void read();
    void on_header(beast::error_code ec);
    void handle(request_t& req);
    void handle_upgrade(request_t& req, std::string_view query);
    void handle_static(request_t& req, std::string_view path);
    void refuse_upgrade(response_t res);

    shard::shard& shard_;
    stream_t stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::chrono::steady_clock::time_point started_;
    bool body_too_large_ = false;  // the head announced a body over the limit
};

}  // namespace parley::http
