// The redis engine; see redis_cluster.hpp for the Redis layout and cluster.hpp for the model.
//
// Wire format of pub/sub payloads (fields separated by tabs; the last field may contain anything):
//   M <origin> <length of plain> <plain frame JSON><frame JSON with fromMetadata, or nothing>
//   J <origin> <member> <order> <peerId> <peerMetadata JSON or nothing>
//   L <origin> <member> <peerId>
//   D <origin> <direct frame JSON>
//   K <origin>
// A node ignores what it published itself (it delivered locally already).
#include "engine/redis/redis_cluster.hpp"

#include <chrono>
#include <set>

#include <spdlog/spdlog.h>

#include "config/config.hpp"
#include "hub/hub.hpp"
#include "server/app_runtime.hpp"
#include "shard/shard.hpp"

namespace parley::engine {

namespace {

// Adds a member and announces it, atomically (the hash and the event stream agree).
constexpr std::string_view join_script = R"(
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1)";

constexpr std::string_view leave_script = R"(
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1)";

// Removes everything a dead node (heartbeat expired) left behind, announcing the departure of
// each of its presence members. Idempotent; a node that is alive is left alone.
constexpr std::string_view cleanup_script = R"(
local node, p = ARGV[1], ARGV[2]
if redis.call('EXISTS', p .. ':n:' .. node) == 1 then return 0 end
local pre = node .. '/'
for _, hk in ipairs(redis.call('SMEMBERS', p .. ':nc:' .. node)) do
  local ch = p .. ':c:' .. string.sub(hk, #p + 4)
  local all = redis.call('HGETALL', hk)
  for i = 1, #all, 2 do
    local f, v = all[i], all[i + 1]
    if string.sub(f, 1, #pre) == pre then
      redis.call('HDEL', hk, f)
      local peer = string.match(v, '^%d+\t([^\t]*)\t') or ''
      redis.call('PUBLISH', ch, 'L\t' .. node .. '\t' .. f .. '\t' .. peer)
    end
  end
end
for _, k in ipairs(redis.call('SMEMBERS', p .. ':nk:' .. node)) do redis.call('HDEL', k, node) end
redis.call('DEL', p .. ':nc:' .. node, p .. ':nk:' .. node)
redis.call('SREM', p .. ':nodes', node)
return 1)";

// Makes one node's entries in one channel's presence hash match the members it lists: entries
// of the node that are not listed are removed (announced with `left`), listed ones that are
// missing are added (announced with their `joined`). Entries already right produce no event, so
// other nodes see no change for connections that stayed.
// KEYS: presence hash, pub/sub channel, the node's channel set. ARGV: node, then triples of
// member, value, join event.
constexpr std::string_view sync_script = R"(
local pre = ARGV[1] .. '/'
local want = {}
for i = 2, #ARGV, 3 do want[ARGV[i]] = true end
local have = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if string.sub(f, 1, #pre) == pre then
    if want[f] then
      have[f] = true
    else
      redis.call('HDEL', KEYS[1], f)
      local peer = string.match(v, '^%d+	([^	]*)	') or ''
      redis.call('PUBLISH', KEYS[2], 'L	' .. ARGV[1] .. '	' .. f .. '	' .. peer)
    end
  end
end
for i = 2, #ARGV, 3 do
  if not have[ARGV[i]] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('PUBLISH', KEYS[2], ARGV[i + 2])
  end
end
if #ARGV > 1 then redis.call('SADD', KEYS[3], KEYS[1]) else redis.call('SREM', KEYS[3], KEYS[1]) end
return 1)";

std::vector<std::string_view> split_tabs(std::string_view s, std::size_t fields) {
    // Splits into at most `fields` parts; the last part keeps any further tabs.
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (out.size() + 1 < fields) {
        std::size_t tab = s.find('\t', pos);
        if (tab == std::string_view::npos) {
            break;
        }
        out.push_back(s.substr(pos, tab - pos));
        pos = tab + 1;
    }
    out.push_back(s.substr(pos));
    return out;
}

std::string random_node_id() {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::string id = config::random_key_part(16);
    for (auto& c : id) {
        c = alphabet[static_cast<unsigned char>(c) % 36];
    }
    return id;
}

std::string_view reply_str(const redisReply* r) {
    return r != nullptr && r->str != nullptr ? std::string_view(r->str, r->len) : std::string_view{};
}

std::chrono::milliseconds seconds(double s) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string redis_glob(std::string_view p) {
    std::string out;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            out += '\\';
            out += p[++i];  // \* or \\ stay literal
        } else if (c == '*') {
            while (i + 1 < p.size() && p[i + 1] == '*') {
                ++i;
            }
            out += '*';
        } else if (c == '?' || c == '[' || c == ']') {
            out += '\\';
            out += c;
        } else {
            out += c;
        }
    }
    return out;
}

