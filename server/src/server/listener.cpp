// Listening sockets; see listener.hpp.
#include "server/listener.hpp"

#include <boost/asio/socket_base.hpp>

#include <stdexcept>

#include <spdlog/spdlog.h>

#include "http/http_session.hpp"
#include "net/tls.hpp"
#include "shard/shard.hpp"

namespace parley::server {

listener::listener(shard::shard& s, const std::string& host, std::uint16_t port)
    : shard_(s), acceptor_(s.io().get_executor()), retry_(s.io()) {
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(host, ec);
    if (ec) {
        throw std::runtime_error("listen: '" + host + "' is not an IP address");
    }
    boost::asio::ip::tcp::endpoint ep(address, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) {
        acceptor_.set_option(boost::asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        int one = 1;
        if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            ec.assign(errno, boost::system::system_category());
        }
    }
    if (!ec) {
        acceptor_.bind(ep, ec);
    }
    if (!ec) {
        acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
    }
}

std::uint16_t listener::port() const { return acceptor_.local_endpoint().port(); }

void listener::start() { accept(); }

void listener::stop() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_.cancel();
}

void listener::accept() {
    acceptor_.async_accept(shard_.io(), [this](boost::system::error_code ec, shard::socket_t socket) {
        if (ec == boost::asio::error::operation_aborted) {
            return;
        }
        if (ec) {
            // Typically EMFILE: out of file descriptors. Back off instead of spinning.
            spdlog::warn("accept failed: {} (retrying in 100 ms)", ec.message());
            retry_.expires_after(std::chrono::milliseconds(100));
            retry_.async_wait([this](boost::system::error_code e) {
                if (!e) {
                    accept();
                }
            });
            return;
        }
        SSL* ssl = nullptr;
        if (const net::tls_context* tls = shard_.srv().tls()) {
            ssl = tls->make_ssl(socket.native_handle());
        }
        std::make_shared<http::http_session>(shard_, std::move(socket), ssl)->run();
        accept();
    });
}

}  // namespace parley::server
