// TURN credential injection; see turn.hpp.
#include "turn/turn.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util/base64.hpp"
#include "util/json_writer.hpp"

namespace parley::turn {

credential make_credential(std::string_view secret, std::string_view peer_id, std::int64_t expiry) {
    credential c;
    c.username = std::to_string(expiry) + ":" + std::string(peer_id);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(c.username.data()), c.username.size(), mac, &len);
    c.password = base64::encode(std::string_view(reinterpret_cast<char*>(mac), len));
    return c;
}

std::string ice_servers_json(const config::turn_config& turn, std::string_view peer_id, std::int64_t now) {
    std::string stun;
    std::string relay;
    for (const auto& url : turn.urls) {
        std::string& list = (url.rfind("stun", 0) == 0) ? stun : relay;
        list += list.empty() ? "" : ",";
        json::append_string(list, url);
    }
    std::string out = "[";
    if (!stun.empty()) {
        out += "{\"urls\":[" + stun + "]}";
    }
    if (!relay.empty()) {
        credential c = make_credential(turn.secret, peer_id, now + turn.ttl);
        out += stun.empty() ? "" : ",";
        out += "{\"urls\":[" + relay + "],\"username\":";
        json::append_string(out, c.username);
        out += ",\"credential\":";
        json::append_string(out, c.password);
        out += "}";
    }
    out += "]";
    return out;
}

std::string with_ice_servers(std::string_view metadata_json, std::string_view ice_json) {
    std::string member = "\"iceServers\":" + std::string(ice_json);
    if (metadata_json.empty()) {
        return "{" + member + "}";
    }
    std::size_t close = metadata_json.rfind('}');
    std::size_t open = metadata_json.find('{');
    std::string_view inside = metadata_json.substr(open + 1, close - open - 1);
    bool empty = inside.find_first_not_of(" \t\r\n") == std::string_view::npos;
    std::string out(metadata_json.substr(0, close));
    out += empty ? member : "," + member;
    out += metadata_json.substr(close);
    return out;
}

}  // namespace parley::turn
