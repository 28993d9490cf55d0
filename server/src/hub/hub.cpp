// Cross-shard operations; see hub.hpp for the model and the ordering argument.
#include "hub/hub.hpp"

#include <memory>

#include "shard/connection.hpp"
#include "shard/shard.hpp"

namespace parley::hub {

std::uint32_t home_of(std::string_view key, std::uint32_t shard_count) {
    if (shard_count == 1) {
        return 0;
    }
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(key) % shard_count);
}

namespace {

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

}  // namespace

void join(shard::shard& origin, conn_id c, const identity_ptr& who, const std::string& key,
          bool want_snapshot, std::function<void(std::vector<net::frame_ptr>)> done) {
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c, who, key,
                               want_snapshot, done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto [it, inserted] = home.home_channels().try_emplace(key);
        shard::home_channel& ch = it->second;
        if (inserted) {
            ch.members_per_shard.assign(home.count(), 0);
        }
        // The joined delta goes out before the member is counted on its shard, and before the
        // snapshot reply: the new member is not yet in its shard's local index, so it never
        // receives its own delta.
        if (ch.roster.add(c, who)) {
            fan_out_presence(home, ch, key, home.encoder().presence_joined(channel_of_key(key), who->presence_entry));
        }
        ++ch.members_per_shard[shard_of(c)];
        ++ch.members;
        std::vector<net::frame_ptr> snap;
        if (want_snapshot) {
            snap = build_snapshot(home, &ch, key, *who);
        }
        home.run_on(origin_index, [done = std::move(done), snap = std::move(snap)]() mutable {
            done(std::move(snap));
        });
    });
}

void snapshot(shard::shard& origin, const identity_ptr& who, const std::string& key,
              std::function<void(std::vector<net::frame_ptr>)> done) {
    const std::uint32_t home_index = home_of(key, origin.count());
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
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c, who, key,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        auto it = home.home_channels().find(key);
        if (it != home.home_channels().end()) {
            shard::home_channel& ch = it->second;
            auto removed = ch.roster.remove(c, who->peer_id);
            if (removed.found) {
                --ch.members_per_shard[shard_of(c)];
                --ch.members;
            }
            if (removed.gone) {
                fan_out_presence(home, ch, key,
                                 home.encoder().presence_left(channel_of_key(key),
                                                              removed.gone->left_entry));
            }
            if (ch.members == 0) {
                home.home_channels().erase(it);
            }
        }
        if (done) {
            home.run_on(origin_index, std::move(done));
        }
    });
}

namespace {

// Shards that must see a publish of `msg` (exact subscribers or pattern subscriptions).
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

}  // namespace

void publish(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
             std::function<void()> done) {
    const std::uint32_t home_index = home_of(msg->key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, msg = std::move(msg),
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        for (std::uint32_t s : publish_targets(home, *msg)) {
            home.run_on(s, [&srv, s, msg] { srv.shard_at(s).deliver_message(*msg); });
        }
        if (done) {
            home.run_on(origin_index, std::move(done));
        }
    });
}

void publish_counted(shard::shard& origin, std::shared_ptr<const shard::publish_msg> msg,
                     std::function<void(std::int64_t)> done) {
    const std::uint32_t home_index = home_of(msg->key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, msg = std::move(msg),
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
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

void list_peers(shard::shard& origin, const std::string& key, std::function<void(std::string)> done) {
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, key,
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        std::string entries = "[";
        auto it = home.home_channels().find(key);
        if (it != home.home_channels().end()) {
            bool first = true;
            it->second.roster.for_each_entry({}, [&](std::string_view e) {
                entries += first ? "" : ",";
                entries += e;
                first = false;
            });
        }
        entries += "]";
        home.run_on(origin_index, [done = std::move(done), entries = std::move(entries)]() mutable {
            done(std::move(entries));
        });
    });
}

void kick(shard::shard& origin, std::uint32_t app, const std::string& peer_id,
          std::function<void(std::int64_t)> done) {
    std::string key = peer_key(app, peer_id);
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, key = std::move(key),
                               done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        std::int64_t found = 0;
        auto it = home.home_peers().find(key);
        if (it != home.home_peers().end()) {
            found = static_cast<std::int64_t>(it->second.size());
            for (conn_id c : it->second) {
                home.run_on(shard_of(c), [&srv, c] {
                    if (auto* conn = srv.shard_at(shard_of(c)).find(c)) {
                        conn->close(4020, "admin_disconnect");
                    }
                });
            }
        }
        home.run_on(origin_index, [done = std::move(done), found] { done(found); });
    });
}

void send(shard::shard& origin, std::uint32_t app, const std::string& to, net::frame_ptr frame,
          conn_id exclude, std::function<void(bool)> done) {
    std::string key = peer_key(app, to);
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, key = std::move(key),
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
        home.run_on(origin_index, [done = std::move(done), found] { done(found); });
    });
}

void register_peer(shard::shard& origin, conn_id c, const identity_ptr& who,
                   std::function<void()> done) {
    std::string key = peer_key(who->app, who->peer_id);
    const std::uint32_t home_index = home_of(key, origin.count());
    const std::uint32_t origin_index = origin.index();
    origin.run_on(home_index, [&srv = origin.srv(), home_index, origin_index, c,
                               key = std::move(key), done = std::move(done)]() mutable {
        shard::shard& home = srv.shard_at(home_index);
        home.home_peers()[key].push_back(c);
        home.run_on(origin_index, std::move(done));
    });
}

void unregister_peer(shard::shard& origin, conn_id c, const identity_ptr& who) {
    std::string key = peer_key(who->app, who->peer_id);
    const std::uint32_t home_index = home_of(key, origin.count());
    origin.run_on(home_index, [&srv = origin.srv(), home_index, c, key = std::move(key)] {
        auto& peers = srv.shard_at(home_index).home_peers();
        auto it = peers.find(key);
        if (it == peers.end()) {
            return;
        }
        auto& list = it->second;
        std::erase(list, c);
        if (list.empty()) {
            peers.erase(it);
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
    for (std::uint32_t s = 0; s < n; ++s) {
        origin.run_on(s, [&srv = origin.srv(), s, app, on, origin_index, remaining, finish] {
            shard::shard& target = srv.shard_at(s);
            target.set_pattern_shard(app, origin_index, on);
            target.run_on(origin_index, [remaining, finish] {
                if (--*remaining == 0 && *finish) {
                    (*finish)();
                }
            });
        });
    }
}

}  // namespace parley::hub
