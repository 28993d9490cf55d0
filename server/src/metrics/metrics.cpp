// Prometheus rendering of the per-shard metrics; see metrics.hpp for the model.
#include "metrics/metrics.hpp"

#include <fmt/format.h>

namespace parley::metrics {

std::size_t close_code_index(std::uint16_t code) {
    for (std::size_t i = 0; i < counted_close_codes.size(); ++i) {
        if (counted_close_codes[i] == code) {
            return i;
        }
    }
    return 1;
}

std::size_t global_metrics::refused_index(unsigned status) {
    for (std::size_t i = 0; i < refused_statuses.size(); ++i) {
        if (refused_statuses[i] == status) {
            return i;
        }
    }
    return 0;
}

void global_metrics::count_rest(std::string_view route, unsigned status) {
    std::lock_guard lock(rest_mutex);
    ++rest_requests[{std::string(route), status}];
}

std::string global_metrics::render_rest() const {
    std::string out = "# HELP parley_rest_requests_total REST requests by route and status.\n"
                      "# TYPE parley_rest_requests_total counter\n";
    std::lock_guard lock(rest_mutex);
    for (const auto& [k, v] : rest_requests) {
        fmt::format_to(std::back_inserter(out), "parley_rest_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       k.first, k.second, v);
    }
    return out;
}

void histogram::observe(double seconds) {
    std::size_t i = 0;
    while (i < bounds.size() && seconds > bounds[i]) {
        ++i;
    }
    buckets[i].add();
    count.add();
    sum.store(sum.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
}

namespace {

constexpr const char* rx_names[] = {"subscribe", "unsubscribe", "publish", "send", "ping", "invalid"};
constexpr const char* tx_names[] = {"welcome", "ack",      "error",      "message",
                                    "direct",  "presence", "going_away", "pong"};

template <class Get>
std::int64_t sum(const std::vector<const shard_metrics*>& shards, Get&& get) {
    std::int64_t total = 0;
    for (const auto* s : shards) {
        total += get(*s);
    }
    return total;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void render_histogram(std::string& out, const char* name, const char* help,
                      const std::vector<const shard_metrics*>& shards,
                      const histogram shard_metrics::*member) {
    header(out, name, "histogram", help);
    std::int64_t cumulative = 0;
    for (std::size_t i = 0; i <= histogram::bounds.size(); ++i) {
        cumulative += sum(shards, [&](const shard_metrics& s) { return (s.*member).buckets[i].get(); });
        if (i < histogram::bounds.size()) {
            fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name,
                           histogram::bounds[i], cumulative);
        } else {
            fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
        }
    }
    double total = 0;
    for (const auto* s : shards) {
        total += (s->*member).sum.load(std::memory_order_relaxed);
    }
    fmt::format_to(std::back_inserter(out), "{}_sum {}\n{}_count {}\n", name, total, name,
                   sum(shards, [&](const shard_metrics& s) { return (s.*member).count.get(); }));
}

}  // namespace

std::string render(const std::vector<const shard_metrics*>& shards, const global_metrics& g,
                   const std::string& extra) {
    std::string out;
    out.reserve(8192);
    auto one = [&](const char* name, const char* type, const char* help, std::int64_t v) {
        header(out, name, type, help);
        fmt::format_to(std::back_inserter(out), "{} {}\n", name, v);
    };
    one("parley_connections", "gauge", "Open WebSocket connections (welcomed, not yet closed).",
        sum(shards, [](const shard_metrics& s) { return s.connections.get(); }));
    one("parley_connections_admitted_total", "counter", "Connections sent a welcome.",
        sum(shards, [](const shard_metrics& s) { return s.connections_admitted.get(); }));

    header(out, "parley_connections_closed_total", "counter",
           "Closed connections by close code (none = TCP dropped without a close frame).");
    for (std::size_t i = 0; i < counted_close_codes.size(); ++i) {
        std::int64_t v = sum(shards, [&](const shard_metrics& s) { return s.closed_by_code[i].get(); });
        if (i == 0) {
            fmt::format_to(std::back_inserter(out), "parley_connections_closed_total{{code=\"none\"}} {}\n", v);
        } else {
            fmt::format_to(std::back_inserter(out), "parley_connections_closed_total{{code=\"{}\"}} {}\n",
                           counted_close_codes[i], v);
        }
    }
    one("parley_slow_consumer_closes_total", "counter",
        "Connections closed with 1008 because their outbound buffer limit was exceeded.",
        sum(shards, [](const shard_metrics& s) { return s.slow_consumer_closes.get(); }));

    header(out, "parley_upgrades_refused_total", "counter",
           "WebSocket upgrade requests refused with an HTTP error, by status.");
    for (std::size_t i = 0; i < global_metrics::refused_statuses.size(); ++i) {
        fmt::format_to(std::back_inserter(out), "parley_upgrades_refused_total{{status=\"{}\"}} {}\n",
                       global_metrics::refused_statuses[i], g.upgrades_refused[i].load());
    }

    header(out, "parley_frames_received_total", "counter", "Client frames received, by type.");
    for (std::size_t i = 0; i < static_cast<std::size_t>(rx_type::count); ++i) {
        fmt::format_to(std::back_inserter(out), "parley_frames_received_total{{type=\"{}\"}} {}\n",
                       rx_names[i], sum(shards, [&](const shard_metrics& s) { return s.frames_received[i].get(); }));
    }
    header(out, "parley_frames_sent_total", "counter", "Server frames queued, by type.");
    for (std::size_t i = 0; i < static_cast<std::size_t>(tx_type::count); ++i) {
        fmt::format_to(std::back_inserter(out), "parley_frames_sent_total{{type=\"{}\"}} {}\n",
                       tx_names[i], sum(shards, [&](const shard_metrics& s) { return s.frames_sent[i].get(); }));
    }
    header(out, "parley_errors_sent_total", "counter", "Error frames sent, by code.");
    for (std::size_t i = 0; i < error_code_count; ++i) {
        fmt::format_to(std::back_inserter(out), "parley_errors_sent_total{{code=\"{}\"}} {}\n",
                       error_code_names[i], sum(shards, [&](const shard_metrics& s) { return s.errors_sent[i].get(); }));
    }
    one("parley_deliveries_total", "counter", "Message and direct frames queued to recipients.",
        sum(shards, [](const shard_metrics& s) { return s.deliveries.get(); }));
    one("parley_subscriptions", "gauge", "Subscriptions held (exact and pattern).",
        sum(shards, [](const shard_metrics& s) { return s.subscriptions.get(); }));
    one("parley_received_bytes_total", "counter", "Bytes read from WebSocket connections.",
        sum(shards, [](const shard_metrics& s) { return s.bytes_received.get(); }));
    one("parley_sent_bytes_total", "counter", "Bytes written to WebSocket connections.",
        sum(shards, [](const shard_metrics& s) { return s.bytes_sent.get(); }));
    render_histogram(out, "parley_handshake_seconds",
                     "Time from the upgrade request to the welcome frame being queued.", shards,
                     &shard_metrics::handshake_seconds);
    render_histogram(out, "parley_publish_to_flush_seconds",
                     "Time from a publish being handled to its frames reaching the kernel.", shards,
                     &shard_metrics::publish_to_flush_seconds);
    one("parley_draining", "gauge", "1 while the server drains for shutdown.", g.draining.load());
    out += g.render_rest();
    out += extra;
    return out;
}

}  // namespace parley::metrics
