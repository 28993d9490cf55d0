// Immutable, reference-counted WebSocket server frames (header + payload in one allocation).
// A frame is built once and every recipient's outbound queue holds a reference to the same bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace parley::net {

enum class opcode : std::uint8_t { text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// Largest server-to-client header: 2 bytes + 8-byte extended length, never masked (RFC 6455 §5.2).
inline constexpr std::size_t max_server_header = 10;

class frame {
public:
    frame(const frame&) = delete;
    frame& operator=(const frame&) = delete;

    // The whole frame as it goes on the wire.
    std::string_view wire() const { return {bytes(), size_}; }
    std::size_t size() const { return size_; }
    // The payload (the JSON text for text frames).
    std::string_view payload() const { return {bytes() + header_size_, size_ - header_size_}; }

    // Allocates a frame for `payload` with the given opcode (FIN set, unmasked).
    static frame* create(opcode op, std::string_view payload);

    // Monotonic time (ns) the message behind this frame was handled, for the publish-to-flush
    // histogram; 0 when not measured.
    std::int64_t stamp_ns() const { return stamp_ns_; }
    void set_stamp_ns(std::int64_t ns) { stamp_ns_ = ns; }

    // Static frames (pong, going_away, ...) live forever and are never freed.
    void make_immortal() { immortal_ = true; }

    void add_ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
    // Adds n references at once (fan-out takes one per recipient with a single atomic).
    void add_refs(std::uint32_t n) { refs_.fetch_add(n, std::memory_order_relaxed); }
    // References currently held (for tests and assertions).
    std::uint32_t use_count() const { return refs_.load(std::memory_order_relaxed); }
    void release() {
        if (!immortal_ && refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            this->~frame();
            ::operator delete(this);
        }
    }

private:
    frame(std::uint32_t size, std::uint8_t header_size) : size_(size), header_size_(header_size) {}
    static std::size_t write_header(char* out, opcode op, std::size_t len);

    std::int64_t stamp_ns_ = 0;
    std::atomic<std::uint32_t> refs_{1};
    std::uint32_t size_;
    std::uint8_t header_size_;
    bool immortal_ = false;
    // The frame's bytes follow the object in the same allocation.
    const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
};

// Owning, copyable handle to a frame (intrusive reference count).
class frame_ptr {
public:
    frame_ptr() = default;
    explicit frame_ptr(frame* f) : f_(f) {}  // adopts the creation reference
    frame_ptr(const frame_ptr& o) : f_(o.f_) {
        if (f_ != nullptr) {
            f_->add_ref();
        }
    }
    frame_ptr(frame_ptr&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
    frame_ptr& operator=(frame_ptr o) noexcept {
        std::swap(f_, o.f_);
        return *this;
    }
    ~frame_ptr() {
        if (f_ != nullptr) {
            f_->release();
        }
    }
    frame* get() const { return f_; }
    frame* operator->() const { return f_; }
    const frame& operator*() const { return *f_; }
    explicit operator bool() const { return f_ != nullptr; }
    // Gives up ownership without releasing (used by queues that store raw pointers).
    frame* release() { return std::exchange(f_, nullptr); }

private:
    frame* f_ = nullptr;
};

// The references of one fan-out, taken with a single atomic update when the batch ends: each
// recipient queue stores the frame without a reference of its own (outbound_queue::push_unreffed)
// and the batch counts it. The caller's own reference keeps the frame alive meanwhile.
class fanout_refs {
public:
    explicit fanout_refs(frame* f) : f_(f) {}
    fanout_refs(const fanout_refs&) = delete;
    fanout_refs& operator=(const fanout_refs&) = delete;
    ~fanout_refs() {
        if (n_ != 0) {
            f_->add_refs(n_);
        }
    }
    frame* get() const { return f_; }
    // Counts one reference when `queued` (the recipient took the frame).
    void count(bool queued) { n_ += queued ? 1 : 0; }

private:
    frame* f_;
    std::uint32_t n_ = 0;
};

inline std::size_t frame::write_header(char* out, opcode op, std::size_t len) {
    out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));
    if (len < 126) {
        out[1] = static_cast<char>(len);
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<char>(len >> 8);
        out[3] = static_cast<char>(len & 0xFF);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i) {
        out[2 + i] = static_cast<char>((static_cast<std::uint64_t>(len) >> (56 - 8 * i)) & 0xFF);
    }
    return 10;
}

inline frame* frame::create(opcode op, std::string_view payload) {
    char header[max_server_header];
    std::size_t h = write_header(header, op, payload.size());
    std::size_t total = h + payload.size();
    void* mem = ::operator new(sizeof(frame) + total);
    frame* f = new (mem) frame(static_cast<std::uint32_t>(total), static_cast<std::uint8_t>(h));
    std::memcpy(f->bytes(), header, h);
    if (!payload.empty()) {
        std::memcpy(f->bytes() + h, payload.data(), payload.size());
    }
    return f;
}

}  // namespace parley::net
