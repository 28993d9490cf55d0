// net/outbound_queue: bounded queue of shared frames (PROTOCOL.md section 9.5), gathered writes
// with partial progress, slow-consumer drop, and frame reference counting.
#include <gtest/gtest.h>

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "net/frame.hpp"
#include "net/outbound_queue.hpp"

namespace net = parley::net;

namespace {

std::uint32_t refs(const net::frame_ptr& f) {
    return f->use_count();
}

net::frame_ptr make(std::string_view payload) {
    return net::frame_ptr(net::frame::create(net::opcode::text, payload));
}

// Concatenates what gather() returns.
std::string gathered(const net::outbound_queue& q, std::size_t max = 64) {
    std::vector<iovec> iov(max);
    std::size_t n = q.gather(iov.data(), max);
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    return out;
}

std::string wire(const net::frame_ptr& f) { return std::string(f->wire()); }

}  // namespace

TEST(outbound_queue, starts_empty) {
    net::outbound_queue q;
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.frames(), 0u);
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_FALSE(q.front_started());
    iovec iov[4];
    EXPECT_EQ(q.gather(iov, 4), 0u);
    q.consume(0);
    q.drop_unstarted();
    q.clear();
    EXPECT_TRUE(q.empty());
}

TEST(outbound_queue, push_counts_bytes_and_references) {
    auto a = make("{\"type\":\"ack\",\"requestId\":\"1\"}");
    auto b = make(std::string(300, 'b'));
    ASSERT_EQ(refs(a), 1u);
    {
        net::outbound_queue q;
        ASSERT_TRUE(q.push(a, 1 << 20));
        ASSERT_TRUE(q.push(b, 1 << 20));
        ASSERT_TRUE(q.push(a, 1 << 20));  // the same frame twice
        EXPECT_EQ(q.frames(), 3u);
        EXPECT_EQ(q.bytes(), 2 * a->size() + b->size());
        EXPECT_FALSE(q.empty());
        EXPECT_EQ(q.front(), a.get());
        EXPECT_EQ(refs(a), 3u);
        EXPECT_EQ(refs(b), 2u);
        EXPECT_EQ(gathered(q), wire(a) + wire(b) + wire(a));
    }  // the destructor releases
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(refs(b), 1u);
}

TEST(outbound_queue, push_limit_boundary) {
    auto a = make(std::string(98, 'a'));  // 100 bytes on the wire
    ASSERT_EQ(a->size(), 100u);
    net::outbound_queue q;
    EXPECT_TRUE(q.push(a, 250));
    EXPECT_TRUE(q.push(a, 250));
    EXPECT_FALSE(q.push(a, 250));  // 300 > 250: refused, nothing queued
    EXPECT_EQ(q.frames(), 2u);
    EXPECT_EQ(q.bytes(), 200u);
    EXPECT_EQ(refs(a), 3u);
    EXPECT_TRUE(q.push(a, 300));  // exactly at the limit is allowed
    EXPECT_EQ(q.bytes(), 300u);
    EXPECT_FALSE(q.push(a, 399));
    EXPECT_EQ(refs(a), 4u);
    q.clear();
    EXPECT_EQ(refs(a), 1u);
    // A single frame larger than the limit is refused outright.
    EXPECT_FALSE(q.push(a, 99));
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(refs(a), 1u);
}

TEST(outbound_queue, limit_counts_only_unsent_bytes) {
    auto a = make(std::string(98, 'a'));  // 100 bytes
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 200));
    ASSERT_TRUE(q.push(a, 200));
    EXPECT_FALSE(q.push(a, 200));
    q.consume(40);
    EXPECT_EQ(q.bytes(), 160u);
    EXPECT_FALSE(q.push(a, 200));
    q.consume(60);
    EXPECT_EQ(q.bytes(), 100u);
    EXPECT_TRUE(q.push(a, 200));
    q.clear();
    EXPECT_EQ(refs(a), 1u);
}

TEST(outbound_queue, gather_respects_max_and_order) {
    std::vector<net::frame_ptr> f;
    for (int i = 0; i < 5; ++i) f.push_back(make("frame-" + std::to_string(i)));
    net::outbound_queue q;
    for (auto& x : f) ASSERT_TRUE(q.push(x, 1 << 20));
    iovec iov[3];
    ASSERT_EQ(q.gather(iov, 3), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(iov[i].iov_base, static_cast<const void*>(f[i]->wire().data()));
        EXPECT_EQ(iov[i].iov_len, f[i]->size());
    }
    EXPECT_EQ(q.gather(iov, 0), 0u);
    EXPECT_EQ(gathered(q, 64), wire(f[0]) + wire(f[1]) + wire(f[2]) + wire(f[3]) + wire(f[4]));
}

