// presence/roster: reference counting per peerId, join order and the metadata of the
// earliest-subscribed member (PROTOCOL.md sections 8.1 and 8.2).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hub/identity.hpp"
#include "presence/roster.hpp"

using parley::hub::identity_ptr;
using parley::hub::make_identity;

namespace {

// The roster as the hub uses it for local connections: member key = connection, order = the
// order of the calls.
struct roster {
    parley::presence::roster r;
    std::uint64_t order = 0;
    bool add(parley::hub::conn_id c, const identity_ptr& who) { return r.add(std::to_string(c), c, who, ++order); }
    parley::presence::roster::removal remove(parley::hub::conn_id c, std::string_view peer) {
        return r.remove_local(c, peer);
    }
    bool empty() const { return r.empty(); }
    std::size_t peer_count() const { return r.peer_count(); }
};

std::vector<std::string> entries(const parley::presence::roster& r, std::string_view exclude = "") {
    std::vector<std::string> out;
    r.for_each_entry(exclude, [&](std::string_view e) { out.emplace_back(e); });
    return out;
}
std::vector<std::string> entries(const roster& r, std::string_view exclude = "") { return entries(r.r, exclude); }

}  // namespace

TEST(roster, identity_entries) {
    auto a = make_identity(0, "alice", R"({"name":"Alice"})");
    EXPECT_EQ(a->presence_entry, R"({"peerId":"alice","metadata":{"name":"Alice"}})");
    EXPECT_EQ(a->left_entry, R"({"peerId":"alice"})");
    EXPECT_EQ(a->peer_id_json, R"("alice")");
    auto c = make_identity(0, "carol", "");
    EXPECT_EQ(c->presence_entry, R"({"peerId":"carol"})");
    auto q = make_identity(0, "a\"b\\c", "");
    EXPECT_EQ(q->peer_id_json, R"("a\"b\\c")");
    EXPECT_EQ(q->left_entry, R"({"peerId":"a\"b\\c"})");
}

TEST(roster, refcount_per_peer_id) {
    roster r;
    EXPECT_TRUE(r.empty());
    auto alice = make_identity(0, "alice", "");
    auto bob = make_identity(0, "bob", "");
    EXPECT_TRUE(r.add(1, alice));   // alice becomes present
    EXPECT_FALSE(r.add(2, alice));  // second connection: no change
    EXPECT_TRUE(r.add(3, bob));
    EXPECT_EQ(r.peer_count(), 2u);

    auto rm = r.remove(1, "alice");
    EXPECT_TRUE(rm.found);
    EXPECT_EQ(rm.gone, nullptr);  // still present through connection 2
    EXPECT_EQ(r.peer_count(), 2u);

    rm = r.remove(2, "alice");
    EXPECT_TRUE(rm.found);
    ASSERT_NE(rm.gone, nullptr);
    EXPECT_EQ(rm.gone->peer_id, "alice");
    EXPECT_EQ(r.peer_count(), 1u);
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"bob"})"});

    rm = r.remove(3, "bob");
    EXPECT_TRUE(rm.found);
    ASSERT_NE(rm.gone, nullptr);
    EXPECT_TRUE(r.empty());
    EXPECT_TRUE(entries(r).empty());
}

TEST(roster, removal_of_non_members) {
    roster r;
    auto alice = make_identity(0, "alice", "");
    EXPECT_FALSE(r.remove(1, "alice").found);
    r.add(1, alice);
    auto rm = r.remove(2, "alice");  // not a member connection
    EXPECT_FALSE(rm.found);
    EXPECT_EQ(rm.gone, nullptr);
    EXPECT_FALSE(r.remove(1, "bob").found);  // wrong peer
    EXPECT_EQ(r.peer_count(), 1u);
    EXPECT_TRUE(r.remove(1, "alice").found);
    EXPECT_FALSE(r.remove(1, "alice").found);  // twice
    EXPECT_TRUE(r.empty());
}

TEST(roster, join_order_and_exclusion) {
    roster r;
    auto alice = make_identity(0, "alice", "");
    auto bob = make_identity(0, "bob", R"({"name":"Bob"})");
    auto carol = make_identity(0, "carol", "");
    r.add(10, bob);
    r.add(11, alice);
    r.add(12, carol);
    r.add(13, bob);  // a second bob connection does not move bob
    EXPECT_EQ(entries(r), (std::vector<std::string>{R"({"peerId":"bob","metadata":{"name":"Bob"}})",
                                                    R"({"peerId":"alice"})", R"({"peerId":"carol"})"}));
    // The subscriber's own peerId is excluded from its snapshot.
    EXPECT_EQ(entries(r, "bob"), (std::vector<std::string>{R"({"peerId":"alice"})", R"({"peerId":"carol"})"}));
    EXPECT_EQ(entries(r, "carol").size(), 2u);
    EXPECT_EQ(entries(r, "nobody").size(), 3u);

    // Leaving and rejoining moves a peer to the end.
    r.remove(11, "alice");
    r.add(14, alice);
    EXPECT_EQ(entries(r, ""), (std::vector<std::string>{R"({"peerId":"bob","metadata":{"name":"Bob"}})",
                                                        R"({"peerId":"carol"})", R"({"peerId":"alice"})"}));
    // Bob stays in place while one of his connections remains.
    r.remove(10, "bob");
    EXPECT_EQ(entries(r)[0], R"({"peerId":"bob","metadata":{"name":"Bob"}})");
}

