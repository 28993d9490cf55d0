// The whole server process: configuration, the shards with their threads and listeners,
// signals, and the drain that ends it (PROTOCOL.md section 15).
#pragma once

#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "server/app_runtime.hpp"
#include "util/rate_limiter.hpp"

#include <mutex>
#include <unordered_map>

namespace parley::shard {
class shard;
}
namespace parley::net {
class tls_context;
}
namespace parley::engine {
class cluster;
}

namespace parley::server {

class listener;

class server {
public:
    // Takes the loaded configuration; assigns app numbers and counters to it (prepare()).
    explicit server(std::shared_ptr<config::config> cfg);
    ~server();
    server(server&&) = delete;
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

    // The cluster engine (null for the memory engine: a single node).
    engine::cluster* cluster() const { return cluster_.get(); }

    // The TLS context when tls_cert/tls_key are configured, else null.
    const net::tls_context* tls() const { return tls_.get(); }

    // Per-source-IP connection attempts (section 14.3) and per-secret-key REST requests.
    util::rate_limiter& connect_limiter() { return connect_limiter_; }
    util::rate_limiter& rest_limiter() { return rest_limiter_; }

    // Called by each shard on every tick (drain progress).
    void on_shard_tick(shard::shard& s);

    // Where SIGHUP reloads come from: a function that loads the configuration file again (with
    // the command line applied). Without one, SIGHUP only logs that there is nothing to reload.
    void set_reloader(std::function<std::shared_ptr<config::config>()> loader) { reloader_ = std::move(loader); }
    // Reloads apps and keys (section 1.2): revoked keys' connections close 4001 key_revoked,
    // suspended apps' connections close 4012. Settings bound at start-up are kept. Returns false
    // (and keeps the running configuration) when the new one is invalid. Shard 0's thread only.
    bool reload();

    // Gives every app of `c` its stable number and counters (by app id, so they survive reloads).
    // Safe from any thread.
    void prepare(config::config& c);

private:
    void stop_all();
    void install_signals();

    config::config_ptr cfg_;
    std::vector<std::unique_ptr<shard::shard>> shards_;
    std::vector<std::unique_ptr<listener>> listeners_;
    std::unique_ptr<boost::asio::signal_set> signals_;
    std::unique_ptr<boost::asio::signal_set> hup_;
    std::function<void(const boost::system::error_code&, int)> on_signal_;
    std::function<void(const boost::system::error_code&, int)> on_hup_;
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

    std::unique_ptr<net::tls_context> tls_;
    std::unique_ptr<engine::cluster> cluster_;
    std::function<std::shared_ptr<config::config>()> reloader_;
    util::rate_limiter connect_limiter_;
    util::rate_limiter rest_limiter_;
    std::mutex apps_mutex_;  // guards the registry below (touched only at load and reload)
    struct app_entry {
        std::uint32_t number;
        std::unique_ptr<app_runtime> runtime;
    };
    std::unordered_map<std::string, app_entry> apps_;
};

}  // namespace parley::server