namespace {

// The Parley pattern matching what redis_glob(p) matches: every wildcard widened to `**`.
std::string widened(std::string_view p) {
    std::string out;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\' && i + 1 < p.size()) {
            out += p[i];
            out += p[++i];
        } else if (p[i] == '*') {
            while (i + 1 < p.size() && p[i + 1] == '*') {
                ++i;
            }
            out += "**";
        } else {
            out += p[i];
        }
    }
    return out;
}

}  // namespace

redis_cluster::redis_cluster(server::server& srv, shard::shard& home, const config::engine_config& cfg)
    : srv_(srv),
      home_(home),
      cfg_(cfg),
      node_(cfg.node_id.empty() ? random_node_id() : cfg.node_id),
      prefix_(cfg.prefix),
      cmd_(home.io(), parse_redis_url(cfg.url), "commands"),
      sub_(home.io(), parse_redis_url(cfg.url), "subscriptions"),
      heartbeat_timer_(home.io()),
      sweep_timer_(home.io()),
      counter_timer_(home.io()),
      settle_timer_(home.io()) {}

redis_cluster::~redis_cluster() { stop(); }

void redis_cluster::start() {
    cmd_.on_connect = [this] { on_cmd_connect(); };
    sub_.on_connect = [this] { on_sub_connect(); };
    cmd_.on_disconnect = [this] { on_down(); };
    sub_.on_disconnect = [this] {
        // Redis forgot this connection's subscriptions: everything wanted is sent again. Roster
        // loads waiting for a confirmation go on without the cluster (resync completes them).
        std::vector<std::function<void()>> waiting;
        for (auto& [name, s] : channels_) {
            s.state = sub_state::subscribing;
            s.in_flight = false;
            for (auto& w : s.on_subscribed) {
                waiting.push_back(std::move(w));
            }
            s.on_subscribed.clear();
        }
        for (auto& [glob, p] : patterns_) {
            p.confirmed = false;
            p.in_flight = false;
            for (auto& f : p.ready) {
                waiting.push_back(std::move(f));
            }
            p.ready.clear();
        }
        on_down();
        for (auto& w : waiting) {
            w();
        }
    };
    sub_.on_push = [this](redisReply* r) { on_push(r); };
    cmd_.start();
    sub_.start();
    spdlog::info("cluster: node {} using Redis at {} (prefix {})", node_, cfg_.url, prefix_);
    schedule(heartbeat_timer_, seconds(cfg_.heartbeat_interval), &redis_cluster::heartbeat);
    schedule(sweep_timer_, seconds(cfg_.heartbeat_interval), &redis_cluster::sweep);
    schedule(counter_timer_, std::chrono::milliseconds(1000), &redis_cluster::sync_counters);
}

void redis_cluster::stop() {
    *alive_ = false;
    heartbeat_timer_.cancel();
    sweep_timer_.cancel();
    counter_timer_.cancel();
    settle_timer_.cancel();
    cmd_.stop();
    sub_.stop();
    up_ = false;
}

void redis_cluster::schedule(boost::asio::steady_timer& t, std::chrono::milliseconds every,
                             void (redis_cluster::*fn)()) {
    t.expires_after(every);
    t.async_wait([this, &t, every, fn](const boost::system::error_code& ec) {
        if (ec) {
            return;
        }
        (this->*fn)();
        schedule(t, every, fn);
    });
}

void redis_cluster::count_error() { errors_.fetch_add(1, std::memory_order_relaxed); }

