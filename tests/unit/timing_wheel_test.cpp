// net/timing_wheel: per-connection deadlines (keepalive, idle timeout, token expiry, close
// handshake) fire exactly once at their tick, also beyond one revolution of the wheel.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

#include "net/timing_wheel.hpp"

namespace net = parley::net;
using net::timing_wheel;
using net::wheel_node;

namespace {

// Records (node index, tick) for each callback.
struct recorder {
    std::vector<wheel_node>* nodes;
    timing_wheel* wheel;
    std::vector<std::pair<int, std::uint32_t>> fired;
    void operator()(wheel_node& n) {
        fired.emplace_back(static_cast<int>(&n - nodes->data()), wheel->now());
    }
};

}  // namespace

TEST(timing_wheel, fires_once_at_the_due_tick) {
    timing_wheel w;
    std::vector<wheel_node> n(1);
    recorder r{&n, &w, {}};
    EXPECT_EQ(w.now(), 0u);
    w.schedule(n[0], 5);
    EXPECT_TRUE(n[0].linked());
    EXPECT_EQ(n[0].due, 5u);
    w.advance(4, r);
    EXPECT_TRUE(r.fired.empty());
    EXPECT_EQ(w.now(), 4u);
    w.advance(5, r);
    ASSERT_EQ(r.fired.size(), 1u);
    EXPECT_EQ(r.fired[0], std::make_pair(0, 5u));
    EXPECT_FALSE(n[0].linked());
    w.advance(3000, r);
    EXPECT_EQ(r.fired.size(), 1u);
}

TEST(timing_wheel, advance_backwards_or_to_now_does_nothing) {
    timing_wheel w;
    std::vector<wheel_node> n(1);
    recorder r{&n, &w, {}};
    w.advance(10, r);
    w.schedule(n[0], 12);
    w.advance(10, r);
    w.advance(3, r);
    EXPECT_EQ(w.now(), 10u);
    EXPECT_TRUE(r.fired.empty());
    w.advance(12, r);
    EXPECT_EQ(r.fired.size(), 1u);
}

TEST(timing_wheel, past_deadlines_fire_on_the_next_tick) {
    timing_wheel w;
    std::vector<wheel_node> n(2);
    recorder r{&n, &w, {}};
    w.advance(100, r);
    w.schedule(n[0], 50);
    w.schedule(n[1], 100);
    EXPECT_EQ(n[0].due, 101u);
    EXPECT_EQ(n[1].due, 101u);
    w.advance(101, r);
    ASSERT_EQ(r.fired.size(), 2u);
    EXPECT_EQ(r.fired[0], std::make_pair(0, 101u));
    EXPECT_EQ(r.fired[1], std::make_pair(1, 101u));
}

TEST(timing_wheel, many_deadlines_fire_in_a_single_jump_at_their_own_ticks) {
    timing_wheel w;
    std::vector<wheel_node> n(50);
    recorder r{&n, &w, {}};
    std::map<int, std::uint32_t> want;
    for (int i = 0; i < 50; ++i) {
        std::uint32_t due = 1 + static_cast<std::uint32_t>(i) * 97 % 5000;
        w.schedule(n[i], due);
        want[i] = due;
    }
    w.advance(6000, r);
    ASSERT_EQ(r.fired.size(), 50u);
    std::map<int, std::uint32_t> got;
    for (auto& [i, t] : r.fired) EXPECT_TRUE(got.emplace(i, t).second) << "fired twice: " << i;
    EXPECT_EQ(got, want);
    for (std::size_t k = 1; k < r.fired.size(); ++k) {
        EXPECT_LE(r.fired[k - 1].second, r.fired[k].second);
    }
}

