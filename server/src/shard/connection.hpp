// A client WebSocket connection after the upgrade: admission, the frame loop of PROTOCOL.md
// sections 5-6, the outbound queue, keepalive and close handshake. Lives on one shard for life;
// every member function runs on that shard's thread.
#pragma once

#include <cassert>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "auth/auth.hpp"
#include "hub/identity.hpp"
#include "metrics/metrics.hpp"
#include "net/frame.hpp"
#include "net/outbound_queue.hpp"
#include "net/timing_wheel.hpp"
#include "net/ws_reader.hpp"
#include "proto/client_frame.hpp"

namespace parley::server {
class app_runtime;
}

namespace parley::shard {

class shard;

using socket_t =
    boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

// What the HTTP layer learned from the upgrade request.
struct upgrade_info {
    std::string query;                  // request target after '?'
    std::optional<std::string> origin;  // Origin header
    std::chrono::steady_clock::time_point started;  // upgrade request fully read
};

class connection : public net::wheel_node {
public:
    // Takes the socket right after the 101 response was written. `pending` holds bytes the
    // HTTP parser read past the request (early WebSocket frames).
    // `ssl` is the connection's TLS state (owned from now on), or null for plain TCP.
    connection(shard& s, socket_t socket, SSL* ssl, std::string pending, upgrade_info info);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Registers with the shard and starts admission (PROTOCOL.md section 3).
    void start();

    hub::conn_id id() const { return id_; }
    const hub::identity_ptr& who() const { return who_; }
    bool receives_presence() const;

    // Queues a frame for this client. Over the outbound limit the connection is closed as a slow
    // consumer — deferred, never inside this call, since callers may be iterating shard state.
    void enqueue(const net::frame_ptr& f, metrics::tx_type type);
    // As enqueue, but takes no reference to `f`: returns true when the frame was queued, and the
    // caller then adds the reference (fan-out adds all of them with one frame::add_refs).
    bool enqueue_unreffed(net::frame* f, metrics::tx_type type);
    // Writes queued frames (called by the shard once per batch of work).
    void flush();
    // Server-initiated close (close frame, then wait up to 5 s for the client's).
    void close(std::uint16_t code, std::string_view reason);
    // After a reload: points at the key's new settings, or closes the connection when its key
    // was revoked (4001 key_revoked) or its app suspended (4012).
    void rebind(const config::config& next);
    // Drops the TCP connection at once, without a close frame (shutdown, fatal errors).
    void drop() { abort(); }
    // Timing-wheel callback: keepalive, idle timeout, admission/close/drain/expiry deadlines.
    void on_timer();
    // Drain (section 15): sends going_away and schedules the 1001 close at `close_tick`.
    void begin_drain(const net::frame_ptr& going_away, std::uint32_t close_tick);

    // Scratch used by shard::deliver_message to de-duplicate pattern and exact matches.
    std::uint32_t mark_epoch = 0;
    std::uint8_t mark = 0;

private:
    enum class state : std::uint8_t { admitting, open, closing, closed };

    struct subscription {
        std::string channel;                     // as subscribed
        std::unique_ptr<proto::pattern> pattern; // pattern subscriptions only
        bool sender_metadata = false;
    };

    // Reference counting: pending socket waits and the shard registration each hold one.
    // Only the connection's own shard thread may touch the (non-atomic) count.
    void retain() {
        assert(on_own_thread());
        ++refs_;
    }
    void release();
    bool on_own_thread();
    struct ref {
        connection* c;
        explicit ref(connection* x) : c(x) { c->retain(); }
        ref(const ref& o) : c(o.c) { c->retain(); }
        ref(ref&& o) noexcept : c(o.c) { o.c = nullptr; }
        ~ref() {
            if (c != nullptr) {
                c->release();
            }
        }
    };

    // ---- admission
    void admit();
    void welcome();
    void reject(std::uint16_t code, std::string_view reason);

