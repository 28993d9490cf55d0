// Server frame builders; see encode.hpp. Member order follows the examples of PROTOCOL.md.
#include "proto/encode.hpp"

#include "util/json_writer.hpp"

namespace parley::proto {

net::frame_ptr encoder::finish_text() {
    return net::frame_ptr(net::frame::create(net::opcode::text, buf_));
}

void encoder::start_presence(std::string_view channel) {
    buf_.assign("{\"type\":\"presence\",\"channel\":");
    json::append_string(buf_, channel);
    buf_.append(",\"joined\":[");
}

net::frame_ptr encoder::welcome(std::string_view peer_id_json,
                                std::optional<std::int64_t> expires_at, std::int64_t server_time,
                                std::size_t max_message_size, std::string_view metadata_json) {
    buf_.assign("{\"type\":\"welcome\",\"peerId\":");
    buf_.append(peer_id_json);
    buf_.append(",\"expiresAt\":");
    if (expires_at) {
        json::append_int(buf_, *expires_at);
    } else {
        buf_.append("null");
    }
    buf_.append(",\"serverTime\":");
    json::append_int(buf_, server_time);
    buf_.append(",\"maxMessageSize\":");
    json::append_int(buf_, static_cast<std::int64_t>(max_message_size));
    if (!metadata_json.empty()) {
        buf_.append(",\"metadata\":");
        buf_.append(metadata_json);
    }
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::ack(std::string_view request_id_json) {
    buf_.assign("{\"type\":\"ack\",\"requestId\":");
    buf_.append(request_id_json);
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::error(error_code code, std::string_view message,
                              std::string_view request_id_json) {
    buf_.assign("{\"type\":\"error\",");
    if (!request_id_json.empty()) {
        buf_.append("\"requestId\":");
        buf_.append(request_id_json);
        buf_.push_back(',');
    }
    buf_.append("\"code\":\"");
    buf_.append(to_string(code));
    buf_.append("\",\"message\":");
    json::append_string(buf_, message.empty() ? to_string(code) : message);
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::message(std::string_view channel, std::string_view from_json,
                                std::string_view data, std::string_view from_metadata) {
    buf_.assign("{\"type\":\"message\",\"channel\":");
    json::append_string(buf_, channel);
    buf_.append(",\"from\":");
    buf_.append(from_json);
    buf_.append(",\"data\":");
    buf_.append(data);
    if (!from_metadata.empty()) {
        buf_.append(",\"fromMetadata\":");
        buf_.append(from_metadata);
    }
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::direct(std::string_view from_json, std::string_view data,
                               std::string_view from_metadata) {
    buf_.assign("{\"type\":\"direct\",\"from\":");
    buf_.append(from_json);
    buf_.append(",\"data\":");
    buf_.append(data);
    if (!from_metadata.empty()) {
        buf_.append(",\"fromMetadata\":");
        buf_.append(from_metadata);
    }
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::presence_joined(std::string_view channel, std::string_view entry_json) {
    start_presence(channel);
    buf_.append(entry_json);
    buf_.append("],\"left\":[]}");
    return finish_text();
}

net::frame_ptr encoder::presence_left(std::string_view channel, std::string_view entry_json) {
    start_presence(channel);
    buf_.append("],\"left\":[");
    buf_.append(entry_json);
    buf_.append("]}");
    return finish_text();
}

net::frame_ptr encoder::going_away(std::int64_t retry_after_ms) {
    buf_.assign("{\"type\":\"going_away\",\"retryAfterMs\":");
    json::append_int(buf_, retry_after_ms);
    buf_.push_back('}');
    return finish_text();
}

net::frame_ptr encoder::close(std::uint16_t code, std::string_view reason) {
    buf_.clear();
    buf_.push_back(static_cast<char>(code >> 8));
    buf_.push_back(static_cast<char>(code & 0xFF));
    buf_.append(reason.substr(0, 123));  // §12: reasons are at most 123 bytes
    return net::frame_ptr(net::frame::create(net::opcode::close, buf_));
}

net::frame_ptr encoder::control(net::opcode op, std::string_view payload) {
    return net::frame_ptr(net::frame::create(op, payload));
}

const net::frame_ptr& encoder::pong() {
    static const net::frame_ptr frame = [] {
        net::frame_ptr f(net::frame::create(net::opcode::text, "{\"type\":\"pong\"}"));
        f->make_immortal();
        return f;
    }();
    return frame;
}

}  // namespace parley::proto
