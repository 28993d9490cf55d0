// The whole server process: configuration, the shards with their threads and listeners,
// signals, and the drain that ends it (PROTOCOL.md section 15).
#pragma once

#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "metrics/metrics.hpp"

namespace parley::shard {
class shard;
}

namespace parley::server {

class listener;

class server {
public:
    explicit server(config::config_ptr cfg);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds one SO_REUSEPORT listener per shard. Returns the bound port (the real one when the
    // configuration asked for port 0). Throws std::runtime_error when the address is unusable.
    std::uint16_t bind();

    // Runs every shard's loop (shard 0 on the calling thread) until the drain completes.
    // Returns the process exit code.
    int run();

    shard::shard& shard_at(std::uint32_t i) { return *shards_[i]; }
    std::uint32_t shard_count() const { return static_cast<std::uint32_t>(shards_.size()); }
    const config::config_ptr& config() const { return cfg_; }
    metrics::global_metrics& global_stats() { return global_; }

    // True once a drain started; safe from any thread.
    bool draining() const { return draining_.load(std::memory_order_acquire); }
    // Starts the drain (section 15). Safe from any thread; a second call stops at once.
    void begin_drain();
    // Prometheus text of all counters; safe from any thread.
    std::string render_metrics() const;

    // Called by each shard on every tick (drain progress).
    void on_shard_tick(shard::shard& s);

private:
    void stop_all();

    config::config_ptr cfg_;
    std::vector<std::unique_ptr<shard::shard>> shards_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::unique_ptr<boost::asio::signal_set> signals_;
    metrics::global_metrics global_;
    std::atomic<bool> draining_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint32_t> shards_drained_{0};
    // Per shard (written by its own thread): the tick at which its drain window ends.
    struct drain_state {
        bool active = false;
        bool done = false;
        std::uint32_t end_tick = 0;
        std::uint32_t hard_end_tick = 0;
    };
    std::vector<drain_state> drain_;
};

}  // namespace parley::server