void redis_cluster::run(const std::vector<std::string_view>& args, redis_connection::reply_fn cb) {
    auto alive = alive_;
    // The callback is shared, not copied, on its way through the connection: it may hold
    // references to a client connection, which only that connection's shard may copy.
    auto fn = std::make_shared<redis_connection::reply_fn>(std::move(cb));
    auto wrapped = [this, alive, fn](redisReply* r) {
        if (!*alive) {
            return;  // stopping: the home shard may be going away
        }
        if (r != nullptr && r->type == REDIS_REPLY_ERROR) {
            spdlog::warn("cluster: Redis error: {}", reply_str(r));
            count_error();
        }
        if (*fn) {
            (*fn)(r != nullptr && r->type == REDIS_REPLY_ERROR ? nullptr : r);
        }
    };
    if (!cmd_.command(args, wrapped)) {
        // Not connected: fail the command, but never inside the caller's own call.
        count_error();
        boost::asio::post(home_.io(), [wrapped]() mutable { wrapped(nullptr); });
    }
}

// ---------------------------------------------------------------- naming

std::string redis_cluster::app_id(std::uint32_t number) const {
    for (const auto& a : home_.cfg().apps) {
        if (a.number == number) {
            return a.id;
        }
    }
    return {};
}

std::optional<std::uint32_t> redis_cluster::app_number(std::string_view id) const {
    for (const auto& a : home_.cfg().apps) {
        if (a.id == id) {
            return a.number;
        }
    }
    return std::nullopt;
}

std::string redis_cluster::channel_name(const std::string& key) const {
    return prefix_ + ":c:" + app_id(hub::app_of_key(key)) + ":" + std::string(hub::channel_of_key(key));
}

std::string redis_cluster::presence_hash(const std::string& key) const {
    std::string name = channel_name(key);
    return prefix_ + ":p:" + name.substr(prefix_.size() + 3);
}

std::string redis_cluster::peer_channel(std::uint32_t app, const std::string& peer) const {
    return prefix_ + ":d:" + app_id(app) + ":" + peer;
}

std::string redis_cluster::peer_hash(std::uint32_t app, const std::string& peer) const {
    return prefix_ + ":pp:" + app_id(app) + ":" + peer;
}

std::optional<std::string> redis_cluster::key_of_channel(std::string_view name) const {
    // name = P:c:A:<channel>
    std::string_view rest = name.substr(prefix_.size() + 3);
    auto colon = rest.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    auto app = app_number(rest.substr(0, colon));
    if (!app) {
        return std::nullopt;
    }
    return hub::channel_key(*app, rest.substr(colon + 1));
}

// ---------------------------------------------------------------- connection state

void redis_cluster::on_cmd_connect() {
    if (sub_.connected()) {
        resync();
    }
}

void redis_cluster::on_sub_connect() {
    if (cmd_.connected()) {
        resync();
    }
}

void redis_cluster::on_down() {
    if (up_.exchange(false)) {
        spdlog::warn("cluster: Redis unreachable; serving local connections only until it returns");
    }
}

void redis_cluster::resync() {
    if (was_up_) {
        reconnects_.fetch_add(1, std::memory_order_relaxed);
    }
    was_up_ = true;
    up_ = true;
    heartbeat();
    // Subscriptions Redis may have forgotten.
    for (auto& [name, s] : channels_) {
        if (s.wanted && s.state == sub_state::subscribing && !s.in_flight) {
            s.in_flight = sub_.subscribe_command({"SUBSCRIBE", name});
        }
    }
    for (auto& [glob, p] : patterns_) {
        if (!p.confirmed && !p.in_flight) {
            p.in_flight = sub_.subscribe_command({"PSUBSCRIBE", glob});
        }
    }
    // Peers with connections here: their direct channels and connection counts; counts this
    // node left behind for peers it no longer has are dropped.
    std::set<std::string> peer_hashes;
    for (const auto& [key, conns] : home_.home_peers()) {
        peer_connections(hub::app_of_key(key), std::string(hub::channel_of_key(key)), conns.size());
        peer_hashes.insert(peer_hash(hub::app_of_key(key), std::string(hub::channel_of_key(key))));
    }
    run({"SMEMBERS", prefix_ + ":nk:" + node_}, [this, peer_hashes](redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
            return;
        }
        const std::string pp = prefix_ + ":pp:";
        for (std::size_t i = 0; i < r->elements; ++i) {
            std::string k(reply_str(r->element[i]));
            if (k.rfind(pp, 0) == 0 && peer_hashes.count(k) == 0) {
                run({"HDEL", k, node_});
                run({"SREM", prefix_ + ":nk:" + node_, k});
            }
        }
    });
    // Our presence entries as they are now (also what a crash of an earlier process with the
    // same node id left), then the others' rosters: first adding what Redis has, and once every
    // node has had time to come back and announce itself, removing what it lost.
    sync_own_entries();
    reload_channels(false);
    settle_timer_.expires_after(seconds(cfg_.node_timeout));
    settle_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && up()) {
            reload_channels(true);
        }
    });
    sync_counters();
    spdlog::info("cluster: node {} in sync with Redis", node_);
}

