// A connection's bounded outbound queue: references to shared frames, written with one gathered
// write at a time. Memory is allocated only while frames are queued.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "net/frame.hpp"

namespace parley::net {

class outbound_queue {
public:
    outbound_queue() = default;
    outbound_queue(const outbound_queue&) = delete;
    outbound_queue& operator=(const outbound_queue&) = delete;
    ~outbound_queue() { clear(); }

    // Appends a reference to `f`. Returns false, without queuing, when the unsent bytes would
    // exceed `limit` (the caller treats the connection as a slow consumer).
    bool push(const frame_ptr& f, std::size_t limit);
    // As push, but takes no reference: the caller adds one reference per successful call
    // (frame::add_refs) before anything can run that might release the frame.
    bool push_unreffed(frame* f, std::size_t limit);

    bool empty() const { return count_ == 0; }
    std::size_t frames() const { return count_; }
    // Unsent bytes, counting only the unwritten part of a partially written front frame.
    std::size_t bytes() const { return bytes_; }
    // True when the front frame has been partly written (it must be finished before anything
    // else, such as a close frame, can go out).
    bool front_started() const { return front_offset_ != 0; }

    // The oldest queued frame; the queue must not be empty.
    const frame* front() const { return ring_[head_]; }

    // Fills up to `max` iovecs with the unsent bytes, oldest first. Returns how many were filled.
    std::size_t gather(iovec* out, std::size_t max) const;

    // Marks `n` bytes as written, releasing frames that are complete.
    void consume(std::size_t n);

    // Drops every frame except a partially written front frame (slow-consumer close).
    void drop_unstarted();

    // Releases everything and frees the ring.
    void clear();

private:
    void grow();

    frame** ring_ = nullptr;
    std::uint32_t capacity_ = 0;  // a power of two, or 0
    std::uint32_t head_ = 0;
    std::uint32_t count_ = 0;
    std::uint32_t front_offset_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace parley::net
