// Cross-shard operations; see hub.hpp for the model and the ordering argument.
#include "hub/hub.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

#include "engine/cluster.hpp"
#include "shard/connection.hpp"
#include "shard/shard.hpp"

namespace parley::hub {

std::uint32_t home_of(const shard::shard& s, std::string_view key) {
    const std::uint32_t n = s.count();
    if (n == 1 || s.srv_const().cluster() != nullptr) {
        return 0;
    }
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key) % n);
}

std::uint64_t next_order(shard::shard& home) {
    std::uint64_t& last = home.last_order();
    std::uint64_t now = 0;
    if (home.srv().cluster() != nullptr) {
        now = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    }
    last = std::max(last + 1, now);
    return last;
}

namespace {

engine::cluster* cluster_of(shard::shard& s) { return s.srv().cluster(); }

// The roster key of local connection `c`: unique per join in a cluster (a re-join after leaving
// must not be mistaken for the old membership by other nodes).
std::string member_key(shard::shard& home, conn_id c) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(c));
    if (engine::cluster* cl = cluster_of(home)) {
        return cl->node_id() + "/" + buf + "/" + std::to_string(++home.join_counter());
    }
    return buf;
}

// Sends `frame` to the members of channel `ch` on every shard that has some.
void fan_out_presence(shard::shard& home, const shard::home_channel& ch, const std::string& key,
                      const net::frame_ptr& frame) {
    for (std::uint32_t s = 0; s < ch.members_per_shard.size(); ++s) {
        if (ch.members_per_shard[s] == 0) {
            continue;
        }
        home.run_on(s, [&home, s, key, frame] {
            home.srv().shard_at(s).deliver_presence(key, frame);
        });
    }
}

std::vector<net::frame_ptr> build_snapshot(shard::shard& home, const shard::home_channel* ch,
                                           const std::string& key, const identity& who) {
    std::vector<net::frame_ptr> frames;
    auto emit = [&](net::frame_ptr f) { frames.push_back(std::move(f)); };
    proto::encoder& enc = home.encoder();
    enc.snapshot_begin(channel_of_key(key), emit);
    if (ch != nullptr) {
        ch->roster.for_each_entry(who.peer_id,
                                  [&](std::string_view entry) { enc.snapshot_add(entry, emit); });
    }
    enc.snapshot_finish(emit);
    return frames;
}

// Runs `then` once channel `key` is ready for a local member: at once in memory mode, after the
// cluster has loaded its roster in cluster mode.
void when_tracked(shard::shard& home, const std::string& key, std::function<void()> then) {
    auto [it, inserted] = home.home_channels().try_emplace(key);
    shard::home_channel& ch = it->second;
    if (inserted) {
        ch.members_per_shard.assign(home.count(), 0);
    }
    engine::cluster* cl = cluster_of(home);
    if (cl == nullptr || ch.tracked) {
        then();
        return;
    }
    ch.waiting.push_back(std::move(then));
    if (ch.loading) {
        return;
    }
    ch.loading = true;
    cl->track(key, [&home, key] {
        auto found = home.home_channels().find(key);
        if (found == home.home_channels().end()) {
            return;
        }
        shard::home_channel& c = found->second;
        c.loading = false;
        c.tracked = true;
        auto waiting = std::move(c.waiting);
        c.waiting.clear();
        for (auto& w : waiting) {
            w();
        }
    });
}

// Positions of publish targets: shards with exact members of the channel or pattern subscriptions.
std::vector<std::uint32_t> publish_targets(shard::shard& home, const shard::publish_msg& msg) {
    std::vector<std::uint32_t> targets;
    auto it = home.home_channels().find(msg.key);
    const std::uint64_t patterns = home.pattern_shards(msg.app);
    for (std::uint32_t s = 0; s < home.count(); ++s) {
        bool exact = it != home.home_channels().end() && it->second.members_per_shard[s] > 0;
        if (exact || ((patterns >> s) & 1) != 0) {
            targets.push_back(s);
        }
    }
    return targets;
}

