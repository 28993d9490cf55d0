// Presence roster; see roster.hpp.
#include "presence/roster.hpp"

#include <algorithm>

namespace parley::presence {

bool roster::add(hub::conn_id c, const hub::identity_ptr& who) {
    auto [it, inserted] = peers_.try_emplace(who->peer_id);
    if (inserted) {
        it->second = std::make_unique<node>();
        node* n = it->second.get();
        n->prev = head_.prev;
        n->next = &head_;
        head_.prev->next = n;
        head_.prev = n;
    }
    it->second->members.push_back(member{c, who});
    return inserted;
}

roster::removal roster::remove(hub::conn_id c, std::string_view peer_id) {
    auto it = peers_.find(std::string(peer_id));
    if (it == peers_.end()) {
        return {};
    }
    node* n = it->second.get();
    auto m = std::find_if(n->members.begin(), n->members.end(),
                          [c](const member& x) { return x.conn == c; });
    if (m == n->members.end()) {
        return {};
    }
    removal r;
    r.found = true;
    hub::identity_ptr who = m->who;
    n->members.erase(m);
    if (!n->members.empty()) {
        return r;
    }
    n->prev->next = n->next;
    n->next->prev = n->prev;
    peers_.erase(it);
    r.gone = std::move(who);
    return r;
}

}  // namespace parley::presence
