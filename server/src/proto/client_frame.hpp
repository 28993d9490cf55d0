// Decoding and envelope validation of client frames (PROTOCOL.md sections 5.2 and 6): everything
// that depends only on the frame's text. Scope, limits and routing are checked by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/codes.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"

namespace parley::proto {

enum class frame_type : std::uint8_t { subscribe, unsubscribe, publish, send, ping };

// A decoded client frame. Views point into the frame text or into the decoder's scratch space and
// stay valid until the decoder's next decode() call.
struct client_frame {
    frame_type type = frame_type::ping;
    // The requestId's JSON string text, quotes included, echoed verbatim in the response;
    // empty when the frame carried no valid requestId.
    std::string_view request_id_json;
    // subscribe / unsubscribe / publish: the decoded channel name or pattern.
    std::string_view channel;
    // subscribe: true when `channel` contains an unescaped `*` (a pattern subscription).
    bool is_pattern = false;
    // subscribe with is_pattern: the compiled pattern.
    std::optional<pattern> compiled;
    bool include_sender_metadata = false;
    // send: the decoded target peerId.
    std::string_view to;
    // publish / send: the exact JSON text of `data`.
    std::string_view data;
};

// Why a frame was refused, in the form of the `error` frame to send.
struct frame_error {
    error_code code = error_code::malformed_message;
    std::string_view request_id_json;  // empty: send the error without requestId
    std::string message;
};

// Decodes client frames. One instance per thread; reuses its scratch buffers, so decoding does
// not allocate once warmed up.
class frame_decoder {
public:
    explicit frame_decoder(std::size_t max_message_size) : max_message_size_(max_message_size) {}

    // Validates `text` (a complete, UTF-8 valid text message) per §5.2 and the frame-local rules
    // of §6 (for subscribe: rules 1-2; unsubscribe: rule 1; publish: rules 1-4; send: rules 1-3).
    // Returns true and fills `out`, or returns false and fills `err`.
    bool decode(std::string_view text, client_frame& out, frame_error& err);

    std::size_t max_message_size() const { return max_message_size_; }

private:
    // Returns the decoded value of a JSON string member (views into `text` when unescaped).
    std::string_view decode_string(const json::member& m, std::string& buf, bool& lone_surrogate);
    bool has_duplicate_keys();

    std::size_t max_message_size_;
    std::vector<json::member> members_;
    std::vector<std::string_view> keys_;
    // Decoded escaped keys; a deque so that adding one never moves the others (keys_ views them).
    std::deque<std::string> key_buffers_;
    std::string channel_buf_;
    std::string to_buf_;
    std::string type_buf_;
    std::string request_id_buf_;
};

}  // namespace parley::proto
