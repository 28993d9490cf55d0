// One accepted TCP connection while it speaks HTTP/1.1: the WebSocket upgrade of /v1 (PROTOCOL.md
// section 2), the operational endpoints (section 18), REST, and the bundled web pages. After a
// successful upgrade the socket moves to a shard::connection and this object goes away.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "shard/connection.hpp"

namespace parley::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using stream_t = beast::basic_stream<boost::asio::ip::tcp, boost::asio::io_context::executor_type,
                                     beast::unlimited_rate_policy>;
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
    http_session(shard::shard& s, shard::socket_t socket);
    void run();

private:
    void read();
    void on_read(beast::error_code ec);
    void handle(request_t& req);
    void handle_upgrade(request_t& req, std::string_view query);
    void handle_static(request_t& req, std::string_view path);
    void write(response_t res);
    void refuse_upgrade(response_t res);

    shard::shard& shard_;
    stream_t stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::chrono::steady_clock::time_point started_;
};

}  // namespace parley::http
