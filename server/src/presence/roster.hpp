// The presence roster of one channel on its home shard (PROTOCOL.md section 8): the member
// connections (local ones, and in a cluster those of other nodes), the peers they make present
// (reference-counted per peerId), and the order in which peers became present.
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
    roster() {
        head_.prev = head_.next = &head_;
        // Two buckets to start with: most channels have a handful of peers, and the default
        // first growth (13 buckets) cost every single-peer channel 88 bytes more.
        peers_.reserve(1);
    }
    roster(const roster&) = delete;
    roster& operator=(const roster&) = delete;

    // Records member `key` (unique among members: a local connection, or node/connection of
    // another node) of peer `who`. `conn` is the local connection (0 for remote members);
    // `order` sorts members and peers (earlier first). Returns true when the peer became
    // present. Adding a key that is already a member does nothing and returns false.
    bool add(std::string_view key, hub::conn_id conn, const hub::identity_ptr& who, std::uint64_t order);

    struct removal {
        bool found = false;          // the member existed
        std::string key;             // its key
        hub::identity_ptr gone;      // set when its peer stopped being present
    };
    // Removes the member of peer `peer_id` that is local connection `conn`.
    removal remove_local(hub::conn_id conn, std::string_view peer_id);
    // Removes member `key` of peer `peer_id` (remote members).
    removal remove(std::string_view key, std::string_view peer_id);

    bool has(std::string_view key, std::string_view peer_id) const;
    bool empty() const { return peers_.empty(); }
    std::size_t peer_count() const { return peers_.size(); }

    // Calls f(entry_json) for every present peer except `exclude`, in the order they became
    // present. entry_json is the presence entry of the peer's earliest member.
    template <class F>
    void for_each_entry(std::string_view exclude, F&& f) const {
        for (const node* n = head_.next; n != &head_; n = n->next) {
            const hub::identity& who = *n->members.front().who;
            if (who.peer_id != exclude) {
                f(std::string_view(who.presence_entry));
            }
        }
    }

    // Calls f(key, conn, identity, order) for every member.
    template <class F>
    void for_each_member(F&& f) const {
        for (const node* n = head_.next; n != &head_; n = n->next) {
            for (const auto& m : n->members) {
                f(std::string_view(m.key), m.conn, m.who, m.order);
            }
        }
    }

private:
    struct member {
        std::string key;
        hub::conn_id conn;
        hub::identity_ptr who;
        std::uint64_t order;
    };
    struct node {
        node* prev = nullptr;
        node* next = nullptr;
        std::uint64_t since = 0;      // order of the member that made the peer present
        std::vector<member> members;  // by order; front() decides the metadata
    };

    removal remove_at(std::unordered_map<std::string, std::unique_ptr<node>>::iterator it,
                      std::size_t index);

    node head_;  // sentinel of the list of peers, by `since`
    std::unordered_map<std::string, std::unique_ptr<node>> peers_;
};

}  // namespace parley::presence