void deliver_everywhere(shard::shard& home, const std::shared_ptr<const shard::publish_msg>& msg) {
    auto& srv = home.srv();
    for (std::uint32_t s : publish_targets(home, *msg)) {
        home.run_on(s, [&srv, s, msg] { srv.shard_at(s).deliver_message(*msg); });
    }
}

// Closes the local connections of a peer with 4020; returns how many there were.
std::int64_t kick_here(shard::shard& home, std::uint32_t app, const std::string& peer_id) {
    auto it = home.home_peers().find(peer_key(app, peer_id));
    if (it == home.home_peers().end()) {
        return 0;
    }
    auto& srv = home.srv();
    // A copy: closing a connection of this shard inline unregisters it from the list.
    const std::vector<conn_id> targets = it->second;
    for (conn_id c : targets) {
        home.run_on(shard_of(c), [&srv, c] {
            if (auto* conn = srv.shard_at(shard_of(c)).find(c)) {
                conn->close(4020, "admin_disconnect");
            }
        });
    }
    return static_cast<std::int64_t>(targets.size());
}

}  // namespace

void join(shard::shard& origin, conn_id c, const identity_ptr& who, const std::string& key,
          bool want_snapshot, std::function<void(std::vector<net::frame_ptr>)> done) {
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c, who, key,
                               want_snapshot, done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        when_tracked(home, key, [&home, origin_index, c, who, key, want_snapshot,
                                 done = std::move(done)]() mutable {
            shard::home_channel& ch = home.home_channels()[key];
            // The joined delta goes out before the member is counted on its shard, and before
            // the snapshot reply: the new member is not yet in its shard's local index, so it
            // never receives its own delta.
            const std::string member = member_key(home, c);
            const std::uint64_t order = next_order(home);
            if (ch.roster.add(member, c, who, order)) {
                fan_out_presence(home, ch, key,
                                 home.encoder().presence_joined(channel_of_key(key), who->presence_entry));
            }
            ++ch.members_per_shard[shard_of(c)];
            ++ch.members;
            if (engine::cluster* cl = cluster_of(home)) {
                cl->local_join(key, member, *who, order);
            }
            std::vector<net::frame_ptr> snap;
            if (want_snapshot) {
                snap = build_snapshot(home, &ch, key, *who);
            }
            home.run_on(origin_index, [done = std::move(done), snap = std::move(snap)]() mutable {
                done(std::move(snap));
            });
        });
    });
}

void snapshot(shard::shard& origin, const identity_ptr& who, const std::string& key,
              std::function<void(std::vector<net::frame_ptr>)> done) {
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, who, key,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto it = home.home_channels().find(key);
        auto snap = build_snapshot(home, it == home.home_channels().end() ? nullptr : &it->second,
                                   key, *who);
        home.run_on(origin_index, [done = std::move(done), snap = std::move(snap)]() mutable {
            done(std::move(snap));
        });
    });
}

void leave(shard::shard& origin, conn_id c, const identity_ptr& who, const std::string& key,
           std::function<void()> done) {
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c, who, key,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto it = home.home_channels().find(key);
        if (it != home.home_channels().end()) {
            shard::home_channel& ch = it->second;
            auto removed = ch.roster.remove_local(c, who->peer_id);
            if (removed.found) {
                --ch.members_per_shard[shard_of(c)];
                --ch.members;
                if (engine::cluster* cl = cluster_of(home)) {
                    cl->local_leave(key, removed.key, who->peer_id);
                }
            }
            if (removed.gone) {
                fan_out_presence(home, ch, key,
                                 home.encoder().presence_left(channel_of_key(key), removed.gone->left_entry));
            }
            if (ch.members == 0 && !ch.loading) {
                // No local member left: the channel's state (remote members included) goes.
                if (engine::cluster* cl = cluster_of(home); cl != nullptr && ch.tracked) {
                    cl->untrack(key);
                }
                home.home_channels().erase(it);
            }
        }
        if (done) {
            home.run_on(origin_index, std::move(done));
        }
    });
}

