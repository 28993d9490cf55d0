// Per-thread shard: connection slots, local subscriber index, deliveries, flush batching and the
// timing-wheel tick. See shard.hpp.
#include "shard/shard.hpp"

#include <algorithm>

#include "shard/connection.hpp"

namespace parley::shard {

namespace {
// Read buffer per shard: large enough for a full inbound message in one read most of the time.
constexpr std::size_t read_buffer_size = 64 * 1024;
}  // namespace

shard::shard(server::server& srv, std::uint32_t index, std::uint32_t count)
    : srv_(srv),
      index_(index),
      count_(count),
      tick_timer_(io_),
      started_(std::chrono::steady_clock::now()),
      cfg_(srv.config()),
      decoder_(srv.config()->server.max_message_size),
      read_buffer_(read_buffer_size) {}

shard::~shard() {
    // Drop what is left (normally nothing after a drain; a connection accepted while the server
    // was stopping), then run the cancelled handlers so every connection is released while the
    // loop and its services still exist. The drop runs as a handler of this shard's loop: a
    // connection's reference count may only change on its shard's thread (asserted in dev builds),
    // and outside poll() nothing would count as that thread.
    tick_timer_.cancel();
    io_.restart();
    boost::asio::post(io_, [this] { for_each_connection([](connection& c) { c.drop(); }); });
    io_.poll();
}

std::uint64_t shard::now_ms() const {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - started_)
                                          .count());
}

void shard::apply_config(config::config_ptr c) {
    for_each_connection([&](connection& conn) { conn.rebind(*c); });
    cfg_ = std::move(c);
}

void shard::start() {
    tick_timer_.expires_after(tick);
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            on_tick();
        }
    });
}

void shard::stop() { tick_timer_.cancel(); }

void shard::on_tick() {
    auto elapsed = std::chrono::steady_clock::now() - started_;
    auto target = static_cast<std::uint32_t>(elapsed / tick);
    wheel_.advance(target, [](net::wheel_node& n) { static_cast<connection&>(n).on_timer(); });
    srv_.on_shard_tick(*this);
    // Next tick at the next multiple of `tick` since start, so ticks do not drift.
    tick_timer_.expires_at(started_ + tick * (target + 1));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            on_tick();
        }
    });
}

