// Builders for every server-to-client frame of PROTOCOL.md section 7, each producing a complete
// WebSocket frame ready to be shared by any number of recipients.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "net/frame.hpp"
#include "parley/codes.hpp"

namespace parley::proto {

// Largest server frame payload (PROTOCOL.md section 20); presence snapshots are split to fit.
inline constexpr std::size_t max_server_frame = 1048576;

// Builds frames in a reusable scratch buffer, so building does not allocate beyond the frame
// itself once warmed up. One instance per thread.
class encoder {
public:
    net::frame_ptr welcome(std::string_view peer_id_json, std::optional<std::int64_t> expires_at,
                           std::int64_t server_time, std::size_t max_message_size,
                           std::string_view metadata_json);
    net::frame_ptr ack(std::string_view request_id_json);
    // request_id_json may be empty (error without requestId).
    net::frame_ptr error(error_code code, std::string_view message,
                         std::string_view request_id_json);
    // from_json: the sender's peerId as a JSON string literal; data: verbatim JSON text;
    // from_metadata: the JSON object text, or empty for none.
    net::frame_ptr message(std::string_view channel, std::string_view from_json,
                           std::string_view data, std::string_view from_metadata);
    net::frame_ptr direct(std::string_view from_json, std::string_view data,
                          std::string_view from_metadata);
    // A presence delta with one joined or one left entry (entry_json is a prebuilt entry).
    net::frame_ptr presence_joined(std::string_view channel, std::string_view entry_json);
    net::frame_ptr presence_left(std::string_view channel, std::string_view entry_json);
    net::frame_ptr going_away(std::int64_t retry_after_ms);
    net::frame_ptr close(std::uint16_t code, std::string_view reason);
    net::frame_ptr control(net::opcode op, std::string_view payload);

    // Snapshot building: begin, add entries, finish. Frames that would exceed the server frame
    // cap are flushed through `emit` and a new frame for the same channel is started.
    template <class Emit>
    void snapshot_begin(std::string_view channel, Emit&& emit);
    template <class Emit>
    void snapshot_add(std::string_view entry_json, Emit&& emit);
    template <class Emit>
    void snapshot_finish(Emit&& emit);

    // The shared `{"type":"pong"}` frame (never freed).
    static const net::frame_ptr& pong();

private:
    net::frame_ptr finish_text();
    void start_presence(std::string_view channel);

    std::string buf_;
    std::string snapshot_channel_;
    bool snapshot_has_entry_ = false;
};

template <class Emit>
void encoder::snapshot_begin(std::string_view channel, Emit&& emit) {
    snapshot_channel_.assign(channel);
    start_presence(channel);
    snapshot_has_entry_ = false;
}

template <class Emit>
void encoder::snapshot_add(std::string_view entry_json, Emit&& emit) {
    constexpr std::string_view tail = "],\"left\":[]}";
    if (snapshot_has_entry_ && buf_.size() + 1 + entry_json.size() + tail.size() > max_server_frame) {
        buf_.append(tail);
        emit(finish_text());
        start_presence(snapshot_channel_);
        snapshot_has_entry_ = false;
    }
    if (snapshot_has_entry_) {
        buf_.push_back(',');
    }
    buf_.append(entry_json);
    snapshot_has_entry_ = true;
}

template <class Emit>
void encoder::snapshot_finish(Emit&& emit) {
    buf_.append("],\"left\":[]}");
    emit(finish_text());
}

}  // namespace parley::proto