TEST(timing_wheel, far_deadlines_wait_for_their_round) {
    const std::uint32_t S = timing_wheel::slot_count;
    timing_wheel w;
    std::vector<wheel_node> n(5);
    recorder r{&n, &w, {}};
    w.schedule(n[0], 7);
    w.schedule(n[1], S + 7);        // same slot, next round
    w.schedule(n[2], 2 * S + 7);    // two rounds later
    w.schedule(n[3], S);            // exactly one revolution
    w.schedule(n[4], 3 * S + 1000);
    w.advance(7, r);
    ASSERT_EQ(r.fired.size(), 1u);
    EXPECT_EQ(r.fired[0], std::make_pair(0, 7u));
    w.advance(S + 6, r);
    ASSERT_EQ(r.fired.size(), 2u);
    EXPECT_EQ(r.fired[1], std::make_pair(3, S));
    w.advance(S + 7, r);
    ASSERT_EQ(r.fired.size(), 3u);
    EXPECT_EQ(r.fired[2], std::make_pair(1, S + 7));
    w.advance(2 * S + 6, r);
    EXPECT_EQ(r.fired.size(), 3u);
    w.advance(10 * S, r);
    ASSERT_EQ(r.fired.size(), 5u);
    EXPECT_EQ(r.fired[3], std::make_pair(2, 2 * S + 7));
    EXPECT_EQ(r.fired[4], std::make_pair(4, 3 * S + 1000));
}

TEST(timing_wheel, far_deadline_scheduled_late_in_time) {
    const std::uint32_t S = timing_wheel::slot_count;
    timing_wheel w;
    std::vector<wheel_node> n(1);
    recorder r{&n, &w, {}};
    w.advance(5 * S + 3, r);
    w.schedule(n[0], 5 * S + 3 + 75000);  // e.g. a 75 s idle timeout in ms ticks
    w.advance(5 * S + 3 + 74999, r);
    EXPECT_TRUE(r.fired.empty());
    w.advance(5 * S + 3 + 75000, r);
    ASSERT_EQ(r.fired.size(), 1u);
    EXPECT_EQ(r.fired[0].second, 5 * S + 3 + 75000);
}

TEST(timing_wheel, cancel_before_due) {
    timing_wheel w;
    std::vector<wheel_node> n(2);
    recorder r{&n, &w, {}};
    w.schedule(n[0], 10);
    w.schedule(n[1], 10);
    w.cancel(n[0]);
    EXPECT_FALSE(n[0].linked());
    w.cancel(n[0]);  // idempotent
    w.advance(20, r);
    ASSERT_EQ(r.fired.size(), 1u);
    EXPECT_EQ(r.fired[0].first, 1);
    wheel_node never;
    w.cancel(never);  // never scheduled
    EXPECT_FALSE(never.linked());
}

TEST(timing_wheel, reschedule_moves_the_deadline) {
    timing_wheel w;
    std::vector<wheel_node> n(1);
    recorder r{&n, &w, {}};
    w.schedule(n[0], 10);
    w.schedule(n[0], 30);  // later
    w.advance(29, r);
    EXPECT_TRUE(r.fired.empty());
    w.schedule(n[0], 31);
    w.schedule(n[0], 35);
    w.advance(40, r);
    ASSERT_EQ(r.fired.size(), 1u);
    EXPECT_EQ(r.fired[0].second, 35u);
    w.schedule(n[0], 45);
    w.schedule(n[0], 42);  // earlier
    w.advance(50, r);
    ASSERT_EQ(r.fired.size(), 2u);
    EXPECT_EQ(r.fired[1].second, 42u);
}

TEST(timing_wheel, reschedule_from_inside_the_callback) {
    timing_wheel w;
    wheel_node n;
    std::vector<std::uint32_t> ticks;
    auto periodic = [&](wheel_node& x) {
        ticks.push_back(w.now());
        if (ticks.size() < 5) w.schedule(x, w.now() + 10);
    };
    w.schedule(n, 10);
    w.advance(1000, periodic);
    EXPECT_EQ(ticks, (std::vector<std::uint32_t>{10, 20, 30, 40, 50}));
    EXPECT_FALSE(n.linked());
}

