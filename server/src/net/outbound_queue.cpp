// Outbound queue implementation; see outbound_queue.hpp.
#include "net/outbound_queue.hpp"

#include <cstring>

namespace parley::net {

namespace {
// First ring size: enough for a burst of acks and deliveries without regrowing.
constexpr std::uint32_t initial_capacity = 8;
}  // namespace

void outbound_queue::grow() {
    std::uint32_t cap = capacity_ == 0 ? initial_capacity : capacity_ * 2;
    auto** ring = new frame*[cap];
    for (std::uint32_t i = 0; i < count_; ++i) {
        ring[i] = ring_[(head_ + i) & (capacity_ - 1)];
    }
    delete[] ring_;
    ring_ = ring;
    capacity_ = cap;
    head_ = 0;
}

bool outbound_queue::push(const frame_ptr& f, std::size_t limit) {
    const std::size_t size = f->size();
    if (bytes_ + size > limit) {
        return false;
    }
    if (count_ == capacity_) {
        grow();
    }
    f->add_ref();
    ring_[(head_ + count_) & (capacity_ - 1)] = f.get();
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
        delete[] ring_;
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
    delete[] ring_;
    ring_ = nullptr;
    capacity_ = 0;
    head_ = 0;
    count_ = 0;
    front_offset_ = 0;
    bytes_ = 0;
}

}  // namespace parley::net