TEST(outbound_queue, partial_write_inside_the_front_frame) {
    auto a = make("0123456789");  // 12 bytes on the wire
    auto b = make("abcdef");      // 8 bytes
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 1 << 20));
    ASSERT_TRUE(q.push(b, 1 << 20));
    const std::string all = wire(a) + wire(b);

    q.consume(3);
    EXPECT_TRUE(q.front_started());
    EXPECT_EQ(q.frames(), 2u);
    EXPECT_EQ(q.bytes(), all.size() - 3);
    EXPECT_EQ(q.front(), a.get());
    EXPECT_EQ(refs(a), 2u);
    EXPECT_EQ(gathered(q), all.substr(3));
    iovec iov[2];
    ASSERT_EQ(q.gather(iov, 2), 2u);
    EXPECT_EQ(iov[0].iov_base, static_cast<const void*>(a->wire().data() + 3));
    EXPECT_EQ(iov[0].iov_len, a->size() - 3);

    q.consume(a->size() - 3 - 1);  // one byte of `a` left
    EXPECT_TRUE(q.front_started());
    EXPECT_EQ(gathered(q), all.substr(a->size() - 1));
    EXPECT_EQ(refs(a), 2u);

    q.consume(1 + 2);  // finish `a`, 2 bytes into `b`
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(q.frames(), 1u);
    EXPECT_EQ(q.front(), b.get());
    EXPECT_TRUE(q.front_started());
    EXPECT_EQ(gathered(q), wire(b).substr(2));
    EXPECT_EQ(q.bytes(), b->size() - 2);

    q.consume(b->size() - 2);
    EXPECT_TRUE(q.empty());
    EXPECT_FALSE(q.front_started());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(refs(b), 1u);
}

TEST(outbound_queue, consume_whole_frames_at_once) {
    std::vector<net::frame_ptr> f;
    std::size_t total = 0;
    for (int i = 0; i < 4; ++i) {
        f.push_back(make(std::string(10 + i, 'x')));
        total += f.back()->size();
    }
    net::outbound_queue q;
    for (auto& x : f) ASSERT_TRUE(q.push(x, 1 << 20));
    q.consume(f[0]->size() + f[1]->size());
    EXPECT_EQ(q.frames(), 2u);
    EXPECT_FALSE(q.front_started());
    EXPECT_EQ(q.front(), f[2].get());
    EXPECT_EQ(refs(f[0]), 1u);
    EXPECT_EQ(refs(f[1]), 1u);
    EXPECT_EQ(refs(f[2]), 2u);
    q.consume(f[2]->size() + f[3]->size());
    EXPECT_TRUE(q.empty());
    for (auto& x : f) EXPECT_EQ(refs(x), 1u);
    (void)total;
}

TEST(outbound_queue, drop_unstarted_keeps_a_partly_written_front) {
    auto a = make(std::string(50, 'a'));
    auto b = make(std::string(60, 'b'));
    auto c = make(std::string(70, 'c'));
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 1 << 20));
    ASSERT_TRUE(q.push(b, 1 << 20));
    ASSERT_TRUE(q.push(c, 1 << 20));
    q.consume(10);
    q.drop_unstarted();
    EXPECT_EQ(q.frames(), 1u);
    EXPECT_EQ(q.front(), a.get());
    EXPECT_TRUE(q.front_started());
    EXPECT_EQ(q.bytes(), a->size() - 10);
    EXPECT_EQ(gathered(q), wire(a).substr(10));
    EXPECT_EQ(refs(a), 2u);
    EXPECT_EQ(refs(b), 1u);
    EXPECT_EQ(refs(c), 1u);
    // A close frame can follow once the front is finished.
    auto close = net::frame_ptr(net::frame::create(net::opcode::close, std::string("\x03\xf0", 2)));
    ASSERT_TRUE(q.push(close, 1 << 20));
    EXPECT_EQ(gathered(q), wire(a).substr(10) + wire(close));
    q.consume(a->size() - 10 + close->size());
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(refs(close), 1u);
}

TEST(outbound_queue, drop_unstarted_without_progress_drops_everything) {
    auto a = make("a");
    auto b = make("b");
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 1 << 20));
    ASSERT_TRUE(q.push(b, 1 << 20));
    q.drop_unstarted();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(refs(b), 1u);
    // Usable afterwards.
    ASSERT_TRUE(q.push(b, 1 << 20));
    EXPECT_EQ(gathered(q), wire(b));
    q.consume(b->size());
    EXPECT_EQ(refs(b), 1u);
}

TEST(outbound_queue, drop_unstarted_after_a_completed_frame) {
    auto a = make("aaaa");
    auto b = make("bbbb");
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 1 << 20));
    ASSERT_TRUE(q.push(b, 1 << 20));
    q.consume(a->size());  // exactly one frame: nothing is started now
    EXPECT_FALSE(q.front_started());
    q.drop_unstarted();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(refs(b), 1u);
}

