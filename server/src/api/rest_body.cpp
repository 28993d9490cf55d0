// REST body validation; see rest_body.hpp.
#include "api/rest_body.hpp"

#include <algorithm>
#include <cstdlib>

#include <simdjson.h>

#include "auth/jwt.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"
#include "util/json_writer.hpp"

namespace parley::api {

namespace {

// A request body: a JSON object whatever the Content-Type (section 17.1); a repeated member
// name takes its last value, as JSON.parse does.
bool parse_body(std::string_view text, json::object& out) {
    return simdjson::validate_utf8(text.data(), text.size()) && json::parse_object(text, out);
}

rest_error bad_request(std::string message) { return {400, "invalid_request", std::move(message)}; }

}  // namespace

std::variant<token_request, rest_error> parse_token_request(std::string_view body_text,
                                                            const config::app_config& app,
                                                            const config::key_config& key) {
    json::object body;
    if (!parse_body(body_text, body)) {
        return bad_request("the body must be a JSON object");
    }
    token_request out;
    bool lone = false;
    const json::member* peer = body.get("peerId");
    if (peer == nullptr || peer->kind != json::value_kind::string) {
        return bad_request("peerId is required (a string)");
    }
    out.peer_id = json::decode_string(*peer, &lone);
    if (lone || !proto::valid_peer_id(out.peer_id)) {
        return bad_request("peerId must be 1-128 printable ASCII characters");
    }
    std::vector<proto::pattern> channels;
    if (const json::member* ch = body.get("channels")) {
        auto list = auth::parse_channel_list(*ch);
        if (!list) {
            return bad_request("channels must be an array of at most 100 patterns");
        }
        channels = std::move(*list);
        out.channels_json = std::string(ch->value);
    }
    std::uint8_t actions = 0;
    if (const json::member* perms = body.get("permissions")) {
        auto bits = auth::parse_action_list(*perms);
        if (!bits) {
            return bad_request(
                "permissions must be an array of at most 16 of subscribe, publish, presence, send");
        }
        actions = *bits;
        out.permissions_json = std::string(perms->value);
    }
    out.lifetime = std::min<std::int64_t>(3600, app.max_token_lifetime);
    if (const json::member* e = body.get("expiresInSec")) {
        const std::string text(e->value);
        char* end = nullptr;
        long long v = e->kind == json::value_kind::number ? std::strtoll(text.c_str(), &end, 10) : 0;
        if (e->kind != json::value_kind::number || end == nullptr || *end != '\0' || v < 1 ||
            v > app.max_token_lifetime) {
            return bad_request("expiresInSec must be an integer from 1 to " +
                               std::to_string(app.max_token_lifetime));
        }
        out.lifetime = v;
    }
    const json::member* metadata = body.get("metadata");
    if (metadata != nullptr && (metadata->kind != json::value_kind::object ||
                                metadata->value.size() > auth::max_metadata_bytes)) {
        return bad_request("metadata must be an object of at most 8192 bytes");
    }
    const json::member* peer_metadata = body.get("peerMetadata");
    if (peer_metadata != nullptr && (peer_metadata->kind != json::value_kind::object ||
                                     peer_metadata->value.size() > auth::max_peer_metadata_bytes)) {
        return bad_request("peerMetadata must be an object of at most 4096 bytes");
    }
    if (metadata != nullptr) {
        out.metadata_json = std::string(metadata->value);
    }
    if (peer_metadata != nullptr) {
        out.peer_metadata_json = std::string(peer_metadata->value);
    }
    if (out.permissions_json && (actions & ~key.actions) != 0) {
        return rest_error{403, "action_not_permitted",
                          "permissions include an action the key does not have"};
    }
    for (const auto& p : channels) {
        bool covered = std::any_of(key.channels.begin(), key.channels.end(),
                                   [&](const proto::pattern& k) { return k.covers(p); });
        if (!covered) {
            return rest_error{403, "channel_not_authorized",
                              "channel pattern not covered by the key: " + p.text()};
        }
    }
    return out;
}

std::string token_payload(const token_request& req, std::int64_t now) {
    std::string payload = "{\"sub\":";
    json::append_string(payload, req.peer_id);
    payload += ",\"iat\":" + std::to_string(now) + ",\"exp\":" + std::to_string(now + req.lifetime);
    if (req.channels_json) {
        payload += ",\"channels\":" + *req.channels_json;
    }
    if (req.permissions_json) {
        payload += ",\"permissions\":" + *req.permissions_json;
    }
    if (req.metadata_json) {
        payload += ",\"metadata\":" + *req.metadata_json;
    }
    if (req.peer_metadata_json) {
        payload += ",\"peerMetadata\":" + *req.peer_metadata_json;
    }
    payload += "}";
    return payload;
}

std::variant<publish_request, rest_error> parse_publish_request(std::string_view body_text,
                                                                std::size_t max_message_size) {
    json::object body;
    if (!parse_body(body_text, body)) {
        return bad_request("the body must be a JSON object");
    }
    publish_request out;
    const json::member* data = body.get("data");
    if (data == nullptr) {
        return bad_request("data is required");
    }
    if (data->value.size() > max_message_size) {
        return bad_request("data is larger than " + std::to_string(max_message_size) + " bytes");
    }
    out.data = data->value;
    if (const json::member* f = body.get("from")) {
        bool lone = false;
        out.from = f->kind == json::value_kind::string ? json::decode_string(*f, &lone) : "";
        if (lone || !proto::valid_peer_id(out.from)) {
            return bad_request("from must be 1-128 printable ASCII characters");
        }
    }
    if (const json::member* pm = body.get("peerMetadata")) {
        if (pm->kind != json::value_kind::object || pm->value.size() > auth::max_peer_metadata_bytes) {
            return bad_request("peerMetadata must be an object of at most 4096 bytes");
        }
        out.peer_metadata_json = pm->value;
    }
    return out;
}

}  // namespace parley::api
