// HTTP handling before the upgrade; see http_session.hpp.
#include "http/http_session.hpp"

#include <boost/asio/write.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "api/rest.hpp"
#include "engine/cluster.hpp"
#include "http/handshake.hpp"
#include "shard/shard.hpp"
#include "util/json_writer.hpp"

namespace parley::http {

namespace {

std::string_view mime_type(std::string_view path) {
    auto ext = path.substr(path.rfind('.') == std::string_view::npos ? path.size() : path.rfind('.'));
    if (ext == ".html") return "text/html; charset=utf-8";
    if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
    if (ext == ".css") return "text/css; charset=utf-8";
    if (ext == ".json") return "application/json; charset=utf-8";
    if (ext == ".svg") return "image/svg+xml";
    if (ext == ".png") return "image/png";
    if (ext == ".ico") return "image/x-icon";
    if (ext == ".map") return "application/json; charset=utf-8";
    return "application/octet-stream";
}

}  // namespace

response_t json_response(unsigned status, std::string body, unsigned version, bool keep_alive) {
    response_t res{static_cast<bhttp::status>(status), version};
    res.set(bhttp::field::server, "parleyd");
    res.set(bhttp::field::content_type, "application/json; charset=utf-8");
    res.set(bhttp::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response_t json_error(unsigned status, std::string_view code, std::string_view message,
                      unsigned version, bool keep_alive) {
    std::string body = "{\"error\":";
    json::append_string(body, code);
    body += ",\"message\":";
    json::append_string(body, message);
    body += "}";
    return json_response(status, std::move(body), version, keep_alive);
}

http_session::http_session(shard::shard& s, shard::socket_t socket, SSL* ssl)
    : shard_(s), stream_(std::move(socket), ssl) {}

void http_session::run() {
    if (!stream_.tls()) {
        read();
        return;
    }
    stream_.expires_after(request_timeout);
    stream_.async_handshake([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) {
            spdlog::debug("TLS handshake failed: {}", ec.message());
            return;
        }
        self->read();
    });
}

void http_session::read() {
    parser_.emplace();
    parser_->header_limit(max_request_head);
    parser_->body_limit(max_request_body);
    stream_.expires_after(request_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                 self->on_header(ec);
                             });
}

void http_session::on_header(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    if (ec == bhttp::error::header_limit) {
        write(json_error(431, "invalid_request", "request head larger than 64 KB", 11, false));
        return;
    }
    body_too_large_ = false;
    if (ec == bhttp::error::body_limit) {
        // Content-Length over the limit (checked once every field was read): routing and auth
        // still answer first (section 17.1); read_body() then refuses with 413.
        body_too_large_ = true;
        ec = {};
    }
    if (ec) {
        if (ec != bhttp::error::end_of_stream && ec != boost::asio::error::operation_aborted &&
            ec != boost::asio::error::bad_descriptor && ec != boost::asio::error::connection_reset &&
            ec != boost::asio::error::eof && ec != bhttp::error::partial_message) {
            // Bytes that are not HTTP: tell the client once, then close.
            write(json_error(400, "invalid_request", "malformed HTTP request", 11, false));
            return;
        }
        beast::error_code ignored;
        stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
        return;
    }
    handle(parser_->get());
}

void http_session::read_body(std::function<void(request_t&)> then) {
    if (body_too_large_) {
        write(json_error(413, "invalid_request", "request body larger than 32768 bytes", 11, false));
        return;
    }
    if (parser_->is_done()) {
        then(parser_->get());
        return;
    }
    stream_.expires_after(request_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this(), then = std::move(then)](beast::error_code ec, std::size_t) {
                          if (ec == bhttp::error::body_limit) {
                              self->write(json_error(413, "invalid_request",
                                                     "request body larger than 32768 bytes", 11, false));
                              return;
                          }
                          if (ec) {
                              beast::error_code ignored;
                              self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
                              return;
                          }
                          then(self->parser_->get());
                      });
}

void http_session::write(response_t res) {
    // A body left unread would be taken for the next request: close instead of keeping alive.
    if (parser_ && (!parser_->is_done() || body_too_large_)) {
        res.keep_alive(false);
    }
    auto sp = std::make_shared<response_t>(std::move(res));
    stream_.expires_after(request_timeout);
    bhttp::async_write(stream_, *sp, [self = shared_from_this(), sp](beast::error_code ec, std::size_t) {
        if (ec) {
            return;
        }
        if (sp->need_eof()) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
            return;
        }
        self->read();
    });
}

std::string http_session::source_ip(const request_t& req) const {
    beast::error_code ec;
    auto peer = stream_.socket().remote_endpoint(ec);
    if (ec) {
        return {};
    }
    // Repeated header lines form one list (RFC 9110 section 5.3), in order.
    std::string forwarded;
    for (auto it = req.find("X-Forwarded-For"); it != req.end() && beast::iequals(it->name_string(), "X-Forwarded-For"); ++it) {
        forwarded += forwarded.empty() ? "" : ", ";
        forwarded += it->value();
    }
    return api::client_address(shard_, peer.address(), forwarded);
}

void http_session::refuse_upgrade(response_t res) {
    auto& g = shard_.srv().global_stats();
    g.upgrades_refused[metrics::global_metrics::refused_index(res.result_int())].fetch_add(1, std::memory_order_relaxed);
    res.keep_alive(false);
    write(std::move(res));
}