TEST(timing_wheel, callback_rescheduling_for_now_fires_next_tick) {
    timing_wheel w;
    wheel_node n;
    std::vector<std::uint32_t> ticks;
    auto again = [&](wheel_node& x) {
        ticks.push_back(w.now());
        if (ticks.size() < 3) w.schedule(x, w.now());
    };
    w.schedule(n, 4);
    w.advance(100, again);
    EXPECT_EQ(ticks, (std::vector<std::uint32_t>{4, 5, 6}));
}

TEST(timing_wheel, callback_cancels_itself_harmlessly) {
    timing_wheel w;
    wheel_node n;
    int calls = 0;
    w.schedule(n, 3);
    w.advance(10, [&](wheel_node& x) {
        ++calls;
        w.cancel(x);
    });
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(n.linked());
}

TEST(timing_wheel, callback_cancels_another_due_node) {
    timing_wheel w;
    std::vector<wheel_node> n(3);
    std::vector<int> fired;
    w.schedule(n[0], 5);
    w.schedule(n[1], 5);
    w.schedule(n[2], 5);
    w.advance(10, [&](wheel_node& x) {
        int i = static_cast<int>(&x - n.data());
        fired.push_back(i);
        // Whoever runs first cancels the other two.
        for (auto& other : n) {
            if (&other != &x) w.cancel(other);
        }
    });
    ASSERT_EQ(fired.size(), 1u);
    for (auto& x : n) EXPECT_FALSE(x.linked());
    w.advance(3000, [&](wheel_node&) { fired.push_back(-1); });
    EXPECT_EQ(fired.size(), 1u);
}

TEST(timing_wheel, callback_reschedules_another_due_node) {
    timing_wheel w;
    std::vector<wheel_node> n(2);
    std::vector<std::pair<int, std::uint32_t>> fired;
    w.schedule(n[0], 5);
    w.schedule(n[1], 5);
    bool moved = false;
    w.advance(20, [&](wheel_node& x) {
        int i = static_cast<int>(&x - n.data());
        fired.emplace_back(i, w.now());
        if (!moved) {
            moved = true;
            w.schedule(n[1 - i], 8);  // the other node, still pending for tick 5
        }
    });
    ASSERT_EQ(fired.size(), 2u);
    EXPECT_EQ(fired[0].second, 5u);
    EXPECT_EQ(fired[1].first, 1 - fired[0].first);
    EXPECT_EQ(fired[1].second, 8u);
}

TEST(timing_wheel, callback_schedules_a_far_node_in_the_current_slot) {
    const std::uint32_t S = timing_wheel::slot_count;
    timing_wheel w;
    std::vector<wheel_node> n(2);
    std::vector<std::pair<int, std::uint32_t>> fired;
    w.schedule(n[0], 5);
    w.advance(3 * S, [&](wheel_node& x) {
        int i = static_cast<int>(&x - n.data());
        fired.emplace_back(i, w.now());
        if (i == 0) w.schedule(n[1], 5 + S);  // same slot as the one being processed
    });
    ASSERT_EQ(fired.size(), 2u);
    EXPECT_EQ(fired[0], std::make_pair(0, 5u));
    EXPECT_EQ(fired[1], std::make_pair(1, 5u + S));
}

TEST(timing_wheel, node_destroyed_after_cancel_in_callback_is_not_touched) {
    timing_wheel w;
    auto* a = new wheel_node;
    auto* b = new wheel_node;
    w.schedule(*a, 2);
    w.schedule(*b, 2);
    int calls = 0;
    w.advance(5, [&](wheel_node& x) {
        ++calls;
        wheel_node* other = &x == a ? b : a;
        w.cancel(*other);
        w.cancel(x);
        delete other;  // a connection closed by the first callback frees its node
        if (other == a) a = nullptr; else b = nullptr;
    });
    EXPECT_EQ(calls, 1);
    delete a;
    delete b;
}
