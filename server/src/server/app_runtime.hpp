// Per-app counters that outlive configuration reloads: concurrent connections (section 3.4), the
// message quota of the current period (section 14.2) and its peak. Shared by all threads; the
// message counter is split per shard so the hot path never contends on one cache line.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace parley::server {

class app_runtime {
public:
    static constexpr std::size_t max_shards = 64;

    // Quota period containing unix time `now` for a period of `seconds` starting at `anchor`.
    static std::int64_t period_index(std::int64_t now, std::int64_t anchor, std::int64_t seconds) {
        std::int64_t d = now - anchor;
        return d >= 0 ? d / seconds : -((-d + seconds - 1) / seconds);
    }

    // Counts one message on `shard` in period `period`; returns the app's total for the period
    // including this one (best effort: other shards' latest counts).
    std::int64_t count_message(std::uint32_t shard, std::int64_t period) {
        slot& mine = messages_[shard];
        if (mine.period.load(std::memory_order_relaxed) != period) {
            mine.count.store(0, std::memory_order_relaxed);
            mine.period.store(period, std::memory_order_relaxed);
        }
        mine.count.store(mine.count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return messages_in(period) + remote_messages(period);
    }

    // Messages counted in `period` over all shards.
    std::int64_t messages_in(std::int64_t period) const {
        std::int64_t total = 0;
        for (const slot& s : messages_) {
            if (s.period.load(std::memory_order_relaxed) == period) {
                total += s.count.load(std::memory_order_relaxed);
            }
        }
        return total;
    }

    // Admission: adds one connection and returns the new cluster-wide count. The peak only
    // counts it once admitted (admitted()), so connections refused at the cap never raise it.
    std::int64_t add_connection() {
        return connections_.fetch_add(1, std::memory_order_relaxed) + 1 + remote_connections();
    }
    void admitted(std::int64_t count, std::int64_t period) { note_peak(count, period); }
    void remove_connection() { connections_.fetch_sub(1, std::memory_order_relaxed); }
    std::int64_t connections() const { return connections_.load(std::memory_order_relaxed); }

    // Cluster mode: what the other nodes reported (refreshed every second by the engine).
    void set_remote(std::int64_t connections, std::int64_t period, std::int64_t messages) {
        remote_connections_.store(connections, std::memory_order_relaxed);
        remote_period_.store(period, std::memory_order_relaxed);
        remote_messages_.store(messages, std::memory_order_relaxed);
    }
    std::int64_t remote_connections() const { return remote_connections_.load(std::memory_order_relaxed); }
    std::int64_t remote_messages(std::int64_t period) const {
        return remote_period_.load(std::memory_order_relaxed) == period
                   ? remote_messages_.load(std::memory_order_relaxed)
                   : 0;
    }
    // Cluster-wide (best effort) connection count.
    std::int64_t total_connections() const { return connections() + remote_connections(); }

    // Peak concurrent connections in `period`.
    std::int64_t peak(std::int64_t period) {
        if (peak_period_.load(std::memory_order_relaxed) != period) {
            return total_connections();
        }
        return std::max(peak_.load(std::memory_order_relaxed), total_connections());
    }

private:
    void note_peak(std::int64_t n, std::int64_t period) {
        if (peak_period_.load(std::memory_order_relaxed) != period) {
            peak_period_.store(period, std::memory_order_relaxed);
            peak_.store(n, std::memory_order_relaxed);
            return;
        }
        std::int64_t cur = peak_.load(std::memory_order_relaxed);
        while (n > cur && !peak_.compare_exchange_weak(cur, n, std::memory_order_relaxed)) {
        }
    }

    struct alignas(64) slot {
        std::atomic<std::int64_t> period{INT64_MIN};
        std::atomic<std::int64_t> count{0};
    };
    std::array<slot, max_shards> messages_{};
    std::atomic<std::int64_t> connections_{0};
    std::atomic<std::int64_t> remote_connections_{0};
    std::atomic<std::int64_t> remote_period_{INT64_MIN};
    std::atomic<std::int64_t> remote_messages_{0};
    std::atomic<std::int64_t> peak_{0};
    std::atomic<std::int64_t> peak_period_{INT64_MIN};
};

}  // namespace parley::server