// ---------------------------------------------------------------- subscriptions

void redis_cluster::subscribe_channel(const std::string& name, std::function<void()> when_subscribed) {
    auto [it, inserted] = channels_.try_emplace(name);
    channel_sub& s = it->second;
    s.wanted = true;
    if (!inserted && s.state == sub_state::subscribed) {
        if (when_subscribed) {
            when_subscribed();
        }
        return;
    }
    if (when_subscribed) {
        s.on_subscribed.push_back(std::move(when_subscribed));
    }
    if (s.state == sub_state::subscribing && !s.in_flight) {
        s.in_flight = sub_.subscribe_command({"SUBSCRIBE", name});
    }
    // unsubscribing: subscribed again once the unsubscribe is confirmed (on_push).
}

void redis_cluster::unsubscribe_channel(const std::string& name) {
    auto it = channels_.find(name);
    if (it == channels_.end()) {
        return;
    }
    channel_sub& s = it->second;
    s.wanted = false;
    s.on_subscribed.clear();
    if (s.state == sub_state::subscribed) {
        s.state = sub_state::unsubscribing;
        if (!sub_.subscribe_command({"UNSUBSCRIBE", name})) {
            channels_.erase(it);  // not connected: Redis has forgotten it anyway
        }
    } else if (s.state == sub_state::subscribing && !s.in_flight) {
        channels_.erase(it);
    }
    // subscribing with a SUBSCRIBE in flight: unsubscribed when its confirmation arrives.
}

void redis_cluster::on_push(redisReply* r) {
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        return;
    }
    std::string_view kind = reply_str(r->element[0]);
    std::string name(reply_str(r->element[1]));
    if (kind == "message") {
        on_message(name, reply_str(r->element[2]), false, {});
    } else if (kind == "pmessage" && r->elements >= 4) {
        on_message(reply_str(r->element[2]), reply_str(r->element[3]), true, name);
    } else if (kind == "subscribe") {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            return;
        }
        channel_sub& s = it->second;
        s.in_flight = false;
        s.state = sub_state::subscribed;
        if (!s.wanted) {
            s.state = sub_state::unsubscribing;
            sub_.subscribe_command({"UNSUBSCRIBE", name});
            return;
        }
        auto waiting = std::move(s.on_subscribed);
        s.on_subscribed.clear();
        for (auto& w : waiting) {
            w();
        }
    } else if (kind == "unsubscribe") {
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            return;
        }
        if (it->second.wanted) {
            it->second.state = sub_state::subscribing;
            it->second.in_flight = sub_.subscribe_command({"SUBSCRIBE", name});
        } else {
            channels_.erase(it);
        }
    } else if (kind == "psubscribe") {
        auto it = patterns_.find(name);
        if (it == patterns_.end()) {
            return;
        }
        it->second.in_flight = false;
        it->second.confirmed = true;
        auto ready = std::move(it->second.ready);
        it->second.ready.clear();
        if (it->second.refs <= 0) {
            sub_.subscribe_command({"PUNSUBSCRIBE", name});
        }
        for (auto& f : ready) {
            f();
        }
    } else if (kind == "punsubscribe") {
        auto it = patterns_.find(name);
        if (it == patterns_.end()) {
            return;
        }
        it->second.confirmed = false;
        if (it->second.refs > 0) {
            it->second.in_flight = sub_.subscribe_command({"PSUBSCRIBE", name});
        } else {
            patterns_.erase(it);
        }
    }
}

