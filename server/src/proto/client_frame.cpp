// Client frame decoding; see client_frame.hpp. The order of checks follows PROTOCOL.md §5.2 and
// the rule tables of §6 exactly, because the first failing rule decides the error code.
#include "proto/client_frame.hpp"

#include <algorithm>

namespace parley::proto {
namespace {

constexpr std::size_t max_request_id_bytes = 128;  // §5.2 rule 2

bool key_is(const json::member& m, std::string_view decoded_key, std::string_view name) {
    return m.key_has_escape ? decoded_key == name : m.raw_key == name;
}

}  // namespace

std::string_view frame_decoder::decode_string(const json::member& m, std::string& buf,
                                              bool& lone_surrogate) {
    std::string_view body = json::string_body(m.value);
    lone_surrogate = false;
    if (body.find('\\') == std::string_view::npos) {
        return body;
    }
    buf.clear();
    lone_surrogate = json::unescape(body, buf) == json::unescape_result::lone_surrogate;
    return buf;
}

bool frame_decoder::has_duplicate_keys() {
    const std::size_t n = keys_.size();
    if (n <= 8) {
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = i + 1; j < n; ++j) {
                if (keys_[i] == keys_[j]) {
                    return true;
                }
            }
        }
        return false;
    }
    std::sort(keys_.begin(), keys_.end());
    return std::adjacent_find(keys_.begin(), keys_.end()) != keys_.end();
}

bool frame_decoder::decode(std::string_view text, client_frame& out, frame_error& err) {
    out = client_frame{};
    err.request_id_json = {};
    err.message.clear();
    auto fail = [&](error_code code, std::string_view message) {
        err.code = code;
        err.message.assign(message);
        return false;
    };

    // §5.2 step 1: parse.
    switch (json::scan_object(text, members_)) {
        case json::scan_result::ok:
            break;
        case json::scan_result::too_deep:
            return fail(error_code::malformed_message, "JSON nested deeper than 64 levels");
        case json::scan_result::not_object:
            return fail(error_code::malformed_message, "frame is not a JSON object");
        case json::scan_result::syntax_error:
            return fail(error_code::malformed_message, "frame is not valid JSON");
    }

    // Decode keys (only escaped ones need work) and find the members we know.
    keys_.clear();
    std::size_t escaped = 0;
    for (const auto& m : members_) {
        if (m.key_has_escape) {
            if (key_buffers_.size() <= escaped) {
                key_buffers_.emplace_back();
            }
            std::string& buf = key_buffers_[escaped++];
            buf.clear();
            json::unescape(m.raw_key, buf);
            keys_.push_back(buf);
        } else {
            keys_.push_back(m.raw_key);
        }
    }
    const json::member* type_m = nullptr;
    const json::member* request_id_m = nullptr;
    const json::member* channel_m = nullptr;
    const json::member* to_m = nullptr;
    const json::member* data_m = nullptr;
    const json::member* ism_m = nullptr;
    for (std::size_t i = 0; i < members_.size(); ++i) {
        const auto& m = members_[i];
        std::string_view k = keys_[i];
        if (key_is(m, k, "type")) {
            type_m = &m;
        } else if (key_is(m, k, "requestId")) {
            request_id_m = &m;
        } else if (key_is(m, k, "channel")) {
            channel_m = &m;
        } else if (key_is(m, k, "to")) {
            to_m = &m;
        } else if (key_is(m, k, "data")) {
            data_m = &m;
        } else if (key_is(m, k, "includeSenderMetadata")) {
            ism_m = &m;
        }
    }
    if (members_.size() > 1 && has_duplicate_keys()) {
        return fail(error_code::malformed_message, "duplicate member name in frame");
    }

    // Step 2: requestId.
    if (request_id_m != nullptr) {
        if (request_id_m->kind != json::value_kind::string) {
            return fail(error_code::malformed_message, "requestId must be a string");
        }
        bool lone = false;
        std::string_view id = decode_string(*request_id_m, request_id_buf_, lone);
        if (id.size() > max_request_id_bytes) {
            return fail(error_code::malformed_message, "requestId longer than 128 bytes");
        }
        out.request_id_json = request_id_m->value;
        err.request_id_json = request_id_m->value;
    }

    // Step 3: type.
    if (type_m == nullptr || type_m->kind != json::value_kind::string) {
        return fail(error_code::malformed_message,
                    type_m == nullptr ? "missing type" : "type must be a string");
    }
    bool lone = false;
    std::string_view type = decode_string(*type_m, type_buf_, lone);

    // Step 4: known type.
    if (type == "subscribe") {
        out.type = frame_type::subscribe;
    } else if (type == "unsubscribe") {
        out.type = frame_type::unsubscribe;
    } else if (type == "publish") {
        out.type = frame_type::publish;
    } else if (type == "send") {
        out.type = frame_type::send;
    } else if (type == "ping") {
        out.type = frame_type::ping;
        return true;
    } else {
        return fail(error_code::unknown_type, "unknown frame type");
    }

    // Step 5: type-specific rules that depend only on the frame.
    if (out.type == frame_type::subscribe && ism_m != nullptr) {
        if (ism_m->kind != json::value_kind::boolean) {
            return fail(error_code::malformed_message, "includeSenderMetadata must be a boolean");
        }
        out.include_sender_metadata = ism_m->value == "true";
    }

    if (out.type == frame_type::send) {
        if (to_m == nullptr || to_m->kind != json::value_kind::string) {
            return fail(error_code::invalid_peer_id, "to must be a peerId string");
        }
        out.to = decode_string(*to_m, to_buf_, lone);
        if (lone || !valid_peer_id(out.to)) {
            return fail(error_code::invalid_peer_id, "to is not a valid peerId");
        }
    } else {
        if (channel_m == nullptr || channel_m->kind != json::value_kind::string) {
            return fail(error_code::invalid_channel,
                        channel_m == nullptr ? "missing channel" : "channel must be a string");
        }
        out.channel = decode_string(*channel_m, channel_buf_, lone);
        out.is_pattern = out.type != frame_type::publish && has_unescaped_star(out.channel);
        if (out.is_pattern && !lone) {
            out.compiled = pattern::compile(out.channel);
        }
        bool valid = !lone && (out.is_pattern ? out.compiled.has_value()
                                              : valid_channel_name(out.channel));
        if (!valid) {
            err.message = "invalid channel";
            err.code = error_code::invalid_channel;
            return false;
        }
        if (out.type == frame_type::unsubscribe) {
            return true;
        }
        std::string_view lit = out.is_pattern ? std::string_view(out.compiled->literal_prefix())
                                              : out.channel;
        if (is_reserved(lit)) {
            err.message = "channel is reserved";
            err.code = error_code::channel_reserved;
            return false;
        }
        if (out.type == frame_type::subscribe) {
            return true;
        }
    }

    // publish rules 3-4, send rules 2-3.
    if (data_m == nullptr) {
        return fail(error_code::missing_data, "missing data");
    }
    if (data_m->value.size() > max_message_size_) {
        err.code = error_code::payload_too_large;
        err.message = "data is " + std::to_string(data_m->value.size()) +
                      " bytes, over the limit of " + std::to_string(max_message_size_);
        return false;
    }
    out.data = data_m->value;
    return true;
}

}  // namespace parley::proto
