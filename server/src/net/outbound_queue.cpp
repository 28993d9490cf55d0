// Outbound queue implementation; see outbound_queue.hpp.
#include "net/outbound_queue.hpp"

#include <cstring>
#include <vector>

namespace parley::net {

namespace {
// First ring size: enough for a burst of acks and deliveries without regrowing.
constexpr std::uint32_t initial_capacity = 8;

// Rings of queues that emptied, kept for reuse by the thread that freed them (a queue lives on
// one shard thread): under fan-out every subscriber's queue fills and empties once per flush,
// and going through malloc for its ring each time showed in profiles. Bounded per thread.
class ring_pool {
public:
    ~ring_pool() {
        for (auto& list : free_) {
            for (frame** r : list) {
                delete[] r;
            }
        }
    }
    frame** take(std::uint32_t cap) {
        auto& list = free_[size_class(cap)];
        if (list.empty()) {
            return new frame*[cap];
        }
        frame** r = list.back();
        list.pop_back();
        bytes_ -= cap * sizeof(frame*);
        return r;
    }
    void give(frame** r, std::uint32_t cap) {
        if (r == nullptr) {
            return;
        }
        const std::size_t size = cap * sizeof(frame*);
        if (bytes_ + size > max_bytes) {
            delete[] r;
            return;
        }
        free_[size_class(cap)].push_back(r);
        bytes_ += size;
    }

private:
    static constexpr std::size_t max_bytes = 1 << 20;
    static unsigned size_class(std::uint32_t cap) { return static_cast<unsigned>(__builtin_ctz(cap)); }
    std::vector<frame**> free_[32];
    std::size_t bytes_ = 0;
};

thread_local ring_pool rings;
}  // namespace

void outbound_queue::grow() {
    std::uint32_t cap = capacity_ == 0 ? initial_capacity : capacity_ * 2;
    frame** ring = rings.take(cap);
    for (std::uint32_t i = 0; i < count_; ++i) {
        ring[i] = ring_[(head_ + i) & (capacity_ - 1)];
    }
    rings.give(ring_, capacity_);
    ring_ = ring;
    capacity_ = cap;
    head_ = 0;
}

bool outbound_queue::push(const frame_ptr& f, std::size_t limit) {
    if (!push_unreffed(f.get(), limit)) {
        return false;
    }
    f->add_ref();
    return true;
}

bool outbound_queue::push_unreffed(frame* f, std::size_t limit) {
    const std::size_t size = f->size();
    if (bytes_ + size > limit) {
        return false;
    }
    if (count_ == capacity_) {
        grow();
    }
    ring_[(head_ + count_) & (capacity_ - 1)] = f;
    ++count_;
    bytes_ += size;
    return true;
}

std::size_t outbound_queue::gather(iovec* out, std::size_t max) const {
    std::size_t n = 0;
    for (std::uint32_t i = 0; i < count_ && n < max; ++i, ++n) {
        const frame* f = ring_[(head_ + i) & (capacity_ - 1)];
        std::string_view w = f->wire();
        std::size_t skip = i == 0 ? front_offset_ : 0;
        out[n].iov_base = const_cast<char*>(w.data() + skip);
        out[n].iov_len = w.size() - skip;
    }
    return n;
}

void outbound_queue::consume(std::size_t n) {
    bytes_ -= n;
    while (n > 0) {
        frame* f = ring_[head_];
        std::size_t left = f->size() - front_offset_;
        if (n < left) {
            front_offset_ += static_cast<std::uint32_t>(n);
            return;
        }
        n -= left;
        front_offset_ = 0;
        f->release();
        head_ = (head_ + 1) & (capacity_ - 1);
        --count_;
    }
    if (count_ == 0) {
        // Idle connections hold no ring.
        rings.give(ring_, capacity_);
        ring_ = nullptr;
        capacity_ = 0;
        head_ = 0;
    }
}

void outbound_queue::drop_unstarted() {
    std::uint32_t keep = front_offset_ != 0 ? 1 : 0;
    while (count_ > keep) {
        frame* f = ring_[(head_ + count_ - 1) & (capacity_ - 1)];
        bytes_ -= f->size();
        f->release();
        --count_;
    }
    if (count_ == 0) {
        clear();
    }
}

void outbound_queue::clear() {
    for (std::uint32_t i = 0; i < count_; ++i) {
        ring_[(head_ + i) & (capacity_ - 1)]->release();
    }
    rings.give(ring_, capacity_);
    ring_ = nullptr;
    capacity_ = 0;
    head_ = 0;
    count_ = 0;
    front_offset_ = 0;
    bytes_ = 0;
}

}  // namespace parley::net
