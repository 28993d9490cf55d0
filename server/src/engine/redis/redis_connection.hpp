// One hiredis asynchronous connection driven by an Asio io_context: hiredis' read/write hooks
// become waits on the socket, so Redis I/O runs in the same event loop as everything else.
// Reconnects by itself with backoff. Single-threaded: every call on the loop's thread.
#pragma once

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace parley::engine {

struct redis_address {
    std::string host = "127.0.0.1";
    int port = 6379;
    std::string password;
    int db = 0;
};

// Parses redis://[:password@]host[:port][/db]. Throws std::invalid_argument when malformed.
redis_address parse_redis_url(const std::string& url);

class redis_connection {
public:
    // Called with the reply, or nullptr when the command failed (connection lost).
    using reply_fn = std::function<void(redisReply*)>;

    redis_connection(boost::asio::io_context& io, redis_address address, std::string name);
    ~redis_connection();
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    // Starts connecting (and reconnecting whenever the connection is lost).
    void start();
    // Disconnects for good.
    void stop();
    bool connected() const { return ready_; }

    // Called once the connection is usable (after AUTH/SELECT); again after every reconnect.
    std::function<void()> on_connect;
    // Called when an established connection is lost.
    std::function<void()> on_disconnect;
    // Pub/sub pushes (message, pmessage, subscribe confirmations) on this connection.
    std::function<void(redisReply*)> on_push;

    // Sends a command (binary-safe arguments). Returns false, without calling `cb`, when not
    // connected. `cb` may be empty.
    bool command(const std::vector<std::string_view>& args, reply_fn cb);
    // Sends a (P)SUBSCRIBE/(P)UNSUBSCRIBE; its replies and later messages go to on_push.
    bool subscribe_command(const std::vector<std::string_view>& args);

private:
    static void add_read(void* self);
    static void del_read(void* self);
    static void add_write(void* self);
    static void del_write(void* self);
    static void cleanup(void* self);
    static void on_connected(const redisAsyncContext* ac, int status);
    static void on_disconnected(const redisAsyncContext* ac, int status);
    static void on_reply(redisAsyncContext* ac, void* reply, void* privdata);
    static void on_push_reply(redisAsyncContext* ac, void* reply, void* privdata);

    bool raw_command(const std::vector<std::string_view>& args, reply_fn cb, redisCallbackFn* fn);
    void connect_now();
    void schedule_reconnect();
    void wait_read();
    void wait_write();
    void handshake_done();

    boost::asio::io_context& io_;
    redis_address address_;
    std::string name_;
    redisAsyncContext* ac_ = nullptr;
    std::unique_ptr<boost::asio::posix::stream_descriptor> fd_;
    boost::asio::steady_timer retry_;
    std::chrono::milliseconds backoff_{100};
    bool reading_wanted_ = false;
    bool writing_wanted_ = false;
    bool read_pending_ = false;
    bool write_pending_ = false;
    bool ready_ = false;
    bool stopped_ = false;
    // Outstanding waits reference the descriptor; it is released only when none remain.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace parley::engine