void redis_cluster::on_message(std::string_view channel, std::string_view payload, bool via_pattern,
                               std::string_view pattern) {
    if (payload.size() < 2) {
        return;
    }
    const char type = payload[0];
    auto f = split_tabs(payload.substr(2), type == 'M' ? 3 : type == 'J' ? 5 : type == 'L' ? 3 : 2);
    if (f.empty() || f[0] == node_) {
        return;  // our own: delivered locally already
    }
    if (channel.substr(0, prefix_.size() + 3) == std::string(prefix_) + ":d:") {
        std::string_view rest = channel.substr(prefix_.size() + 3);
        auto colon = rest.find(':');
        auto app = colon == std::string_view::npos ? std::nullopt : app_number(rest.substr(0, colon));
        if (!app) {
            return;
        }
        std::string peer(rest.substr(colon + 1));
        if (type == 'D' && f.size() == 2) {
            net::frame_ptr frame(net::frame::create(net::opcode::text, f[1]));
            hub::remote_direct(home_, *app, peer, frame);
        } else if (type == 'K') {
            hub::remote_kick(home_, *app, peer);
        }
        return;
    }
    auto key = key_of_channel(channel);
    if (!key) {
        return;
    }
    const std::uint32_t app = hub::app_of_key(*key);
    if (via_pattern) {
        if (type != 'M') {
            return;  // presence is followed through the channel itself
        }
        // Delivered through the exact subscription instead, when this node has one.
        auto exact = channels_.find(std::string(channel));
        if (exact != channels_.end() && exact->second.state != sub_state::subscribing) {
            return;
        }
        // Several of our patterns may match: the first one (in glob order) delivers.
        std::string_view name = hub::channel_of_key(*key);
        for (const auto& [glob, p] : patterns_) {
            if (p.confirmed && p.app == app && p.superset.matches(name)) {
                if (glob != pattern) {
                    return;
                }
                break;
            }
        }
    }
    switch (type) {
        case 'M': {
            if (f.size() != 3) {
                return;
            }
            std::size_t plain_len = 0;
            try {
                plain_len = std::stoul(std::string(f[1]));
            } catch (...) {
                return;
            }
            if (plain_len > f[2].size()) {
                return;
            }
            auto msg = std::make_shared<shard::publish_msg>();
            msg->key = *key;
            msg->app = app;
            msg->plain = net::frame_ptr(net::frame::create(net::opcode::text, f[2].substr(0, plain_len)));
            std::string_view meta = f[2].substr(plain_len);
            msg->with_meta = meta.empty() ? msg->plain : net::frame_ptr(net::frame::create(net::opcode::text, meta));
            hub::remote_message(home_, std::move(msg));
            return;
        }
        case 'J': {
            if (f.size() != 5) {
                return;
            }
            std::uint64_t order = 0;
            try {
                order = std::stoull(std::string(f[2]));
            } catch (...) {
                return;
            }
            hub::remote_join(home_, *key, std::string(f[1]), hub::make_identity(app, f[3], f[4]), order);
            return;
        }
        case 'L':
            if (f.size() == 3) {
                hub::remote_leave(home_, *key, std::string(f[1]), std::string(f[2]));
            }
            return;
        default:
            return;
    }
}

// ---------------------------------------------------------------- presence

void redis_cluster::track(const std::string& key, std::function<void()> done) {
    if (!up()) {
        // Local only for now; resync() loads the cluster's roster when Redis is back.
        done();
        return;
    }
    load(key, true, std::move(done));
}

void redis_cluster::load(const std::string& key, bool remove_missing, std::function<void()> done) {
    subscribe_channel(channel_name(key), [this, key, remove_missing, done = std::move(done)]() mutable {
        run({"HGETALL", presence_hash(key)}, [this, key, remove_missing, done = std::move(done)](redisReply* r) {
            if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
                hub::finish_load(home_, key, std::nullopt, false);  // keep what we know
                done();
                return;
            }
            std::vector<hub::remote_member> members;
            const std::string mine = node_ + "/";
            const std::uint32_t app = hub::app_of_key(key);
            for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
                std::string member(reply_str(r->element[i]));
                if (member.rfind(mine, 0) == 0) {
                    continue;  // our own members are in the roster already
                }
                auto v = split_tabs(reply_str(r->element[i + 1]), 3);
                if (v.size() != 3) {
                    continue;
                }
                std::uint64_t order = 0;
                try {
                    order = std::stoull(std::string(v[0]));
                } catch (...) {
                    continue;
                }
                members.push_back({member, hub::make_identity(app, v[1], v[2]), order});
            }
            hub::finish_load(home_, key, members, remove_missing);
            done();
        });
    });
}

