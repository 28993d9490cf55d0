// One shard = one thread with its own event loop (shared nothing, DESIGN.md). A shard owns its
// connections, the local index of which of them subscribe to what, and — as the home shard of
// some channels and peers — their membership, presence and peer-directory state.
// Everything here runs on the shard's own thread unless a comment says otherwise.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "hub/identity.hpp"
#include "metrics/metrics.hpp"
#include "net/frame.hpp"
#include "net/timing_wheel.hpp"
#include "presence/roster.hpp"
#include "proto/client_frame.hpp"
#include "proto/encode.hpp"

namespace parley::server {
class server;
}

namespace parley::shard {

class connection;

// A publish on its way from the publisher's shard to the subscribers' shards. Built once,
// shared (immutable) by every shard that delivers it.
struct publish_msg {
    std::string key;          // channel_key(app, channel)
    std::uint32_t app = 0;
    net::frame_ptr plain;     // without fromMetadata
    net::frame_ptr with_meta; // with fromMetadata (same frame as plain when there is none)
    hub::conn_id exclude = hub::no_conn;  // the publisher (none for REST publishes)
    std::string_view channel() const { return hub::channel_of_key(key); }
};
using publish_ptr = std::shared_ptr<const publish_msg>;

// Membership state of a channel on its home shard.
struct home_channel {
    presence::roster roster;                       // local and (cluster) remote members
    std::vector<std::uint32_t> members_per_shard;  // local exact subscribers on each shard
    std::uint32_t members = 0;                     // local exact subscribers
    // Cluster mode: the roster follows the cluster once `tracked`; while `loading` (first local
    // member, or after Redis came back) remote events wait in `buffered` and joins in `waiting`.
    bool tracked = false;
    bool loading = false;
    std::vector<std::function<void()>> waiting;
    struct event {
        bool join;
        std::string member;
        hub::identity_ptr who;
        std::uint64_t order;
        std::string peer;
    };
    std::vector<event> buffered;
};

class shard {
public:
    // Tick of the timing wheel: the resolution of every connection deadline.
    static constexpr std::chrono::milliseconds tick{100};

    shard(server::server& srv, std::uint32_t index, std::uint32_t count);
    ~shard();
    shard(const shard&) = delete;
    shard& operator=(const shard&) = delete;

    boost::asio::io_context& io() { return io_; }
    std::uint32_t index() const { return index_; }
    std::uint32_t count() const { return count_; }
    server::server& srv() { return srv_; }
    const server::server& srv_const() const { return srv_; }
    // This thread's view of the configuration.
    const config::config& cfg() const { return *cfg_; }
    const config::config_ptr& cfg_ptr() const { return cfg_; }
    // Switches to a reloaded configuration: connections re-check their keys first (while the
    // old configuration they point into is still alive), then the new one replaces it.
    void apply_config(config::config_ptr c);

    proto::frame_decoder& decoder() { return decoder_; }
    proto::encoder& encoder() { return encoder_; }
    metrics::shard_metrics& stats() { return stats_; }
    const metrics::shard_metrics& stats() const { return stats_; }
    net::timing_wheel& wheel() { return wheel_; }
    // Current wheel tick (advances every `tick`).
    std::uint32_t now_tick() const { return wheel_.now(); }
    // Monotonic milliseconds since the shard started (for token buckets).
    std::uint64_t now_ms() const;
    // A read buffer shared by all connections of this shard (one read at a time).
    std::vector<char>& read_buffer() { return read_buffer_; }
    // Scratch for TLS writes (one record's worth of queued frames).
    std::vector<char>& write_scratch() { return write_scratch_; }

    // Runs `f` on shard `target`: inline when it is this shard, else posted to its loop.
    template <class F>
    void run_on(std::uint32_t target, F&& f);

    // Starts the tick timer; call once, from this shard's thread.
    void start();
    // Stops timers so the loop can finish once connections are gone.
    void stop();

    // ---- connections
    hub::conn_id add(connection* c);
    void remove(hub::conn_id id);
    connection* find(hub::conn_id id) const;
    std::size_t connection_count() const { return live_; }
    // Calls f(connection&) for every connection (over a snapshot of ids: f may close them).
    template <class F>
    void for_each_connection(F&& f);

    // Asks for c->flush() once the current batch of work is done (coalesces many enqueues).
    void mark_dirty(connection* c);