void publish(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
             std::function<void()> done) {
    const std::uint32_t home_index = home_of(origin, msg->key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, msg = std::move(msg),
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        deliver_everywhere(home, msg);
        if (engine::cluster* cl = cluster_of(home)) {
            cl->publish(*msg);
        }
        if (done) {
            home.run_on(origin_index, std::move(done));
        }
    });
}

void publish_counted(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
                     std::function<void(std::int64_t)> done) {
    const std::uint32_t home_index = home_of(origin, msg->key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, msg = std::move(msg),
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        if (engine::cluster* cl = cluster_of(home)) {
            cl->publish(*msg);
        }
        auto targets = publish_targets(home, *msg);
        if (targets.empty()) {
            home.run_on(origin_index, [done = std::move(done)] { done(0); });
            return;
        }
        // Totals are summed on the origin shard only.
        struct tally {
            std::size_t remaining;
            std::int64_t total = 0;
            std::function<void(std::int64_t)> done;
        };
        auto t = std::make_shared<tally>(tally{targets.size(), 0, std::move(done)});
        for (std::uint32_t s : targets) {
            home.run_on(s, [&srv, s, msg, origin_index, t] {
                std::int64_t n = srv.shard_at(s).deliver_message(*msg);
                srv.shard_at(s).run_on(origin_index, [t, n] {
                    t->total += n;
                    if (--t->remaining == 0) {
                        t->done(t->total);
                    }
                });
            });
        }
    });
}

void send(shard::shard& origin, std::uint32_t app, const std::string& to, net::frame_ptr frame,
          conn_id exclude, std::function<void(send_result)> done) {
    std::string key = peer_key(app, to);
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, app, to, key = std::move(key),
                               frame = std::move(frame), exclude, done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        bool found = false;
        auto it = home.home_peers().find(key);
        if (it != home.home_peers().end()) {
            // Group targets by shard: one post per shard, however many connections.
            std::vector<std::vector<conn_id>> by_shard(home.count());
            for (conn_id t : it->second) {
                if (t != exclude) {
                    by_shard[shard_of(t)].push_back(t);
                    found = true;
                }
            }
            for (std::uint32_t s = 0; s < by_shard.size(); ++s) {
                if (by_shard[s].empty()) {
                    continue;
                }
                home.run_on(s, [&srv, s, frame, targets = std::move(by_shard[s])] {
                    srv.shard_at(s).deliver_direct(frame, targets);
                });
            }
        }
        engine::cluster* cl = cluster_of(home);
        if (cl == nullptr) {
            home.run_on(origin_index, [done = std::move(done), found] {
                done(found ? send_result::delivered : send_result::peer_not_found);
            });
            return;
        }
        cl->send(app, to, frame, [&home, origin_index, found, done = std::move(done)](std::int64_t remote, bool ok) mutable {
            send_result r = found || remote > 0 ? send_result::delivered
                            : ok               ? send_result::peer_not_found
                                               : send_result::backend_error;
            home.run_on(origin_index, [done = std::move(done), r] { done(r); });
        });
    });
}

void register_peer(shard::shard& origin, conn_id c, const identity_ptr& who,
                   std::function<void()> done) {
    std::string key = peer_key(who->app, who->peer_id);
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c, who,
                               key = std::move(key), done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto& list = home.home_peers()[key];
        list.push_back(c);
        if (engine::cluster* cl = cluster_of(home)) {
            cl->peer_connections(who->app, who->peer_id, list.size());
        }
        home.run_on(origin_index, std::move(done));
    });
}

void unregister_peer(shard::shard& origin, conn_id c, const identity_ptr& who) {
    std::string key = peer_key(who->app, who->peer_id);
    const std::uint32_t home_index = home_of(origin, key);
    origin.run_on(home_index, [&srv = origin.srv(), home_index, c, who, key = std::move(key)] {
        shard::shard& home = srv.shard_at(home_index);
        auto& peers = home.home_peers();
        auto it = peers.find(key);
        if (it == peers.end()) {
            return;
        }
        auto& list = it->second;
        std::erase(list, c);
        const std::size_t left = list.size();
        if (left == 0) {
            peers.erase(it);
        }
        if (engine::cluster* cl = cluster_of(home)) {
            cl->peer_connections(who->app, who->peer_id, left);
        }
    });
}

