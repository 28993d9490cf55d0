// Parser for client-to-server WebSocket frames (RFC 6455 section 5): header validation, unmasking
// in place, fragment reassembly, UTF-8 validation of text messages and the size cap, which is
// enforced from frame headers so nothing beyond the cap is ever buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace parley::net {

class ws_reader {
public:
    enum class event_kind : std::uint8_t { need_more, text, ping, pong, close, fail };

    struct event {
        event_kind kind = event_kind::need_more;
        // text: the complete message; ping/pong: the payload; close: the reason.
        // Valid until the next call to next().
        std::string_view payload;
        // close: the client's code (1005 when the close frame had no payload).
        // fail: the close code to send (1002, 1003, 1007, 1009).
        std::uint16_t code = 0;
        // fail: the reason to send with it (PROTOCOL.md section 12).
        std::string_view reason;
    };

    explicit ws_reader(std::size_t max_message) : max_message_(max_message) {}

    // Parses the next event from buf[0, len). Payloads are unmasked in place, so `buf` must be
    // writable. Sets `consumed` to the bytes used (0 when a frame is incomplete: the caller keeps
    // those bytes and calls again with more). After a `fail` event the stream is unusable.
    event next(char* buf, std::size_t len, std::size_t& consumed);

    // True while a fragmented message is being reassembled (its bytes are held here).
    bool mid_message() const { return fragments_ != nullptr; }

    // Bytes the reader holds for reassembly (for memory accounting).
    std::size_t buffered() const { return fragments_ ? fragments_->size() : 0; }

private:
    std::size_t max_message_;
    // Reassembly buffer, allocated only while a fragmented message is open.
    std::unique_ptr<std::string> fragments_;
    // A message completed from fragments was handed out; free it on the next call.
    bool release_fragments_ = false;
};

// Unmasks `len` bytes in place with the 4-byte masking key (RFC 6455 section 5.3).
void unmask(char* data, std::size_t len, const unsigned char key[4]);

// True iff `code` may appear in a close frame sent by a client (RFC 6455 section 7.4).
bool valid_close_code(std::uint16_t code);

}  // namespace parley::net