    // ---- local subscriber index (subscriptions of this shard's connections)
    void local_add(const std::string& key, connection* c, bool sender_metadata, bool presence);
    void local_update(const std::string& key, connection* c, bool sender_metadata);
    void local_remove(const std::string& key, connection* c);
    // Returns true when this shard's count of pattern subscriptions in `app` went 0 -> 1.
    bool local_pattern_add(std::uint32_t app, connection* c, const proto::pattern* p, bool sender_metadata);
    void local_pattern_update(std::uint32_t app, connection* c, const proto::pattern* p, bool sender_metadata);
    // Returns true when this shard's count of pattern subscriptions in `app` went 1 -> 0.
    bool local_pattern_remove(std::uint32_t app, connection* c, const proto::pattern* p);

    // ---- deliveries to this shard's connections
    // Returns the number of connections the message was queued to.
    std::int64_t deliver_message(const publish_msg& m);
    void deliver_presence(const std::string& key, const net::frame_ptr& f);
    void deliver_direct(const net::frame_ptr& f, const std::vector<hub::conn_id>& targets);

    // ---- home state (this shard as home of channels and peers)
    std::unordered_map<std::string, home_channel>& home_channels() { return home_channels_; }
    std::unordered_map<std::string, std::vector<hub::conn_id>>& home_peers() { return home_peers_; }
    // Roster order keys and join counters handed out by this shard as a home.
    std::uint64_t& last_order() { return last_order_; }
    std::uint64_t& join_counter() { return join_counter_; }
    // Cluster mode (shard 0): how many local pattern subscriptions hold each (app, pattern).
    std::unordered_map<std::string, int>& pattern_refs() { return pattern_refs_; }
    // Replicated on every shard: for each app, the shards holding pattern subscriptions.
    std::uint64_t pattern_shards(std::uint32_t app) const;
    void set_pattern_shard(std::uint32_t app, std::uint32_t shard, bool on);

private:
    void on_tick();
    void flush_dirty();

    server::server& srv_;
    std::uint32_t index_;
    std::uint32_t count_;
    boost::asio::io_context io_{1};
    boost::asio::steady_timer tick_timer_;
    std::chrono::steady_clock::time_point started_;
    config::config_ptr cfg_;
    proto::frame_decoder decoder_;
    proto::encoder encoder_;
    metrics::shard_metrics stats_;
    net::timing_wheel wheel_;
    std::vector<char> read_buffer_;
    std::vector<char> write_scratch_ = std::vector<char>(16 * 1024);

    struct slot {
        connection* conn = nullptr;
        std::uint32_t generation = 0;
    };
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::size_t live_ = 0;

    std::vector<hub::conn_id> dirty_;
    bool flush_posted_ = false;

    struct local_sub {
        connection* conn;
        bool sender_metadata;
        bool presence;
    };
    std::unordered_map<std::string, std::vector<local_sub>> local_channels_;
    struct local_pattern {
        connection* conn;
        const proto::pattern* pattern;
        bool sender_metadata;
    };
    std::unordered_map<std::uint32_t, std::vector<local_pattern>> local_patterns_;
    std::unordered_map<std::uint32_t, std::uint64_t> pattern_shards_;
    std::vector<connection*> marked_;  // scratch for deliver_message
    std::uint32_t delivery_epoch_ = 0;

    std::unordered_map<std::string, home_channel> home_channels_;
    std::unordered_map<std::string, std::vector<hub::conn_id>> home_peers_;
    std::uint64_t last_order_ = 0;
    std::uint64_t join_counter_ = 0;
    std::unordered_map<std::string, int> pattern_refs_;
};

}  // namespace parley::shard

#include "server/server.hpp"

namespace parley::shard {

template <class F>
void shard::run_on(std::uint32_t target, F&& f) {
    if (target == index_) {
        f();
    } else {
        boost::asio::post(srv_.shard_at(target).io(), std::forward<F>(f));
    }
}

template <class F>
void shard::for_each_connection(F&& f) {
    std::vector<hub::conn_id> ids;
    ids.reserve(live_);
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].conn != nullptr) {
            ids.push_back((static_cast<hub::conn_id>(index_) << 56) |
                          (static_cast<hub::conn_id>(slots_[i].generation & 0xFFFFFF) << 32) | i);
        }
    }
    for (hub::conn_id id : ids) {
        if (connection* c = find(id)) {
            f(*c);
        }
    }
}

}  // namespace parley::shard