void set_pattern_interest(shard::shard& origin, std::uint32_t app, bool on,
                          std::function<void()> done) {
    const std::uint32_t origin_index = origin.index();
    const std::uint32_t n = origin.count();
    // Counts down the shards that still have to record the change.
    auto remaining = std::make_shared<std::uint32_t>(n);
    auto finish = std::make_shared<std::function<void()>>(std::move(done));
    // `finish` may hold connection references, which only the origin's thread may release: each
    // hop moves the shared state on, so the last reference always drops on the origin.
    for (std::uint32_t s = 0; s < n; ++s) {
        origin.run_on(s, [&srv = origin.srv(), s, app, on, origin_index, remaining, finish]() mutable {
            shard::shard& target = srv.shard_at(s);
            target.set_pattern_shard(app, origin_index, on);
            target.run_on(origin_index, [remaining = std::move(remaining), finish = std::move(finish)] {
                if (--*remaining == 0 && *finish) {
                    (*finish)();
                }
            });
        });
    }
}

void pattern_ref(shard::shard& origin, std::uint32_t app, const std::string& pattern, int delta,
                 std::function<void()> done) {
    if (cluster_of(origin) == nullptr) {
        if (done) {
            done();
        }
        return;
    }
    const std::uint32_t origin_index = origin.index();
    origin.run_on(0, [&srv = origin.srv(), app, pattern, delta, origin_index, done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(0);
        engine::cluster* cl = cluster_of(home);
        std::string key = channel_key(app, pattern);
        int& refs = home.pattern_refs()[key];
        const int before = refs;
        refs += delta;
        if (before == 0 && refs > 0) {
            cl->pattern_added(app, pattern);
        } else if (before > 0 && refs <= 0) {
            home.pattern_refs().erase(key);
            cl->pattern_removed(app, pattern);
        }
        if (done) {
            cl->pattern_ready(app, pattern, [&home, origin_index, done = std::move(done)]() mutable {
                home.run_on(origin_index, std::move(done));
            });
        }
    });
}

void list_peers(shard::shard& origin, const std::string& key, std::function<void(std::string)> done) {
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, key,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto reply = [&home, origin_index, done](std::string entries) {
            home.run_on(origin_index, [done, entries = std::move(entries)]() mutable {
                done(std::move(entries));
            });
        };
        auto it = home.home_channels().find(key);
        engine::cluster* cl = cluster_of(home);
        if (it == home.home_channels().end() && cl != nullptr) {
            // Not followed by this node: ask the cluster.
            cl->fetch_entries(key, [reply](std::vector<std::string> entries) {
                std::string out = "[";
                for (std::size_t i = 0; i < entries.size(); ++i) {
                    out += i == 0 ? "" : ",";
                    out += entries[i];
                }
                reply(out + "]");
            });
            return;
        }
        std::string entries = "[";
        if (it != home.home_channels().end()) {
            bool first = true;
            it->second.roster.for_each_entry({}, [&](std::string_view e) {
                entries += first ? "" : ",";
                entries += e;
                first = false;
            });
        }
        reply(entries + "]");
    });
}

void kick(shard::shard& origin, std::uint32_t app, const std::string& peer_id,
          std::function<void(std::int64_t)> done) {
    std::string key = peer_key(app, peer_id);
    const std::uint32_t home_index = home_of(origin, key);
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, app, peer_id,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        const std::int64_t here = kick_here(home, app, peer_id);
        engine::cluster* cl = cluster_of(home);
        if (cl == nullptr) {
            home.run_on(origin_index, [done = std::move(done), here] { done(here); });
            return;
        }
        cl->kick(app, peer_id, [&home, origin_index, here, done = std::move(done)](std::int64_t remote) mutable {
            home.run_on(origin_index, [done = std::move(done), total = here + remote] { done(total); });
        });
    });
}

// ---------------------------------------------------------------- cluster feed (shard 0)