void redis_cluster::reload_channels(bool authoritative) {
    for (auto& [key, ch] : home_.home_channels()) {
        if (!ch.tracked || ch.loading) {
            continue;
        }
        ch.loading = true;
        load(key, authoritative, [this, key = key] {
            auto it = home_.home_channels().find(key);
            if (it != home_.home_channels().end() && it->second.members == 0 && !it->second.loading) {
                untrack(key);
                home_.home_channels().erase(it);
            }
        });
    }
}

void redis_cluster::sync_own_entries() {
    const std::string node_channels = prefix_ + ":nc:" + node_;
    std::set<std::string> synced;
    for (const auto& [key, ch] : home_.home_channels()) {
        if (!ch.tracked) {
            continue;
        }
        std::vector<std::string> args = {"EVAL", std::string(sync_script), "3", presence_hash(key),
                                         channel_name(key), node_channels, node_};
        ch.roster.for_each_member([&](std::string_view member, hub::conn_id c, const hub::identity_ptr& who,
                                      std::uint64_t order) {
            if (c == hub::no_conn) {
                return;
            }
            std::string order_text = std::to_string(order);
            args.emplace_back(member);
            args.push_back(order_text + "\t" + who->peer_id + "\t" + who->peer_metadata);
            args.push_back("J\t" + node_ + "\t" + std::string(member) + "\t" + order_text + "\t" + who->peer_id +
                           "\t" + who->peer_metadata);
        });
        synced.insert(presence_hash(key));
        std::vector<std::string_view> views(args.begin(), args.end());
        run(views);
    }
    // Channels where Redis still holds entries of this node but it has no member any more.
    run({"SMEMBERS", node_channels}, [this, synced, node_channels](redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
            return;
        }
        for (std::size_t i = 0; i < r->elements; ++i) {
            std::string hash(reply_str(r->element[i]));
            if (synced.count(hash) != 0 || hash.size() <= prefix_.size() + 3) {
                continue;
            }
            std::string channel = prefix_ + ":c:" + hash.substr(prefix_.size() + 3);
            run({"EVAL", sync_script, "3", hash, channel, node_channels, node_});
        }
    });
}

void redis_cluster::untrack(const std::string& key) { unsubscribe_channel(channel_name(key)); }

void redis_cluster::local_join(const std::string& key, const std::string& member, const hub::identity& who,
                               std::uint64_t order) {
    if (!up()) {
        return;  // announced by resync() later
    }
    std::string order_text = std::to_string(order);
    std::string value = order_text + "\t" + who.peer_id + "\t" + who.peer_metadata;
    std::string event = "J\t" + node_ + "\t" + member + "\t" + order_text + "\t" + who.peer_id + "\t" + who.peer_metadata;
    std::string hash = presence_hash(key);
    std::string nodes = prefix_ + ":nc:" + node_;
    std::string channel = channel_name(key);
    run({"EVAL", join_script, "3", hash, nodes, channel, member, value, event});
}

void redis_cluster::local_leave(const std::string& key, const std::string& member, const std::string& peer_id) {
    if (!up()) {
        return;
    }
    std::string event = "L\t" + node_ + "\t" + member + "\t" + peer_id;
    run({"EVAL", leave_script, "2", presence_hash(key), channel_name(key), member, event});
}