void http_session::handle(request_t& req) {
    std::string_view target = req.target();
    std::size_t q = target.find('?');
    std::string_view path = target.substr(0, q);
    std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const bool wants_upgrade = has_token(req[bhttp::field::upgrade], "websocket");

    if (path == "/v1") {
        handle_upgrade(req, query);
        return;
    }
    if (wants_upgrade) {
        refuse_upgrade(json_error(404, "not_found", "WebSocket endpoint is /v1", version, false));
        return;
    }
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
        if (req.method() != bhttp::verb::get) {
            auto res = json_error(405, "method_not_allowed", "use GET", version, keep_alive);
            res.set(bhttp::field::allow, "GET");
            write(std::move(res));
            return;
        }
        if (path == "/healthz") {
            write(json_response(200, "{\"status\":\"ok\"}", version, keep_alive));
        } else if (path == "/readyz") {
            if (shard_.srv().draining()) {
                write(json_error(503, "not_ready", "draining", version, keep_alive));
            } else if (shard_.srv().cluster() != nullptr && !shard_.srv().cluster()->up()) {
                write(json_error(503, "not_ready", "redis unavailable", version, keep_alive));
            } else {
                write(json_response(200, "{\"status\":\"ready\"}", version, keep_alive));
            }
        } else {
            response_t res{bhttp::status::ok, version};
            res.set(bhttp::field::server, "parleyd");
            res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
            res.keep_alive(keep_alive);
            res.body() = shard_.srv().render_metrics();
            res.prepare_payload();
            write(std::move(res));
        }
        return;
    }
    if (path.rfind("/v1/", 0) == 0) {
        api::handle(shared_from_this(), req, path);
        return;
    }
    handle_static(req, path);
}

void http_session::handle_upgrade(request_t& req, std::string_view query) {
    const unsigned version = req.version();
    // Section 2, first match wins.
    if (auto refusal = check_upgrade(req)) {
        auto res = json_error(refusal->status, refusal->code, refusal->message, version, false);
        if (refusal->header != bhttp::field::unknown) {
            res.set(refusal->header, refusal->header_value);
        }
        refuse_upgrade(std::move(res));
        return;
    }
    std::string_view key = req[bhttp::field::sec_websocket_key];
    // Step 4: the per-source-IP connect rate (section 14.3).
    if (auto retry = api::connect_rate_check(shard_, source_ip(req))) {
        auto res = json_error(429, "rate_limited", "too many connection attempts", version, false);
        res.set(bhttp::field::retry_after, std::to_string(*retry));
        refuse_upgrade(std::move(res));
        return;
    }

    shard::upgrade_info info;
    info.query = std::string(query);
    if (auto it = req.find(bhttp::field::origin); it != req.end()) {
        info.origin = std::string(it->value());
    }
    info.started = started_;
    auto response = std::make_shared<std::string>(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + websocket_accept(key) + "\r\n\r\n");
    stream_.expires_after(request_timeout);
    boost::asio::async_write(
        stream_, boost::asio::buffer(*response),
        [self = shared_from_this(), response, info = std::move(info)](beast::error_code ec, std::size_t) mutable {
            if (ec) {
                return;
            }
            self->stream_.expires_never();
            // Bytes after the request (early WebSocket frames) go with the socket.
            auto data = self->buffer_.data();
            std::string pending(static_cast<const char*>(data.data()), data.size());
            SSL* ssl = self->stream_.release_ssl();
            auto* c = new shard::connection(self->shard_, self->stream_.release_socket(), ssl,
                                            std::move(pending), std::move(info));
            c->start();
        });
}

void http_session::handle_static(request_t& req, std::string_view path) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    const auto& root = shard_.cfg().server.web_root;
    if (root.empty() || req.method() != bhttp::verb::get) {
        write(json_error(404, "not_found", "not found", version, keep_alive));
        return;
    }
    if (path == "/demo-config.json" && shard_.cfg().embedded_default) {
        // The embedded default's demo pages learn the development key from here.
        std::string body = "{\"key\":";
        json::append_string(body, shard_.cfg().apps.front().keys.front().id);
        body += "}";
        write(json_response(200, std::move(body), version, keep_alive));
        return;
    }
    std::optional<std::filesystem::path> mapped = static_file(root, path);
    if (!mapped) {
        write(json_error(404, "not_found", "not found", version, keep_alive));
        return;
    }
    std::filesystem::path file = std::move(*mapped);
    std::error_code fec;
    if (std::filesystem::is_directory(file, fec)) {
        file /= "index.html";
    }
    std::ifstream in(file, std::ios::binary);
    if (!in || !std::filesystem::is_regular_file(file, fec)) {
        write(json_error(404, "not_found", "not found", version, keep_alive));
        return;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    response_t res{bhttp::status::ok, version};
    res.set(bhttp::field::server, "parleyd");
    res.set(bhttp::field::content_type, mime_type(file.string()));
    res.set(bhttp::field::cache_control, "no-cache");
    res.keep_alive(keep_alive);
    res.body() = ss.str();
    res.prepare_payload();
    write(std::move(res));
}

}  // namespace parley::http