    // ---- input
    void on_readable();
    void wait_readable();
    // Parses and handles frames in buf[0, len); stashes what is left in in_.
    void consume(char* buf, std::size_t len);
    void consume_pending();
    // Handles one complete text message. Returns false when the connection stopped reading.
    void handle_text(std::string_view text);
    void handle_frame(const proto::client_frame& f);
    void on_subscribe(const proto::client_frame& f);
    void on_unsubscribe(const proto::client_frame& f);
    void on_publish(const proto::client_frame& f);
    void on_send(const proto::client_frame& f);

    // ---- responses
    void reply_ack(std::string_view request_id_json);
    void reply_error(error_code code, std::string_view message, std::string_view request_id_json);

    // ---- asynchronous operations (one at a time; input waits meanwhile)
    void begin_op() { busy_ = true; }
    void end_op();

    // ---- scope
    bool action_allowed(std::uint8_t action) const;
    bool channel_allowed(std::string_view channel) const;
    bool pattern_allowed(const proto::pattern& p) const;
    subscription* find_sub(std::string_view channel);
    // Counts one message against the app's quota (section 14.2); false when it must be refused.
    bool quota_allows();
    static std::int64_t current_period(const config::app_config& app);

    // ---- output and closing
    void wait_writable();
    void schedule_timer();
    void teardown();  // leaves every channel, unregisters the peer (once)
    void abort();     // drops the TCP connection without a close frame
    void finish();    // socket closed: unregister from the shard
    void on_client_close(std::uint16_t code);

    // One read / write at the transport level: recv/sendmsg, or SSL_read/SSL_write for TLS.
    // Return bytes moved, 0 for "would block" (after arranging the wait), -1 when the
    // connection is gone (already aborted).
    // `full` is set when the kernel took less than offered (wait for writability).
    long transport_read(char* buf, std::size_t size);
    long transport_write(bool& full);

    shard& shard_;
    socket_t socket_;
    SSL* ssl_ = nullptr;
    std::uint32_t tls_retry_len_ = 0;  // length of an SSL_write to repeat after WANT_*
    hub::conn_id id_ = hub::no_conn;
    hub::identity_ptr who_;
    const config::key_config* key_ = nullptr;
    server::app_runtime* app_runtime_ = nullptr;  // counters of the app (outlive reloads)
    std::unique_ptr<auth::token_scope> scope_;
    std::unique_ptr<upgrade_info> upgrade_;  // only during admission
    std::string metadata_;                   // welcome metadata (JWT), only until the welcome
    std::optional<std::int64_t> expires_at_;

    std::string in_;  // received bytes not yet handled (empty when idle)
    net::ws_reader reader_;
    net::outbound_queue out_;
    net::frame_ptr pending_pong_;  // the pong for the latest ping, held back while out_ is backed up
    std::vector<subscription> subs_;

    // Token bucket (section 14.1).
    float tokens_ = 0;
    std::uint32_t bucket_ms_ = 0;

    std::uint32_t refs_ = 0;
    std::uint32_t last_in_tick_ = 0;
    std::uint32_t last_out_tick_ = 0;
    std::uint32_t deadline_tick_ = 0;  // admission / close handshake / drain close
    std::uint32_t expiry_tick_ = 0;    // JWT expiry deadline; 0 = none
    std::uint16_t close_code_ = 0;     // for metrics: code of the close (0 = TCP drop)
    state state_ = state::admitting;
    bool busy_ = false;         // an operation on another shard is in flight
    bool parked_ = false;       // input stopped because of busy_
    bool reading_ = false;      // a read wait is pending
    bool writing_ = false;      // a write wait is pending
    bool dirty_ = false;        // queued for the shard's flush pass
    bool registered_ = false;   // in the peer directory
    bool torn_down_ = false;
    bool teardown_pending_ = false;
    bool close_after_flush_ = false;
    bool slow_ = false;
    bool draining_ = false;
    bool finished_ = false;
    bool welcomed_ = false;
    bool counted_ = false;     // counted in the app's concurrent connections
    bool input_dead_ = false;  // a protocol error: parse nothing more
    bool shut_ = false;        // our side of TCP is shut down (close frame sent)
    bool read_wants_write_ = false;  // TLS: SSL_read needs the socket writable
    bool write_wants_read_ = false;  // TLS: SSL_write needs the socket readable
};

}  // namespace parley::shard