void redis_cluster::fetch_entries(const std::string& key, std::function<void(std::vector<std::string>)> done) {
    run({"HGETALL", presence_hash(key)}, [key, done](redisReply* r) {
            // Same shape as a snapshot: one entry per peer, the earliest member's metadata,
            // peers in the order they became present.
            struct peer_info {
                std::uint64_t order;
                std::string entry;
            };
            std::map<std::string, peer_info> peers;
            if (r != nullptr && r->type == REDIS_REPLY_ARRAY) {
                for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
                    auto v = split_tabs(reply_str(r->element[i + 1]), 3);
                    if (v.size() != 3) {
                        continue;
                    }
                    std::uint64_t order = std::strtoull(std::string(v[0]).c_str(), nullptr, 10);
                    auto who = hub::make_identity(0, v[1], v[2]);
                    auto [it, inserted] = peers.try_emplace(who->peer_id, peer_info{order, who->presence_entry});
                    if (!inserted && order < it->second.order) {
                        it->second = peer_info{order, who->presence_entry};
                    }
                }
            }
            std::vector<std::pair<std::uint64_t, std::string>> sorted;
            for (auto& [peer, info] : peers) {
                sorted.emplace_back(info.order, std::move(info.entry));
            }
            std::sort(sorted.begin(), sorted.end());
            std::vector<std::string> entries;
            for (auto& [o, e] : sorted) {
                entries.push_back(std::move(e));
            }
            done(std::move(entries));
        });
}

// ---------------------------------------------------------------- messages, directs, kicks

void redis_cluster::publish(const shard::publish_msg& msg) {
    if (!up()) {
        return;
    }
    std::string_view plain = msg.plain->payload();
    std::string payload = "M\t" + node_ + "\t" + std::to_string(plain.size()) + "\t";
    payload.append(plain);
    if (msg.with_meta.get() != msg.plain.get()) {
        payload.append(msg.with_meta->payload());
    }
    run({"PUBLISH", channel_name(msg.key), payload});
}

void redis_cluster::send(std::uint32_t app, const std::string& peer_id, const net::frame_ptr& frame,
                         std::function<void(std::int64_t, bool)> done) {
    std::string channel = peer_channel(app, peer_id);
    std::string payload = "D\t" + node_ + "\t" + std::string(frame->payload());
    // Our own subscription (when this node has connections of the peer) counts in the reply.
    auto own = channels_.find(channel);
    const bool self_listening = own != channels_.end() && own->second.state == sub_state::subscribed;
    // `done` may hold references to the sender's connection, which belong to its shard: moved
    // along, never copied here.
    run({"PUBLISH", channel, payload}, [done = std::move(done), self_listening](redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_INTEGER) {
            done(0, false);
            return;
        }
        done(std::max<long long>(0, r->integer - (self_listening ? 1 : 0)), true);
    });
}

void redis_cluster::kick(std::uint32_t app, const std::string& peer_id, std::function<void(std::int64_t)> done) {
    if (!up()) {
        done(0);
        return;
    }
    std::string hash = peer_hash(app, peer_id);
    std::string channel = peer_channel(app, peer_id);
    run({"HGETALL", hash}, [this, done, channel](redisReply* r) {
        std::int64_t others = 0;
        if (r != nullptr && r->type == REDIS_REPLY_ARRAY) {
            for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
                if (reply_str(r->element[i]) != node_) {
                    others += std::strtoll(std::string(reply_str(r->element[i + 1])).c_str(), nullptr, 10);
                }
            }
        }
        run({"PUBLISH", channel, "K\t" + node_});
        done(others);
    });
}

void redis_cluster::peer_connections(std::uint32_t app, const std::string& peer_id, std::size_t count) {
    std::string channel = peer_channel(app, peer_id);
    std::string hash = peer_hash(app, peer_id);
    if (count == 0) {
        unsubscribe_channel(channel);
        run({"HDEL", hash, node_});
        return;
    }
    subscribe_channel(channel, {});
    run({"HSET", hash, node_, std::to_string(count)});
    if (count == 1) {
        run({"SADD", prefix_ + ":nk:" + node_, hash});
    }
}

void redis_cluster::pattern_added(std::uint32_t app, const std::string& pattern) {
    std::string glob = prefix_ + ":c:" + app_id(app) + ":" + redis_glob(pattern);
    auto [it, inserted] = patterns_.try_emplace(glob);
    pattern_sub& p = it->second;
    if (inserted) {
        p.app = app;
        p.superset = *proto::pattern::compile(widened(pattern));
    }
    if (++p.refs == 1 && !p.confirmed && !p.in_flight) {
        p.in_flight = sub_.subscribe_command({"PSUBSCRIBE", glob});
    }
}

