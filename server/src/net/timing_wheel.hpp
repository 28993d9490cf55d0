// A per-thread hashed timing wheel: each connection holds one intrusive node instead of its own
// timer, so an idle connection costs two pointers and a deadline, and a tick is O(due nodes).
#pragma once

#include <array>
#include <cstdint>

namespace parley::net {

struct wheel_node {
    wheel_node* prev = nullptr;
    wheel_node* next = nullptr;
    std::uint32_t due = 0;  // tick at which the owner wants to be called
    bool linked() const { return prev != nullptr; }
};

class timing_wheel {
public:
    // Slots of the wheel; a deadline further away than this many ticks simply waits for its
    // slot to come round again.
    static constexpr std::uint32_t slot_count = 1024;

    timing_wheel() {
        for (auto& s : slots_) {
            s.prev = s.next = &s;
        }
    }
    timing_wheel(const timing_wheel&) = delete;
    timing_wheel& operator=(const timing_wheel&) = delete;

    std::uint32_t now() const { return now_; }

    // (Re)schedules `n` for tick `due` (clamped to at least the next tick).
    void schedule(wheel_node& n, std::uint32_t due) {
        cancel(n);
        if (due <= now_) {
            due = now_ + 1;
        }
        n.due = due;
        wheel_node& head = slots_[due % slot_count];
        n.next = &head;
        n.prev = head.prev;
        head.prev->next = &n;
        head.prev = &n;
    }

    void cancel(wheel_node& n) {
        if (!n.linked()) {
            return;
        }
        n.prev->next = n.next;
        n.next->prev = n.prev;
        n.prev = n.next = nullptr;
    }

    // Advances time to `to`, calling on_due(node) for every node whose deadline has come. The
    // callback may reschedule or cancel any node, including ones not yet visited: the slot's
    // nodes are first moved to a private list, and cancel() unlinks from wherever a node is.
    template <class F>
    void advance(std::uint32_t to, F&& on_due) {
        while (now_ < to) {
            ++now_;
            wheel_node& head = slots_[now_ % slot_count];
            if (head.next == &head) {
                continue;
            }
            wheel_node pending;
            pending.next = head.next;
            pending.prev = head.prev;
            pending.next->prev = &pending;
            pending.prev->next = &pending;
            head.prev = head.next = &head;
            while (pending.next != &pending) {
                wheel_node* n = pending.next;
                cancel(*n);
                if (n->due > now_) {
                    schedule(*n, n->due);  // a later round of this slot
                } else {
                    on_due(*n);
                }
            }
        }
    }

private:
    std::array<wheel_node, slot_count> slots_;
    std::uint32_t now_ = 0;
};

}  // namespace parley::net
