// Counters and gauges, one set per shard (thread), written only by their own thread and summed
// when /metrics is scraped. Writes are plain relaxed stores: no locked instruction per event.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string_view>
#include <string>
#include <vector>

#include "parley/codes.hpp"

namespace parley::metrics {

// A value written by one thread and read by any: load + store, both relaxed.
class cell {
public:
    void add(std::int64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    void sub(std::int64_t n = 1) { add(-n); }
    std::int64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Close codes Parley counts; index 0 is "none" (TCP dropped without a close frame).
inline constexpr std::array<std::uint16_t, 17> counted_close_codes = {
    0, 1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 4001, 4002, 4010, 4011, 4012, 4020};
std::size_t close_code_index(std::uint16_t code);  // codes not listed count as 1000 ("other" is rare)

// Client frame types as counted in parley_frames_received_total{type}.
enum class rx_type : std::uint8_t { subscribe, unsubscribe, publish, send, ping, invalid, count };
// Server frame types as counted in parley_frames_sent_total{type}.
enum class tx_type : std::uint8_t {
    welcome, ack, error, message, direct, presence, going_away, pong, count
};

// Latency histogram with fixed buckets (seconds), single writer.
class histogram {
public:
    static constexpr std::array<double, 14> bounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                      0.0025,  0.005,  0.01,    0.025,  0.05,
                                                      0.1,     0.25,   0.5,     1.0};
    void observe(double seconds);
    std::array<cell, bounds.size() + 1> buckets;  // last = +Inf
    cell count;
    std::atomic<double> sum{0};
};

struct shard_metrics {
    cell connections;  // gauge: welcomed and not yet closed
    cell connections_admitted;
    std::array<cell, counted_close_codes.size()> closed_by_code;
    cell slow_consumer_closes;
    cell subscriptions;  // gauge
    std::array<cell, static_cast<std::size_t>(rx_type::count)> frames_received;
    std::array<cell, static_cast<std::size_t>(tx_type::count)> frames_sent;
    std::array<cell, error_code_count> errors_sent;
    cell deliveries;  // message and direct frames queued
    cell bytes_received;
    cell bytes_sent;
    histogram handshake_seconds;        // upgrade request read -> welcome queued
    histogram publish_to_flush_seconds; // publish frame handled -> bytes handed to the kernel
};

// Server-wide counters not tied to a shard's connections (HTTP, REST, drain state).
struct global_metrics {
    // REST requests by route and status (section 18: parley_rest_requests_total{route,status}).
    void count_rest(std::string_view route, unsigned status);
    std::string render_rest() const;
    mutable std::mutex rest_mutex;
    std::map<std::pair<std::string, unsigned>, std::int64_t> rest_requests;

    std::atomic<std::int64_t> draining{0};
    // status code -> count for refused upgrades; small fixed set
    std::array<std::atomic<std::int64_t>, 6> upgrades_refused{};  // 400, 404, 405, 426, 429, 431
    static std::size_t refused_index(unsigned status);
    static constexpr std::array<unsigned, 6> refused_statuses = {400, 404, 405, 426, 429, 431};
};

// Renders the Prometheus text exposition (format 0.0.4) of all shards plus the globals.
// `extra` is appended verbatim (e.g. REST counters rendered by their owner).
std::string render(const std::vector<const shard_metrics*>& shards, const global_metrics& g,
                   const std::string& extra);

}  // namespace parley::metrics
