// One listening socket per shard, all bound to the same address with SO_REUSEPORT so the kernel
// spreads new connections over the shards.
#pragma once

#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <string>

namespace parley::shard {
class shard;
}

namespace parley::server {

class listener {
public:
    // Binds and listens on host:port for shard `s`. Throws std::runtime_error on failure.
    listener(shard::shard& s, const std::string& host, std::uint16_t port);
    std::uint16_t port() const;
    // Starts accepting (call on the shard's thread or before its loop runs).
    void start();
    void stop();

private:
    void accept();

    shard::shard& shard_;
    boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, boost::asio::io_context::executor_type> acceptor_;
    boost::asio::steady_timer retry_;
};

}  // namespace parley::server
