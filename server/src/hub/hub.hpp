// Operations that cross shards: channel membership and presence on a channel's home shard,
// publish fan-out, direct-message routing through a peer's home shard, kicks, and pattern
// interest. Each operation starts on the origin shard, runs its middle part on the home shard,
// and calls `done` back on the origin shard (inline when home and origin are the same shard).
// In cluster mode (engine/cluster.hpp) every home is shard 0 and the home also talks to the
// other nodes; the remote_* functions are how the engine feeds their traffic back in.
//
// Ordering (PROTOCOL.md section 10) rests on two facts: a connection starts its next frame only
// after `done` of the previous one ran, and each shard's loop runs posted work in FIFO order.
// So everything caused by one frame is queued at every recipient shard before anything caused
// by the same connection's next frame.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hub/identity.hpp"
#include "net/frame.hpp"

namespace parley::shard {
class shard;
struct publish_msg;
}  // namespace parley::shard

namespace parley::hub {

// Home shard of a channel key or peer key (app number + name).
std::uint32_t home_of(const shard::shard& s, std::string_view key);

// Key of a peer in the directory: app number (4 bytes) + peerId.
inline std::string peer_key(std::uint32_t app, std::string_view peer_id) {
    return channel_key(app, peer_id);
}

// Adds connection `c` (of `who`, on shard `origin`) as a member of the channel `key`. Sends the
// `joined` delta to the other members when the peer became present. `done(snapshot)` gets the
// presence snapshot frames (empty when want_snapshot is false).
void join(shard::shard& origin, conn_id c, const identity_ptr& who, const std::string& key,
          bool want_snapshot, std::function<void(std::vector<net::frame_ptr>)> done);

// Builds a fresh snapshot of `key` for a repeated subscribe.
void snapshot(shard::shard& origin, const identity_ptr& who, const std::string& key,
              std::function<void(std::vector<net::frame_ptr>)> done);

// Removes member connection `c` from `key`; sends `left` when the peer stopped being present.
// `done` may be empty (connection teardown).
void leave(shard::shard& origin, conn_id c, const identity_ptr& who, const std::string& key,
           std::function<void()> done);

// Fans a publish out to every shard with subscribers (exact or pattern) of its channel, and to
// the other nodes. `done` runs once the fan-out is queued everywhere.
void publish(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
             std::function<void()> done);

// Same, but `done(recipients)` runs once every recipient shard of this node has delivered, with
// the number of connections the message was handed to (REST publish, section 17.4).
void publish_counted(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
                     std::function<void(std::int64_t)> done);

enum class send_result { delivered, peer_not_found, backend_error };

// Delivers a direct frame to every connection of peer `to` in `app` except `exclude`.
void send(shard::shard& origin, std::uint32_t app, const std::string& to, net::frame_ptr frame,
          conn_id exclude, std::function<void(send_result)> done);

// Registers connection `c` under its peerId so that directs reach it.
void register_peer(shard::shard& origin, conn_id c, const identity_ptr& who,
                   std::function<void()> done);
void unregister_peer(shard::shard& origin, conn_id c, const identity_ptr& who);

// Tells every shard whether `origin` holds pattern subscriptions in `app`; `done` runs once all
// shards have recorded it (so later publishes anywhere consider this shard). `done` may be empty.
void set_pattern_interest(shard::shard& origin, std::uint32_t app, bool on,
                          std::function<void()> done);

// Cluster mode: counts pattern subscription texts so the node follows each one in Redis.
// `done` (may be empty) runs on the origin shard once, for an added pattern, the cluster
// delivers its messages to this node; in memory mode at once.
void pattern_ref(shard::shard& origin, std::uint32_t app, const std::string& pattern, int delta,
                 std::function<void()> done = {});

// The presence entries of channel `key` as a JSON array (REST peer list, section 17.3).
void list_peers(shard::shard& origin, const std::string& key, std::function<void(std::string)> done);

// Closes every connection of peer `peer_id` in app `app` with 4020 (section 17.5), on every
// node. `done(closed)` gets the number of connections found.
void kick(shard::shard& origin, std::uint32_t app, const std::string& peer_id,
          std::function<void(std::int64_t)> done);

// ---- cluster mode: traffic of other nodes, fed in by the engine on shard 0.

// A member of another node joined / left channel `key`.
void remote_join(shard::shard& home, const std::string& key, const std::string& member,
                 const identity_ptr& who, std::uint64_t order);
void remote_leave(shard::shard& home, const std::string& key, const std::string& member,
                  const std::string& peer_id);
// A member of another node, as loaded from the cluster.
struct remote_member {
    std::string member;
    identity_ptr who;
    std::uint64_t order = 0;
};
// The cluster's roster of `key` arrived (after the channel was subscribed): adds the remote
// members it lists and, when `remove_missing`, removes remote members it no longer lists
// (joined/left deltas to local members for every difference); applies the events buffered
// meanwhile and ends the loading state. nullopt: the roster could not be read; what is known
// stays and only the buffered events are applied.
void finish_load(shard::shard& home, const std::string& key,
                 const std::optional<std::vector<remote_member>>& members, bool remove_missing);

// A message published on another node.
void remote_message(shard::shard& home, std::shared_ptr<const shard::publish_msg> msg);
// A direct sent on another node to a peer with connections here.
void remote_direct(shard::shard& home, std::uint32_t app, const std::string& peer_id,
                   const net::frame_ptr& frame);
// A kick requested on another node.
void remote_kick(shard::shard& home, std::uint32_t app, const std::string& peer_id);

// Order key for a new roster member: increases on every call (wall-clock microseconds in
// cluster mode so members of different nodes compare).
std::uint64_t next_order(shard::shard& home);

}  // namespace parley::hub
