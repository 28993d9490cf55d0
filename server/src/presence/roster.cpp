// Presence roster; see roster.hpp.
#include "presence/roster.hpp"

#include <algorithm>

namespace parley::presence {

bool roster::add(std::string_view key, hub::conn_id conn, const hub::identity_ptr& who,
                 std::uint64_t order) {
    auto [it, inserted] = peers_.try_emplace(who->peer_id);
    if (inserted) {
        it->second = std::make_unique<node>();
        node* n = it->second.get();
        n->since = order;
        // Keep peers sorted by `since`; new peers nearly always belong at the end.
        node* after = head_.prev;
        while (after != &head_ && after->since > order) {
            after = after->prev;
        }
        n->prev = after;
        n->next = after->next;
        after->next->prev = n;
        after->next = n;
    }
    auto& members = it->second->members;
    for (const auto& m : members) {
        if (m.key == key) {
            return false;
        }
    }
    auto pos = std::upper_bound(members.begin(), members.end(), order,
                                [](std::uint64_t o, const member& m) { return o < m.order; });
    members.insert(pos, member{std::string(key), conn, who, order});
    return inserted;
}

roster::removal roster::remove_at(std::unordered_map<std::string, std::unique_ptr<node>>::iterator it,
                                  std::size_t index) {
    node* n = it->second.get();
    removal r;
    r.found = true;
    r.key = std::move(n->members[index].key);
    hub::identity_ptr who = std::move(n->members[index].who);
    n->members.erase(n->members.begin() + static_cast<std::ptrdiff_t>(index));
    if (!n->members.empty()) {
        return r;
    }
    n->prev->next = n->next;
    n->next->prev = n->prev;
    peers_.erase(it);
    r.gone = std::move(who);
    return r;
}

roster::removal roster::remove_local(hub::conn_id conn, std::string_view peer_id) {
    auto it = peers_.find(std::string(peer_id));
    if (it == peers_.end()) {
        return {};
    }
    const auto& members = it->second->members;
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (members[i].conn == conn && conn != hub::no_conn) {
            return remove_at(it, i);
        }
    }
    return {};
}

roster::removal roster::remove(std::string_view key, std::string_view peer_id) {
    auto it = peers_.find(std::string(peer_id));
    if (it == peers_.end()) {
        return {};
    }
    const auto& members = it->second->members;
    for (std::size_t i = 0; i < members.size(); ++i) {
        if (members[i].key == key) {
            return remove_at(it, i);
        }
    }
    return {};
}

bool roster::has(std::string_view key, std::string_view peer_id) const {
    auto it = peers_.find(std::string(peer_id));
    if (it == peers_.end()) {
        return false;
    }
    for (const auto& m : it->second->members) {
        if (m.key == key) {
            return true;
        }
    }
    return false;
}

}  // namespace parley::presence
