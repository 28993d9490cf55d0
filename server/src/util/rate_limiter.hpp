// Token buckets keyed by a string (a source IP, a secret key id), shared by all threads.
// Used off the message path only (connection attempts and REST requests), so a mutex is fine.
// Memory stays bounded: buckets that have refilled completely are forgotten.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace parley::util {

class rate_limiter {
public:
    // Entries kept before a sweep drops the buckets that are full again.
    static constexpr std::size_t sweep_threshold = 100000;

    // Takes one token from `key`'s bucket (capacity `burst`, refilled at `rate` per second).
    // Returns nullopt when allowed, or the seconds until a token is available.
    std::optional<unsigned> take(const std::string& key, double rate, double burst) {
        const double now = seconds_now();
        std::lock_guard lock(mutex_);
        if (buckets_.size() >= sweep_threshold) {
            sweep(now, rate, burst);
        }
        auto [it, inserted] = buckets_.try_emplace(key, bucket{burst, now});
        bucket& b = it->second;
        if (!inserted) {
            b.tokens = std::min(burst, b.tokens + (now - b.last) * rate);
            b.last = now;
        }
        if (b.tokens >= 1.0) {
            b.tokens -= 1.0;
            return std::nullopt;
        }
        if (rate <= 0) {
            return 3600u;
        }
        return static_cast<unsigned>(std::max(1.0, std::ceil((1.0 - b.tokens) / rate)));
    }

    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return buckets_.size();
    }

private:
    struct bucket {
        double tokens;
        double last;
    };

    static double seconds_now() {
        return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }

    void sweep(double now, double rate, double burst) {
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            if (it->second.tokens + (now - it->second.last) * rate >= burst) {
                it = buckets_.erase(it);
            } else {
                ++it;
            }
        }
    }

    mutable std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
};

}  // namespace parley::util
