// The `redis` engine: several parleyd nodes share one Redis (PROTOCOL.md section 19).
//
// Redis layout (P = [engine] prefix; A = app id; apps, channels and peers are separate per app):
//   P:c:A:<channel>  pub/sub: messages published on the channel, and its presence events
//   P:p:A:<channel>  hash: presence members of every node, member -> "order\tpeerId\tmetadata"
//   P:d:A:<peerId>   pub/sub: directs and kicks for a peer (nodes with a connection of it listen)
//   P:pp:A:<peerId>  hash: node -> connections of the peer on that node
//   P:cc:A           hash: node -> concurrent connections of the app
//   P:mc:A:<period>  hash: node -> messages counted in that quota period
//   P:n:<node>       heartbeat, expires after node_timeout
//   P:nodes          set of nodes; P:nc:<node>, P:nk:<node> what each node wrote (for cleanup)
// Every node subscribes only to the channels it has local members of, the patterns its
// connections hold, and the peers it has connections of. A publish crosses Redis once.
#pragma once

#include <atomic>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "config/config.hpp"
#include "engine/cluster.hpp"
#include "engine/redis/redis_connection.hpp"
#include "proto/channel.hpp"

namespace parley::server {
class server;
}

namespace parley::engine {

class redis_cluster final : public cluster {
public:
    // `home` is shard 0; everything here runs on its thread.
    redis_cluster(server::server& srv, shard::shard& home, const config::engine_config& cfg);
    ~redis_cluster() override;

    void start() override;
    void stop() override;
    bool up() const override { return up_.load(std::memory_order_relaxed); }
    const std::string& node_id() const override { return node_; }

    void track(const std::string& key, std::function<void()> done) override;
    void untrack(const std::string& key) override;
    void local_join(const std::string& key, const std::string& member, const hub::identity& who,
                    std::uint64_t order) override;
    void local_leave(const std::string& key, const std::string& member, const std::string& peer_id) override;
    void fetch_entries(const std::string& key, std::function<void(std::vector<std::string>)> done) override;
    void publish(const shard::publish_msg& msg) override;
    void send(std::uint32_t app, const std::string& peer_id, const net::frame_ptr& frame,
              std::function<void(std::int64_t, bool)> done) override;
    void kick(std::uint32_t app, const std::string& peer_id, std::function<void(std::int64_t)> done) override;
    void peer_connections(std::uint32_t app, const std::string& peer_id, std::size_t count) override;
    void pattern_added(std::uint32_t app, const std::string& pattern) override;
    void pattern_removed(std::uint32_t app, const std::string& pattern) override;
    void pattern_ready(std::uint32_t app, const std::string& pattern, std::function<void()> ready) override;

    // Counters for /metrics (any thread).
    std::int64_t errors() const { return errors_.load(std::memory_order_relaxed); }
    std::int64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
    std::int64_t nodes_seen() const { return nodes_.load(std::memory_order_relaxed); }

private:
    // Subscription bookkeeping mirrors what Redis has confirmed, so that a message arriving both
    // as `message` (exact) and `pmessage` (pattern) is delivered once.
    enum class sub_state : std::uint8_t { subscribing, subscribed, unsubscribing };
    struct channel_sub {
        sub_state state = sub_state::subscribing;
        bool wanted = true;
        bool in_flight = false;
        std::vector<std::function<void()>> on_subscribed;  // roster loads waiting for it
    };
    struct pattern_sub {
        std::uint32_t app = 0;
        proto::pattern superset;  // matches exactly what the Redis glob matches
        int refs = 0;             // local pattern texts mapping to this glob
        bool in_flight = false;
        bool confirmed = false;
        std::vector<std::function<void()>> ready;  // subscribes waiting for the confirmation
    };

    // Naming.
    std::string app_id(std::uint32_t number) const;
    std::optional<std::uint32_t> app_number(std::string_view id) const;
    std::string channel_name(const std::string& key) const;   // P:c:A:<channel>
    std::string presence_hash(const std::string& key) const;  // P:p:A:<channel>
    std::string peer_channel(std::uint32_t app, const std::string& peer) const;
    std::string peer_hash(std::uint32_t app, const std::string& peer) const;
    // The local channel key of a Redis channel name (P:c:A:<channel>), if its app is known.
    std::optional<std::string> key_of_channel(std::string_view name) const;

    void on_cmd_connect();
    void on_sub_connect();
    void on_down();
    void resync();
    void on_push(redisReply* r);
    void on_message(std::string_view channel, std::string_view payload, bool via_pattern,
                    std::string_view pattern);
    void subscribe_channel(const std::string& name, std::function<void()> when_subscribed);
    void unsubscribe_channel(const std::string& name);
    // Subscribes to the channel (if needed) and reads its roster from Redis into the home
    // channel; `remove_missing` as in hub::finish_load.
    void load(const std::string& key, bool remove_missing, std::function<void()> done);
    // After Redis came back: this node's own entries made to match its connections (stale ones
    // removed with a `left`, missing ones added with a `joined`).
    void sync_own_entries();
    // Reloads every followed channel's roster; authoritative reloads remove members Redis lost.
    void reload_channels(bool authoritative);
    void heartbeat();
    void sweep();
    void sync_counters();
    void schedule(boost::asio::steady_timer& t, std::chrono::milliseconds every, void (redis_cluster::*fn)());
    void count_error();
    // Sends a command; `cb` is always called exactly once: with the reply, or nullptr on failure
    // (error reply, or not connected — then from a posted handler, never inline).
    void run(const std::vector<std::string_view>& args, redis_connection::reply_fn cb = {});

    server::server& srv_;
    shard::shard& home_;
    config::engine_config cfg_;
    std::string node_;
    std::string prefix_;
    redis_connection cmd_;
    redis_connection sub_;
    std::atomic<bool> up_{false};
    std::atomic<std::int64_t> errors_{0};
    std::atomic<std::int64_t> reconnects_{0};
    std::atomic<std::int64_t> nodes_{0};
    bool was_up_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    std::unordered_map<std::string, channel_sub> channels_;  // by Redis channel name
    std::map<std::string, pattern_sub> patterns_;            // by Redis glob pattern

    boost::asio::steady_timer heartbeat_timer_;
    boost::asio::steady_timer sweep_timer_;
    boost::asio::steady_timer counter_timer_;
    boost::asio::steady_timer settle_timer_;  // the authoritative reload after a reconnect
    // Messages of each app already added to P:mc (per period), to send only the difference.
    std::unordered_map<std::uint32_t, std::pair<std::int64_t, std::int64_t>> flushed_messages_;
};

// Translates a Parley pattern into a Redis glob matching a superset of its names: both `*` and
// `**` become `*`, Redis' special characters are escaped.
std::string redis_glob(std::string_view parley_pattern);

}  // namespace parley::engine