void remote_join(shard::shard& home, const std::string& key, const std::string& member,
                 const identity_ptr& who, std::uint64_t order) {
    auto it = home.home_channels().find(key);
    if (it == home.home_channels().end()) {
        return;  // not followed here
    }
    shard::home_channel& ch = it->second;
    if (ch.loading) {
        ch.buffered.push_back({true, member, who, order, who->peer_id});
        return;
    }
    if (ch.roster.add(member, no_conn, who, order)) {
        fan_out_presence(home, ch, key, home.encoder().presence_joined(channel_of_key(key), who->presence_entry));
    }
}

void remote_leave(shard::shard& home, const std::string& key, const std::string& member,
                  const std::string& peer_id) {
    auto it = home.home_channels().find(key);
    if (it == home.home_channels().end()) {
        return;
    }
    shard::home_channel& ch = it->second;
    if (ch.loading) {
        ch.buffered.push_back({false, member, nullptr, 0, peer_id});
        return;
    }
    auto removed = ch.roster.remove(member, peer_id);
    if (removed.gone) {
        fan_out_presence(home, ch, key, home.encoder().presence_left(channel_of_key(key), removed.gone->left_entry));
    }
}

void finish_load(shard::shard& home, const std::string& key,
                 const std::optional<std::vector<remote_member>>& loaded, bool remove_missing) {
    auto it = home.home_channels().find(key);
    if (it == home.home_channels().end()) {
        return;
    }
    shard::home_channel& ch = it->second;
    const std::string_view channel = channel_of_key(key);
    static const std::vector<remote_member> none;
    const std::vector<remote_member>& members = loaded ? *loaded : none;
    // Remote members the cluster no longer has.
    std::vector<std::pair<std::string, std::string>> stale;
    ch.roster.for_each_member([&](std::string_view m, conn_id c, const identity_ptr& who, std::uint64_t) {
        if (c != no_conn || !loaded || !remove_missing) {
            return;
        }
        bool listed = false;
        for (const auto& r : members) {
            if (r.member == m) {
                listed = true;
                break;
            }
        }
        if (!listed) {
            stale.emplace_back(std::string(m), who->peer_id);
        }
    });
    for (const auto& [m, peer] : stale) {
        auto removed = ch.roster.remove(m, peer);
        if (removed.gone) {
            fan_out_presence(home, ch, key, home.encoder().presence_left(channel, removed.gone->left_entry));
        }
    }
    for (const auto& r : members) {
        if (ch.roster.add(r.member, no_conn, r.who, r.order)) {
            fan_out_presence(home, ch, key, home.encoder().presence_joined(channel, r.who->presence_entry));
        }
    }
    // Events that arrived while loading: replaying them is idempotent (member keys are unique).
    auto buffered = std::move(ch.buffered);
    ch.buffered.clear();
    ch.loading = false;
    for (auto& e : buffered) {
        if (e.join) {
            remote_join(home, key, e.member, e.who, e.order);
        } else {
            remote_leave(home, key, e.member, e.peer);
        }
    }
}

void remote_message(shard::shard& home, std::shared_ptr<const shard::publish_msg> msg) {
    deliver_everywhere(home, msg);
}

void remote_direct(shard::shard& home, std::uint32_t app, const std::string& peer_id,
                   const net::frame_ptr& frame) {
    auto it = home.home_peers().find(peer_key(app, peer_id));
    if (it == home.home_peers().end()) {
        return;
    }
    auto& srv = home.srv();
    std::vector<std::vector<conn_id>> by_shard(home.count());
    for (conn_id t : it->second) {
        by_shard[shard_of(t)].push_back(t);
    }
    for (std::uint32_t s = 0; s < by_shard.size(); ++s) {
        if (!by_shard[s].empty()) {
            home.run_on(s, [&srv, s, frame, targets = std::move(by_shard[s])] {
                srv.shard_at(s).deliver_direct(frame, targets);
            });
        }
    }
}

void remote_kick(shard::shard& home, std::uint32_t app, const std::string& peer_id) {
    kick_here(home, app, peer_id);
}

}  // namespace parley::hub
