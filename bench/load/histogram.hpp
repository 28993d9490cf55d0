// Log-linear latency histogram in the manner of HdrHistogram: 128 sub-buckets per power of two
// (relative error under 0.8 %), fixed memory, no allocation when recording.
#pragma once
#include <array>
#include <bit>
#include <cstdint>

namespace parley::bench {

class histogram {
public:
    // Records one value in nanoseconds (negative values count as 0).
    void record(std::int64_t ns) {
        auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
        std::size_t i = index(v);
        if (i >= counts_.size()) {
            i = counts_.size() - 1;
        }
        ++counts_[i];
        ++count_;
        if (v > max_) {
            max_ = v;
        }
    }
    std::uint64_t count() const { return count_; }
    std::uint64_t max() const { return max_; }
    // The value at quantile q in [0, 1] (midpoint of its bucket, capped at the maximum seen);
    // 0 when empty.
    std::uint64_t quantile(double q) const {
        if (count_ == 0) {
            return 0;
        }
        auto target = static_cast<std::uint64_t>(q * static_cast<double>(count_) + 0.999999);
        if (target == 0) {
            target = 1;
        }
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= target) {
                std::uint64_t mid = lower(i) + width(i) / 2;
                return mid > max_ ? max_ : mid;
            }
        }
        return max_;
    }
    void reset() {
        counts_.fill(0);
        count_ = 0;
        max_ = 0;
    }

private:
    static constexpr unsigned sub_bits = 8;  // 2^(sub_bits-1) = 128 sub-buckets per octave
    static constexpr std::uint64_t half = 1ULL << (sub_bits - 1);
    static std::size_t index(std::uint64_t v) {
        if (v < (1ULL << sub_bits)) {
            return static_cast<std::size_t>(v);
        }
        unsigned e = 63 - static_cast<unsigned>(std::countl_zero(v));
        unsigned s = e - (sub_bits - 1);
        return static_cast<std::size_t>(s * half + (v >> s));
    }
    static std::uint64_t lower(std::size_t i) {
        if (i < (1ULL << sub_bits)) {
            return i;
        }
        std::uint64_t s = i / half - 1;
        std::uint64_t m = i - s * half;
        return m << s;
    }
    static std::uint64_t width(std::size_t i) {
        if (i < (1ULL << sub_bits)) {
            return 1;
        }
        return 1ULL << (i / half - 1);
    }
    // Up to 2^42 ns (73 minutes); larger values land in the last bucket.
    std::array<std::uint64_t, (42 - sub_bits + 2) * half> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

}  // namespace parley::bench