void redis_cluster::pattern_ready(std::uint32_t app, const std::string& pattern, std::function<void()> ready) {
    auto it = patterns_.find(prefix_ + ":c:" + app_id(app) + ":" + redis_glob(pattern));
    if (!up() || it == patterns_.end() || it->second.confirmed) {
        ready();
        return;
    }
    it->second.ready.push_back(std::move(ready));
}

void redis_cluster::pattern_removed(std::uint32_t app, const std::string& pattern) {
    std::string glob = prefix_ + ":c:" + app_id(app) + ":" + redis_glob(pattern);
    auto it = patterns_.find(glob);
    if (it == patterns_.end()) {
        return;
    }
    if (--it->second.refs > 0) {
        return;
    }
    if (it->second.confirmed) {
        if (!sub_.subscribe_command({"PUNSUBSCRIBE", glob})) {
            patterns_.erase(it);
        }
    } else if (!it->second.in_flight) {
        patterns_.erase(it);
    }
}

// ---------------------------------------------------------------- liveness and counters

void redis_cluster::heartbeat() {
    if (!cmd_.connected()) {
        return;
    }
    run({"SET", prefix_ + ":n:" + node_, "1", "PX", std::to_string(seconds(cfg_.node_timeout).count())});
    run({"SADD", prefix_ + ":nodes", node_});
}

void redis_cluster::sweep() {
    if (!up()) {
        return;
    }
    run({"SMEMBERS", prefix_ + ":nodes"}, [this](redisReply* r) {
        if (r == nullptr || r->type != REDIS_REPLY_ARRAY) {
            return;
        }
        nodes_.store(static_cast<std::int64_t>(r->elements), std::memory_order_relaxed);
        for (std::size_t i = 0; i < r->elements; ++i) {
            std::string node(reply_str(r->element[i]));
            if (node == node_) {
                continue;
            }
            run({"EVAL", cleanup_script, "0", node, prefix_}, [node](redisReply* res) {
                if (res != nullptr && res->type == REDIS_REPLY_INTEGER && res->integer == 1) {
                    spdlog::warn("cluster: node {} stopped answering; its connections left presence", node);
                }
            });
        }
    });
}

void redis_cluster::sync_counters() {
    if (!up()) {
        return;
    }
    const std::int64_t now = unix_now();
    for (const auto& app : home_.cfg().apps) {
        server::app_runtime* rt = app.runtime;
        const std::int64_t period = server::app_runtime::period_index(now, app.period_anchor, app.period_seconds);
        const std::string conns_hash = prefix_ + ":cc:" + app.id;
        const std::string msgs_hash = prefix_ + ":mc:" + app.id + ":" + std::to_string(period);
        const std::string mine = prefix_ + ":nk:" + node_;
        run({"HSET", conns_hash, node_, std::to_string(rt->connections())});
        run({"SADD", mine, conns_hash, msgs_hash});
        auto& [flushed_period, flushed] = flushed_messages_[app.number];
        if (flushed_period != period) {
            flushed_period = period;
            flushed = 0;
        }
        const std::int64_t local = rt->messages_in(period);
        if (local > flushed) {
            run({"HINCRBY", msgs_hash, node_, std::to_string(local - flushed)});
            run({"EXPIRE", msgs_hash, std::to_string(2 * app.period_seconds + 60)});
            flushed = local;
        }
        auto sum_others = [this](redisReply* r) {
            std::int64_t sum = 0;
            if (r != nullptr && r->type == REDIS_REPLY_ARRAY) {
                for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
                    if (reply_str(r->element[i]) != node_) {
                        sum += std::strtoll(std::string(reply_str(r->element[i + 1])).c_str(), nullptr, 10);
                    }
                }
            }
            return sum;
        };
        run({"HGETALL", conns_hash}, [this, rt, period, msgs_hash, sum_others](redisReply* r) {
            const std::int64_t conns = sum_others(r);
            run({"HGETALL", msgs_hash}, [rt, period, conns, sum_others](redisReply* m) {
                rt->set_remote(conns, period, sum_others(m));
            });
        });
    }
}

}  // namespace parley::engine