TEST(roster, metadata_of_the_earliest_member) {
    roster r;
    // Two connections of alice with different peerMetadata (two different tokens).
    auto a1 = make_identity(0, "alice", R"({"v":1})");
    auto a2 = make_identity(0, "alice", R"({"v":2})");
    auto a3 = make_identity(0, "alice", "");
    EXPECT_TRUE(r.add(1, a1));
    EXPECT_FALSE(r.add(2, a2));
    EXPECT_FALSE(r.add(3, a3));
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":1}})"});
    // The earliest leaves: the next earliest decides.
    EXPECT_EQ(r.remove(1, "alice").gone, nullptr);
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":2}})"});
    // Re-adding the first connection puts it last.
    EXPECT_FALSE(r.add(1, a1));
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":2}})"});
    EXPECT_EQ(r.remove(2, "alice").gone, nullptr);
    // Now connection 3 (no peerMetadata) is earliest: the metadata member is omitted.
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice"})"});
    EXPECT_EQ(r.remove(3, "alice").gone, nullptr);
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":1}})"});
    auto last = r.remove(1, "alice");
    ASSERT_NE(last.gone, nullptr);
    EXPECT_EQ(last.gone.get(), a1.get());  // the identity of the last member
    EXPECT_TRUE(r.empty());
}

TEST(roster, middle_member_removal) {
    roster r;
    auto a1 = make_identity(0, "alice", R"({"v":1})");
    auto a2 = make_identity(0, "alice", R"({"v":2})");
    auto a3 = make_identity(0, "alice", R"({"v":3})");
    r.add(1, a1);
    r.add(2, a2);
    r.add(3, a3);
    EXPECT_TRUE(r.remove(2, "alice").found);
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":1}})"});
    r.remove(1, "alice");
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"alice","metadata":{"v":3}})"});
}

TEST(roster, many_peers) {
    roster r;
    std::vector<identity_ptr> ids;
    for (int i = 0; i < 500; ++i) {
        ids.push_back(make_identity(0, "p" + std::to_string(i), ""));
        EXPECT_TRUE(r.add(static_cast<parley::hub::conn_id>(i + 1), ids.back()));
    }
    EXPECT_EQ(r.peer_count(), 500u);
    for (int i = 0; i < 500; i += 2) {
        auto rm = r.remove(static_cast<parley::hub::conn_id>(i + 1), "p" + std::to_string(i));
        ASSERT_NE(rm.gone, nullptr);
    }
    auto e = entries(r);
    ASSERT_EQ(e.size(), 250u);
    for (int k = 0; k < 250; ++k) {
        EXPECT_EQ(e[k], "{\"peerId\":\"p" + std::to_string(2 * k + 1) + "\"}");
    }
}

TEST(roster, remote_members_by_key_and_order) {
    // Members of other nodes have no local connection and arrive in any order: peers are listed
    // by the order of the member that made them present, members by their own order.
    parley::presence::roster r;
    auto alice = make_identity(0, "alice", R"({"n":1})");
    auto alice2 = make_identity(0, "alice", R"({"n":2})");
    auto bob = make_identity(0, "bob", "");
    EXPECT_TRUE(r.add("nodeB/1/1", 0, bob, 200));
    EXPECT_TRUE(r.add("nodeA/7/1", 0, alice2, 150));
    EXPECT_FALSE(r.add("nodeA/3/1", 0, alice, 100));     // earlier member of alice: its metadata
    EXPECT_FALSE(r.add("nodeA/3/1", 0, alice, 100));     // the same key again: nothing changes
    EXPECT_EQ(entries(r), (std::vector<std::string>{R"({"peerId":"alice","metadata":{"n":1}})", R"({"peerId":"bob"})"}));
    EXPECT_TRUE(r.has("nodeA/7/1", "alice"));
    EXPECT_FALSE(r.has("nodeA/7/1", "bob"));
    EXPECT_FALSE(r.remove_local(0, "alice").found);      // remote members are removed by key
    auto rm = r.remove("nodeA/3/1", "alice");
    EXPECT_TRUE(rm.found);
    EXPECT_EQ(rm.key, "nodeA/3/1");
    EXPECT_EQ(rm.gone, nullptr);
    EXPECT_EQ(entries(r)[0], R"({"peerId":"alice","metadata":{"n":2}})");
    EXPECT_NE(r.remove("nodeA/7/1", "alice").gone, nullptr);
    EXPECT_EQ(entries(r), std::vector<std::string>{R"({"peerId":"bob"})"});
}
