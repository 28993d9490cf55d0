// The engine seam (DESIGN.md): what a node shares with the other nodes of a cluster. The default
// `memory` engine is no object at all — the home shards hold everything. The `redis` engine
// (redis_cluster) adds the nodes' shared state in Redis; the hub calls it at the points below.
//
// In cluster mode every channel and peer has shard 0 as its home: shard 0 owns the Redis
// connections, and a single ordering point per node is what keeps the per-origin order of
// PROTOCOL.md section 10 across nodes (Redis delivers one connection's publishes in order).
// Every member function runs on shard 0's thread unless marked otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hub/identity.hpp"
#include "net/frame.hpp"

namespace parley::shard {
class shard;
struct publish_msg;
}  // namespace parley::shard

namespace parley::engine {

class cluster {
public:
    virtual ~cluster() = default;

    virtual void start() = 0;
    virtual void stop() = 0;
    // Redis reachable; safe from any thread.
    virtual bool up() const = 0;
    // This node's id (member keys of local connections start with it).
    virtual const std::string& node_id() const = 0;

    // Channel membership. track() subscribes to the channel and loads its roster from the
    // cluster into the home channel state, then calls `done` (also when Redis is down: the
    // roster is then local only, and completed after Redis returns). untrack() when the node
    // has no member left.
    virtual void track(const std::string& key, std::function<void()> done) = 0;
    virtual void untrack(const std::string& key) = 0;
    // A local member joined / left `key` (member key, identity and order as in the roster).
    virtual void local_join(const std::string& key, const std::string& member, const hub::identity& who,
                            std::uint64_t order) = 0;
    virtual void local_leave(const std::string& key, const std::string& member, const std::string& peer_id) = 0;
    // The roster of a channel this node does not track (REST peer list), as presence entries.
    virtual void fetch_entries(const std::string& key, std::function<void(std::vector<std::string>)> done) = 0;

    // Publishes to the other nodes (local delivery is the hub's).
    virtual void publish(const shard::publish_msg& msg) = 0;
    // Sends a direct to the peer's connections on other nodes. `done(remote_nodes, ok)`: how many
    // other nodes took it; ok = false when the cluster could not be asked (Redis down).
    virtual void send(std::uint32_t app, const std::string& peer_id, const net::frame_ptr& frame,
                      std::function<void(std::int64_t, bool)> done) = 0;
    // Closes the peer's connections on other nodes; `done(remote_connections)`.
    virtual void kick(std::uint32_t app, const std::string& peer_id, std::function<void(std::int64_t)> done) = 0;

    // The number of local connections of a peer changed (0: the last one left this node).
    virtual void peer_connections(std::uint32_t app, const std::string& peer_id, std::size_t count) = 0;
    // A pattern subscription text is held by some local connection / by none any more.
    virtual void pattern_added(std::uint32_t app, const std::string& pattern) = 0;
    virtual void pattern_removed(std::uint32_t app, const std::string& pattern) = 0;
    // Calls `ready` once the cluster delivers this (added) pattern's messages here — at once when
    // Redis is down (nothing to wait for).
    virtual void pattern_ready(std::uint32_t app, const std::string& pattern, std::function<void()> ready) = 0;
};

}  // namespace parley::engine
