// The presence roster of one channel on its home shard (PROTOCOL.md section 8): which peers are
// present, reference-counted by their member connections, in the order they became present.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hub/identity.hpp"

namespace parley::presence {

class roster {
public:
    roster() { head_.prev = head_.next = &head_; }
    roster(const roster&) = delete;
    roster& operator=(const roster&) = delete;

    // Records connection `c` of peer `who` as a member. Returns true when the peer became
    // present (its first member connection).
    bool add(hub::conn_id c, const hub::identity_ptr& who);

    struct removal {
        bool found = false;        // `c` was a member
        hub::identity_ptr gone;    // set when the peer stopped being present
    };
    // Removes member connection `c` of `peer_id`.
    removal remove(hub::conn_id c, std::string_view peer_id);

    bool empty() const { return peers_.empty(); }
    std::size_t peer_count() const { return peers_.size(); }

    // Calls f(entry_json) for every present peer except `exclude`, in the order they became
    // present. entry_json is the presence entry of the peer's earliest-subscribed member.
    template <class F>
    void for_each_entry(std::string_view exclude, F&& f) const {
        for (const node* n = head_.next; n != &head_; n = n->next) {
            const hub::identity& who = *n->members.front().who;
            if (who.peer_id != exclude) {
                f(std::string_view(who.presence_entry));
            }
        }
    }

private:
    struct member {
        hub::conn_id conn;
        hub::identity_ptr who;
    };
    struct node {
        node* prev = nullptr;
        node* next = nullptr;
        std::vector<member> members;  // in subscribe order; front() decides the metadata
    };

    node head_;  // sentinel of the join-order list
    std::unordered_map<std::string, std::unique_ptr<node>> peers_;
};

}  // namespace parley::presence
