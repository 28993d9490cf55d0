// Who a connection is: its app, peerId and peerMetadata, with the JSON fragments that every
// frame about this peer reuses. Immutable and shared between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/json_writer.hpp"

namespace parley::hub {

struct identity {
    std::uint32_t app = 0;
    std::string peer_id;
    std::string peer_id_json;    // peer_id as a JSON string literal
    std::string peer_metadata;   // the peerMetadata object's JSON text; empty when none
    std::string presence_entry;  // {"peerId":...,"metadata":...} for presence `joined`
    std::string left_entry;      // {"peerId":...} for presence `left`
};

using identity_ptr = std::shared_ptr<const identity>;

inline identity_ptr make_identity(std::uint32_t app, std::string_view peer_id,
                                  std::string_view peer_metadata) {
    auto id = std::make_shared<identity>();
    id->app = app;
    id->peer_id = std::string(peer_id);
    json::append_string(id->peer_id_json, peer_id);
    id->peer_metadata = std::string(peer_metadata);
    id->left_entry = "{\"peerId\":" + id->peer_id_json + "}";
    id->presence_entry = "{\"peerId\":" + id->peer_id_json;
    if (!id->peer_metadata.empty()) {
        id->presence_entry += ",\"metadata\":" + id->peer_metadata;
    }
    id->presence_entry += "}";
    return id;
}

// Identifies a connection across threads: owning shard (8 bits), slot generation (24 bits),
// slot index (32 bits). Never reused while the generation matches.
using conn_id = std::uint64_t;
inline constexpr conn_id no_conn = 0;
inline std::uint32_t shard_of(conn_id id) { return static_cast<std::uint32_t>(id >> 56); }

// Key of a channel within the server: the app number (4 bytes) followed by the channel name.
inline std::string channel_key(std::uint32_t app, std::string_view channel) {
    std::string k(4 + channel.size(), '\0');
    k[0] = static_cast<char>(app & 0xFF);
    k[1] = static_cast<char>((app >> 8) & 0xFF);
    k[2] = static_cast<char>((app >> 16) & 0xFF);
    k[3] = static_cast<char>((app >> 24) & 0xFF);
    k.replace(4, channel.size(), channel);
    return k;
}
inline std::string_view channel_of_key(std::string_view key) { return key.substr(4); }
inline std::uint32_t app_of_key(std::string_view key) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(key[0])) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(key[1])) << 8) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(key[2])) << 16) |
           (static_cast<std::uint32_t>(static_cast<unsigned char>(key[3])) << 24);
}

}  // namespace parley::hub
