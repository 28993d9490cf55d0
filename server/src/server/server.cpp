// Server process lifecycle; see server.hpp.
#include "server/server.hpp"

#include <csignal>
#include <random>

#include <spdlog/spdlog.h>

#include "engine/redis/redis_cluster.hpp"
#include "net/tls.hpp"
#include "server/listener.hpp"
#include "shard/connection.hpp"
#include "shard/shard.hpp"

namespace parley::server {

server::server(std::shared_ptr<config::config> cfg) {
    prepare(*cfg);
    cfg_ = std::move(cfg);
    if (!cfg_->server.tls_cert.empty()) {
        try {
            tls_ = std::make_unique<net::tls_context>(cfg_->server.tls_cert, cfg_->server.tls_key);
        } catch (const std::runtime_error& e) {
            throw config::config_error(std::string("server.tls_cert / server.tls_key: ") + e.what());
        }
    }
    unsigned n = cfg_->server.threads;
    if (n == 0) {
        n = std::max(1u, std::thread::hardware_concurrency());
    }
    n = std::min(n, 64u);  // shard masks are 64 bits wide
    for (unsigned i = 0; i < n; ++i) {
        shards_.push_back(std::make_unique<shard::shard>(*this, i, n));
    }
    drain_.resize(n);
    if (cfg_->engine.type == config::engine_config::kind::redis) {
        try {
            cluster_ = std::make_unique<engine::redis_cluster>(*this, *shards_[0], cfg_->engine);
        } catch (const std::invalid_argument& e) {
            throw config::config_error(std::string("engine.url: ") + e.what());
        }
    }
}

server::~server() {
    // Objects bound to a shard's loop go before the loops themselves.
    cluster_.reset();
    listeners_.clear();
    signals_.reset();
    hup_.reset();
    shards_.clear();
}

std::uint16_t server::bind() {
    install_signals();
    const auto& s = cfg_->server;
    std::uint16_t port = s.listen_port;
    for (auto& sh : shards_) {
        listeners_.push_back(std::make_unique<listener>(*sh, s.listen_host, port));
        port = listeners_.back()->port();  // port 0: every later shard binds the chosen port
    }
    return port;
}

void server::install_signals() {
    // Installed before the port is announced, so a SIGTERM right after "listening on" drains.
    signals_ = std::make_unique<boost::asio::signal_set>(shards_[0]->io(), SIGINT, SIGTERM);
    on_signal_ = [this](const boost::system::error_code& ec, int sig) {
        if (ec) {
            return;
        }
        spdlog::info("received {}, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
        begin_drain();
        signals_->async_wait(on_signal_);
    };
    signals_->async_wait(on_signal_);
    hup_ = std::make_unique<boost::asio::signal_set>(shards_[0]->io(), SIGHUP);
    on_hup_ = [this](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        spdlog::info("received SIGHUP, reloading the configuration");
        reload();
        hup_->async_wait(on_hup_);
    };
    hup_->async_wait(on_hup_);
}

int server::run() {
    if (cluster_) {
        boost::asio::post(shards_[0]->io(), [this] { cluster_->start(); });
    }
    for (std::uint32_t i = 0; i < shards_.size(); ++i) {
        boost::asio::post(shards_[i]->io(), [this, i] {
            shards_[i]->start();
            listeners_[i]->start();
        });
    }
    std::vector<std::thread> threads;
    for (std::uint32_t i = 1; i < shards_.size(); ++i) {
        threads.emplace_back([this, i] { shards_[i]->io().run(); });
    }
    shards_[0]->io().run();
    for (auto& t : threads) {
        t.join();
    }
    spdlog::info("stopped");
    return 0;
}

void server::begin_drain() {
    if (draining_.exchange(true)) {
        spdlog::warn("second shutdown request: stopping now");
        stop_all();
        return;
    }
    global_.draining.store(1);
    const auto window = cfg_->server.drain_window;
    const std::int64_t retry_ms = cfg_->server.going_away_retry_ms;
    for (std::uint32_t i = 0; i < shards_.size(); ++i) {
        boost::asio::post(shards_[i]->io(), [this, i, window, retry_ms] {
            shard::shard& s = *shards_[i];
            const std::uint32_t window_ticks = static_cast<std::uint32_t>(window / shard::shard::tick);
            drain_state& d = drain_[i];
            d.active = true;
            d.end_tick = s.now_tick() + window_ticks;
            // After the window: the close handshake timeout (5 s), plus a tick of margin.
            d.hard_end_tick = d.end_tick + 51;
            auto going_away = s.encoder().going_away(retry_ms);
            std::mt19937 rng(std::random_device{}() ^ i);
            std::uniform_int_distribution<std::uint32_t> when(0, window_ticks == 0 ? 0 : window_ticks - 1);
            s.for_each_connection([&](shard::connection& c) {
                c.begin_drain(going_away, s.now_tick() + when(rng));
            });
        });
    }
}

void server::on_shard_tick(shard::shard& s) {
    drain_state& d = drain_[s.index()];
    if (!d.active || d.done) {
        return;
    }
    const std::uint32_t now = s.now_tick();
    if (now >= d.end_tick) {
        // Section 15 step 4: whatever is still open is closed now.
        s.for_each_connection([](shard::connection& c) { c.close(1001, "going_away"); });
    }
    // Done once every connection is gone (at the latest after the close handshake timeout).
    if (s.connection_count() == 0 || now >= d.hard_end_tick) {
        d.done = true;
        if (shards_drained_.fetch_add(1) + 1 == shards_.size()) {
            stop_all();
        }
    }
}

void server::stop_all() {
    if (stopping_.exchange(true)) {
        return;
    }
    for (std::uint32_t i = 0; i < shards_.size(); ++i) {
        boost::asio::post(shards_[i]->io(), [this, i] {
            listeners_[i]->stop();
            shards_[i]->stop();
            if (i == 0 && signals_) {
                boost::system::error_code ec;
                signals_->cancel(ec);
                hup_->cancel(ec);
            }
            if (i == 0 && cluster_) {
                cluster_->stop();
            }
            shards_[i]->io().stop();
        });
    }
}

bool server::reload() {
    if (!reloader_) {
        spdlog::warn("reload: running the embedded default, there is no configuration file to reload");
        return false;
    }
    std::shared_ptr<config::config> next;
    try {
        next = reloader_();
    } catch (const std::exception& e) {
        spdlog::error("reload failed, keeping the running configuration: {}", e.what());
        return false;
    }
    // Settings bound at start-up stay as they are until a restart.
    auto& now = cfg_->server;
    auto& nx = next->server;
    auto keep = [](auto& field, const auto& current, const char* name) {
        if (field != current) {
            spdlog::warn("reload: {} changed; it takes effect at the next restart", name);
            field = current;
        }
    };
    keep(nx.listen_host, now.listen_host, "listen");
    keep(nx.listen_port, now.listen_port, "listen");
    keep(nx.threads, now.threads, "threads");
    keep(nx.max_message_size, now.max_message_size, "max_message_size");
    keep(nx.envelope_headroom, now.envelope_headroom, "envelope_headroom");
    keep(nx.tls_cert, now.tls_cert, "tls_cert");
    keep(nx.tls_key, now.tls_key, "tls_key");
    prepare(*next);
    config::config_ptr frozen = next;
    cfg_ = frozen;
    spdlog::set_level(spdlog::level::from_str(frozen->server.log_level));
    for (auto& sh : shards_) {
        boost::asio::post(sh->io(), [s = sh.get(), frozen] { s->apply_config(frozen); });
    }
    spdlog::info("reload: {} app(s), {} key(s)", frozen->apps.size(), frozen->keys.size());
    return true;
}

void server::prepare(config::config& c) {
    std::lock_guard lock(apps_mutex_);
    for (auto& app : c.apps) {
        auto [it, inserted] = apps_.try_emplace(app.id);
        if (inserted) {
            it->second.number = static_cast<std::uint32_t>(apps_.size() - 1);
            it->second.runtime = std::make_unique<app_runtime>();
        }
        app.number = it->second.number;
        app.runtime = it->second.runtime.get();
    }
}

std::string server::render_metrics() const {
    std::vector<const metrics::shard_metrics*> all;
    for (const auto& s : shards_) {
        all.push_back(&s->stats());
    }
    std::string extra;
    if (auto* rc = dynamic_cast<const engine::redis_cluster*>(cluster_.get())) {
        extra = "# HELP parley_redis_up 1 while the cluster's Redis is reachable.\n# TYPE parley_redis_up gauge\n"
                "parley_redis_up " + std::to_string(rc->up() ? 1 : 0) +
                "\n# HELP parley_redis_errors_total Redis commands that failed or could not be sent.\n"
                "# TYPE parley_redis_errors_total counter\nparley_redis_errors_total " + std::to_string(rc->errors()) +
                "\n# HELP parley_redis_reconnects_total Times the connection to Redis was restored.\n"
                "# TYPE parley_redis_reconnects_total counter\nparley_redis_reconnects_total " +
                std::to_string(rc->reconnects()) +
                "\n# HELP parley_cluster_nodes Nodes registered in the cluster (this one included).\n"
                "# TYPE parley_cluster_nodes gauge\nparley_cluster_nodes " + std::to_string(rc->nodes_seen()) + "\n";
    }
    return metrics::render(all, global_, extra);
}

}  // namespace parley::server
