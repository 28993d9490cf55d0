// The byte stream of an HTTP session: a TCP socket, optionally with TLS done by OpenSSL on the
// non-blocking socket, plus a deadline. It satisfies Asio's AsyncReadStream/AsyncWriteStream, so
// Beast's HTTP parser and serializer run over it unchanged.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <climits>
#include <utility>

#include "shard/connection.hpp"

namespace parley::net {

class session_stream {
public:
    using socket_t = shard::socket_t;
    using executor_type = socket_t::executor_type;

    // Takes the socket and, for TLS, its SSL object (owned from now on).
    session_stream(socket_t socket, SSL* ssl)
        : socket_(std::move(socket)), ssl_(ssl), timer_(socket_.get_executor()) {}
    ~session_stream() {
        if (ssl_ != nullptr) {
            SSL_free(ssl_);
        }
    }
    session_stream(const session_stream&) = delete;
    session_stream& operator=(const session_stream&) = delete;

    executor_type get_executor() { return socket_.get_executor(); }
    socket_t& socket() { return socket_; }
    const socket_t& socket() const { return socket_; }
    bool tls() const { return ssl_ != nullptr; }

    // Closes the socket when `d` passes without a new deadline (pending operations then fail).
    void expires_after(std::chrono::steady_clock::duration d) {
        timer_.expires_after(d);
        timer_.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) {
                boost::system::error_code ignored;
                socket_.cancel(ignored);
                socket_.close(ignored);
            }
        });
    }
    void expires_never() { timer_.cancel(); }

    // Hands the socket and TLS state to a WebSocket connection.
    socket_t release_socket() {
        timer_.cancel();
        return std::move(socket_);
    }
    SSL* release_ssl() { return std::exchange(ssl_, nullptr); }

    // Performs the TLS handshake (server side). Handler: void(error_code).
    template <class Handler>
    void async_handshake(Handler&& handler) {
        boost::asio::async_compose<Handler, void(boost::system::error_code)>(
            tls_op<handshake_step>{this, {}}, handler, socket_);
    }

    template <class MutableBuffers, class Handler>
    void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
        if (ssl_ == nullptr) {
            socket_.async_read_some(buffers, std::forward<Handler>(handler));
            return;
        }
        auto b = first_buffer(buffers);
        boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
            tls_op<read_step>{this, read_step{b.data(), b.size()}}, handler, socket_);
    }

    template <class ConstBuffers, class Handler>
    void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
        if (ssl_ == nullptr) {
            socket_.async_write_some(buffers, std::forward<Handler>(handler));
            return;
        }
        auto b = first_buffer(buffers);
        boost::asio::async_compose<Handler, void(boost::system::error_code, std::size_t)>(
            tls_op<write_step>{this, write_step{b.data(), b.size()}}, handler, socket_);
    }

private:
    template <class Buffers>
    static auto first_buffer(const Buffers& buffers) {
        auto first = *boost::asio::buffer_sequence_begin(buffers);
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
            decltype(first) b = *it;
            if (b.size() > 0) {
                return b;
            }
        }
        return first;
    }

    // One OpenSSL call: returns > 0 (bytes) / 0 for done, or -1 with `err` set.
    struct handshake_step {
        int operator()(SSL* ssl) { return SSL_do_handshake(ssl) == 1 ? 0 : -1; }
        static constexpr bool has_size = false;
    };
    struct read_step {
        void* data;
        std::size_t size;
        int operator()(SSL* ssl) { return SSL_read(ssl, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX))); }
        static constexpr bool has_size = true;
    };
    struct write_step {
        const void* data;
        std::size_t size;
        int operator()(SSL* ssl) { return SSL_write(ssl, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX))); }
        static constexpr bool has_size = true;
    };

    // Runs `step` until it succeeds, waiting for the socket whenever OpenSSL wants I/O. Never
    // completes inside the initiating call (the first attempt is posted).
    template <class Step>
    struct tls_op {
        session_stream* s;
        Step step;
        bool started = false;

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}) {
            if (!started) {
                started = true;
                boost::asio::post(s->socket_.get_executor(), std::move(self));
                return;
            }
            if (ec) {
                finish(self, ec, 0);
                return;
            }
            if (s->ssl_ == nullptr) {
                finish(self, boost::asio::error::bad_descriptor, 0);
                return;
            }
            ERR_clear_error();
            int r = step(s->ssl_);
            if (r >= 0 && (r > 0 || !Step::has_size)) {
                finish(self, {}, static_cast<std::size_t>(r));
                return;
            }
            switch (SSL_get_error(s->ssl_, r)) {
                case SSL_ERROR_WANT_READ:
                    s->socket_.async_wait(socket_t::wait_read, std::move(self));
                    return;
                case SSL_ERROR_WANT_WRITE:
                    s->socket_.async_wait(socket_t::wait_write, std::move(self));
                    return;
                case SSL_ERROR_ZERO_RETURN:
                    finish(self, boost::asio::error::eof, 0);
                    return;
                default:
                    finish(self, boost::asio::error::connection_reset, 0);
                    return;
            }
        }

        template <class Self>
        void finish(Self& self, boost::system::error_code ec, std::size_t n) {
            if constexpr (Step::has_size) {
                self.complete(ec, n);
            } else {
                self.complete(ec);
            }
        }
    };

    socket_t socket_;
    SSL* ssl_ = nullptr;
    boost::asio::steady_timer timer_;
};

}  // namespace parley::net