hub::conn_id shard::add(connection* c) {
    std::uint32_t slot_index;
    if (!free_slots_.empty()) {
        slot_index = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot_index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slot& s = slots_[slot_index];
    s.conn = c;
    s.generation = (s.generation + 1) & 0xFFFFFF;
    if (s.generation == 0) {
        s.generation = 1;  // keeps every id distinct from hub::no_conn
    }
    ++live_;
    return (static_cast<hub::conn_id>(index_) << 56) |
           (static_cast<hub::conn_id>(s.generation) << 32) | slot_index;
}

void shard::remove(hub::conn_id id) {
    auto slot_index = static_cast<std::uint32_t>(id & 0xFFFFFFFF);
    if (find(id) == nullptr) {
        return;
    }
    slots_[slot_index].conn = nullptr;
    free_slots_.push_back(slot_index);
    --live_;
}

connection* shard::find(hub::conn_id id) const {
    if (hub::shard_of(id) != index_) {
        return nullptr;
    }
    auto slot_index = static_cast<std::uint32_t>(id & 0xFFFFFFFF);
    auto generation = static_cast<std::uint32_t>((id >> 32) & 0xFFFFFF);
    if (slot_index >= slots_.size() || slots_[slot_index].generation != generation) {
        return nullptr;
    }
    return slots_[slot_index].conn;
}

void shard::mark_dirty(connection* c) {
    dirty_.push_back(c->id());
    if (!flush_posted_) {
        flush_posted_ = true;
        boost::asio::post(io_, [this] { flush_dirty(); });
    }
}

void shard::flush_dirty() {
    flush_posted_ = false;
    std::vector<hub::conn_id> batch;
    batch.swap(dirty_);
    for (hub::conn_id id : batch) {
        if (connection* c = find(id)) {
            c->flush();
        }
    }
    // Keep the larger of the two buffers for the next batch.
    if (dirty_.empty() && batch.capacity() > dirty_.capacity()) {
        batch.clear();
        dirty_.swap(batch);
    }
}

void shard::local_add(const std::string& key, connection* c, bool sender_metadata, bool presence) {
    local_channels_[key].push_back(local_sub{c, sender_metadata, presence});
}

void shard::local_update(const std::string& key, connection* c, bool sender_metadata) {
    auto it = local_channels_.find(key);
    if (it == local_channels_.end()) {
        return;
    }
    for (auto& s : it->second) {
        if (s.conn == c) {
            s.sender_metadata = sender_metadata;
        }
    }
}

void shard::local_remove(const std::string& key, connection* c) {
    auto it = local_channels_.find(key);
    if (it == local_channels_.end()) {
        return;
    }
    auto& subs = it->second;
    auto pos = std::find_if(subs.begin(), subs.end(), [c](const local_sub& s) { return s.conn == c; });
    if (pos != subs.end()) {
        *pos = subs.back();
        subs.pop_back();
    }
    if (subs.empty()) {
        local_channels_.erase(it);
    }
}

bool shard::local_pattern_add(std::uint32_t app, connection* c, const proto::pattern* p,
                              bool sender_metadata) {
    auto& list = local_patterns_[app];
    list.push_back(local_pattern{c, p, sender_metadata});
    return list.size() == 1;
}

void shard::local_pattern_update(std::uint32_t app, connection* c, const proto::pattern* p,
                                 bool sender_metadata) {
    auto it = local_patterns_.find(app);
    if (it == local_patterns_.end()) {
        return;
    }
    for (auto& lp : it->second) {
        if (lp.conn == c && lp.pattern == p) {
            lp.sender_metadata = sender_metadata;
        }
    }
}

bool shard::local_pattern_remove(std::uint32_t app, connection* c, const proto::pattern* p) {
    auto it = local_patterns_.find(app);
    if (it == local_patterns_.end()) {
        return false;
    }
    auto& list = it->second;
    auto pos = std::find_if(list.begin(), list.end(), [&](const local_pattern& lp) {
        return lp.conn == c && lp.pattern == p;
    });
    if (pos == list.end()) {
        return false;
    }
    *pos = list.back();
    list.pop_back();
    if (list.empty()) {
        local_patterns_.erase(it);
        return true;
    }
    return false;
}

std::int64_t shard::deliver_message(const publish_msg& m) {
    auto cit = local_channels_.find(m.key);
    auto pit = local_patterns_.find(m.app);
    std::int64_t delivered = 0;
    // One atomic reference update per frame for the whole fan-out, not one per recipient.
    net::fanout_refs plain(m.plain.get());
    net::fanout_refs with_meta(m.with_meta.get());
    auto send = [](connection* c, net::fanout_refs& f) {
        f.count(c->enqueue_unreffed(f.get(), metrics::tx_type::message));
    };
    if (pit == local_patterns_.end()) {
        // Fast path: exact subscribers only; each connection appears once per channel.
        if (cit == local_channels_.end()) {
            return 0;
        }
        for (const local_sub& s : cit->second) {
            if (s.conn->id() == m.exclude) {
                continue;
            }
            send(s.conn, s.sender_metadata ? with_meta : plain);
            ++delivered;
        }
        stats_.deliveries.add(delivered);
        return delivered;
    }
    // With pattern subscriptions a connection may match several times: mark, then send once.
    // mark bits: 1 = matched, 2 = wants sender metadata, 4 = already sent.
    ++delivery_epoch_;
    marked_.clear();
    const std::string_view channel = m.channel();
    for (const local_pattern& p : pit->second) {
        if (p.conn->id() == m.exclude || !p.pattern->matches(channel)) {
            continue;
        }
        if (p.conn->mark_epoch != delivery_epoch_) {
            p.conn->mark_epoch = delivery_epoch_;
            p.conn->mark = 1;
            marked_.push_back(p.conn);
        }
        if (p.sender_metadata) {
            p.conn->mark |= 2;
        }
    }
    if (cit != local_channels_.end()) {
        for (const local_sub& s : cit->second) {
            if (s.conn->id() == m.exclude) {
                continue;
            }
            bool meta = s.sender_metadata;
            if (s.conn->mark_epoch == delivery_epoch_) {
                meta = meta || (s.conn->mark & 2) != 0;
                s.conn->mark |= 4;
            }
            send(s.conn, meta ? with_meta : plain);
            ++delivered;
        }
    }
    for (connection* c : marked_) {
        if ((c->mark & 4) == 0) {
            send(c, (c->mark & 2) != 0 ? with_meta : plain);
            ++delivered;
        }
    }
    stats_.deliveries.add(delivered);
    return delivered;
}

void shard::deliver_presence(const std::string& key, const net::frame_ptr& f) {
    auto it = local_channels_.find(key);
    if (it == local_channels_.end()) {
        return;
    }
    net::fanout_refs refs(f.get());
    for (const local_sub& s : it->second) {
        if (s.presence) {
            refs.count(s.conn->enqueue_unreffed(f.get(), metrics::tx_type::presence));
        }
    }
}

void shard::deliver_direct(const net::frame_ptr& f, const std::vector<hub::conn_id>& targets) {
    for (hub::conn_id id : targets) {
        if (connection* c = find(id)) {
            c->enqueue(f, metrics::tx_type::direct);
            stats_.deliveries.add();
        }
    }
}

std::uint64_t shard::pattern_shards(std::uint32_t app) const {
    auto it = pattern_shards_.find(app);
    return it == pattern_shards_.end() ? 0 : it->second;
}

void shard::set_pattern_shard(std::uint32_t app, std::uint32_t s, bool on) {
    std::uint64_t& mask = pattern_shards_[app];
    if (on) {
        mask |= std::uint64_t{1} << s;
    } else {
        mask &= ~(std::uint64_t{1} << s);
    }
    if (mask == 0) {
        pattern_shards_.erase(app);
    }
}

}  // namespace parley::shard