TEST(outbound_queue, clear_releases_a_started_front_too) {
    auto a = make(std::string(20, 'a'));
    auto b = make(std::string(20, 'b'));
    net::outbound_queue q;
    ASSERT_TRUE(q.push(a, 1 << 20));
    ASSERT_TRUE(q.push(b, 1 << 20));
    q.consume(5);
    q.clear();
    EXPECT_TRUE(q.empty());
    EXPECT_EQ(q.bytes(), 0u);
    EXPECT_FALSE(q.front_started());
    EXPECT_EQ(refs(a), 1u);
    EXPECT_EQ(refs(b), 1u);
    ASSERT_TRUE(q.push(a, 1 << 20));
    EXPECT_EQ(gathered(q), wire(a));  // offset was reset
}

TEST(outbound_queue, ring_growth_and_wraparound_keep_order) {
    std::vector<net::frame_ptr> f;
    for (int i = 0; i < 100; ++i) f.push_back(make("m" + std::to_string(i)));
    net::outbound_queue q;
    std::size_t next_in = 0;
    std::size_t next_out = 0;
    // Interleave pushes and consumes so the ring wraps and grows several times.
    for (int round = 0; round < 10; ++round) {
        for (int k = 0; k < 7 + round && next_in < f.size(); ++k) {
            ASSERT_TRUE(q.push(f[next_in++], 1 << 20));
        }
        std::string expect;
        for (std::size_t i = next_out; i < next_in; ++i) expect += wire(f[i]);
        ASSERT_EQ(gathered(q, 256), expect) << round;
        for (int k = 0; k < 4 && next_out < next_in; ++k) {
            q.consume(f[next_out++]->size());
        }
    }
    EXPECT_EQ(q.frames(), next_in - next_out);
    q.clear();
    for (auto& x : f) EXPECT_EQ(refs(x), 1u);
}

TEST(outbound_queue, immortal_frames_are_never_freed) {
    // Static, so the never-freed frame stays reachable (no leak report).
    static const net::frame_ptr p = [] {
        auto f = make("{\"type\":\"pong\"}");
        f->make_immortal();
        return f;
    }();
    {
        net::outbound_queue q;
        for (int i = 0; i < 20; ++i) ASSERT_TRUE(q.push(p, 1 << 20));
        q.consume(p->size() * 5);
    }
    EXPECT_EQ(p->payload(), "{\"type\":\"pong\"}");
}

// Fan-out queues a frame in many queues without a reference each, then adds them all at once.
TEST(outbound_queue, push_unreffed_with_add_refs_balances) {
    net::frame_ptr f = make("fan-out");
    std::vector<net::outbound_queue> queues(5);
    std::uint32_t queued = 0;
    for (auto& q : queues) {
        queued += q.push_unreffed(f.get(), 1 << 20) ? 1 : 0;
    }
    EXPECT_EQ(queued, 5u);
    EXPECT_EQ(refs(f), 1u);  // nothing taken yet
    f->add_refs(queued);
    EXPECT_EQ(refs(f), 6u);
    // Over the limit: refused, and no reference is owed.
    net::outbound_queue full;
    EXPECT_FALSE(full.push_unreffed(f.get(), 3));
    EXPECT_TRUE(full.empty());
    for (auto& q : queues) {
        q.consume(q.bytes());
    }
    EXPECT_EQ(refs(f), 1u);
}

// A queue that fills and empties over and over (reusing rings freed by earlier rounds, of
// several sizes) keeps order and frees every reference.
TEST(outbound_queue, rings_are_reused_across_fill_and_drain) {
    std::vector<net::frame_ptr> frames;
    for (int i = 0; i < 300; ++i) {
        frames.push_back(make("m" + std::to_string(i)));
    }
    net::outbound_queue a;
    net::outbound_queue b;
    for (int round = 0; round < 20; ++round) {
        const int n = 1 + (round * 37) % 300;
        std::string expect;
        for (int i = 0; i < n; ++i) {
            ASSERT_TRUE(a.push(frames[static_cast<std::size_t>(i)], 1 << 20));
            ASSERT_TRUE(b.push(frames[static_cast<std::size_t>(n - 1 - i)], 1 << 20));
            expect += wire(frames[static_cast<std::size_t>(i)]);
        }
        std::string got;
        while (!a.empty()) {
            std::string chunk = gathered(a, 7);
            got += chunk;
            a.consume(chunk.size());
        }
        EXPECT_EQ(got, expect);
        b.consume(b.bytes());
        EXPECT_TRUE(b.empty());
        for (const auto& f : frames) {
            ASSERT_EQ(refs(f), 1u);
        }
    }
}
