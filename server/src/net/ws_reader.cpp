// WebSocket frame parsing for the server side; see ws_reader.hpp.
#include "net/ws_reader.hpp"

#include <cstring>

#include <simdjson.h>

namespace parley::net {

void unmask(char* data, std::size_t len, const unsigned char key[4]) {
    std::uint64_t k64;
    unsigned char k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    std::memcpy(&k64, k8, 8);
    std::size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, data + i, 8);
        v ^= k64;
        std::memcpy(data + i, &v, 8);
    }
    for (; i < len; ++i) {
        data[i] = static_cast<char>(data[i] ^ key[i & 3]);
    }
}

bool valid_close_code(std::uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

ws_reader::event ws_reader::next(char* buf, std::size_t len, std::size_t& consumed) {
    consumed = 0;
    if (release_fragments_) {
        fragments_.reset();
        release_fragments_ = false;
    }
    event ev;
    auto fail = [&](std::uint16_t code, std::string_view reason) {
        ev.kind = event_kind::fail;
        ev.code = code;
        ev.reason = reason;
        return ev;
    };
    if (len < 2) {
        return ev;
    }
    const auto b0 = static_cast<unsigned char>(buf[0]);
    const auto b1 = static_cast<unsigned char>(buf[1]);
    const bool fin = (b0 & 0x80) != 0;
    const unsigned op = b0 & 0x0F;
    if ((b0 & 0x70) != 0) {
        return fail(1002, "protocol error");  // no extension negotiated: RSV bits must be 0
    }
    if ((b1 & 0x80) == 0) {
        return fail(1002, "protocol error");  // client frames must be masked (§5.1)
    }
    const bool control = (op & 0x8) != 0;
    if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) {
        return fail(1002, "protocol error");
    }
    std::uint64_t plen = b1 & 0x7F;
    std::size_t header = 2;
    if (control && (!fin || plen > 125)) {
        return fail(1002, "protocol error");  // §5.5: control frames are short and unfragmented
    }
    if (plen == 126) {
        if (len < 4) {
            return ev;
        }
        plen = (static_cast<std::uint64_t>(static_cast<unsigned char>(buf[2])) << 8) |
               static_cast<unsigned char>(buf[3]);
        header = 4;
        if (plen < 126) {
            return fail(1002, "protocol error");  // §5.2: the minimal length encoding is required
        }
    } else if (plen == 127) {
        if (len < 10) {
            return ev;
        }
        plen = 0;
        for (int i = 0; i < 8; ++i) {
            plen = (plen << 8) | static_cast<unsigned char>(buf[2 + i]);
        }
        if ((plen >> 63) != 0 || plen <= 0xFFFF) {
            return fail(1002, "protocol error");  // MSB set, or not the minimal encoding
        }
        header = 10;
    }
    if (!control) {
        if (op == 0x0 && fragments_ == nullptr) {
            return fail(1002, "protocol error");  // continuation without a message
        }
        if (op != 0x0 && fragments_ != nullptr) {
            return fail(1002, "protocol error");  // new message inside a fragmented one
        }
        if (op == 0x2) {
            return fail(1003, "binary frames not supported");
        }
        std::size_t so_far = fragments_ ? fragments_->size() : 0;
        if (plen > max_message_ || so_far + plen > max_message_) {
            return fail(1009, "frame too large");
        }
    }
    const std::size_t total = header + 4 + static_cast<std::size_t>(plen);
    if (len < total) {
        return ev;  // need more bytes
    }
    unsigned char key[4];
    std::memcpy(key, buf + header, 4);
    char* payload = buf + header + 4;
    unmask(payload, static_cast<std::size_t>(plen), key);
    consumed = total;
    std::string_view data(payload, static_cast<std::size_t>(plen));

    switch (op) {
        case 0x8: {  // close
            ev.kind = event_kind::close;
            if (plen == 0) {
                ev.code = 1005;
                return ev;
            }
            if (plen == 1) {
                return fail(1002, "protocol error");
            }
            ev.code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                                 static_cast<unsigned char>(payload[1]));
            if (!valid_close_code(ev.code)) {
                return fail(1002, "protocol error");
            }
            ev.payload = data.substr(2);
            if (!simdjson::validate_utf8(ev.payload.data(), ev.payload.size())) {
                return fail(1007, "invalid utf-8");
            }
            return ev;
        }
        case 0x9:
            ev.kind = event_kind::ping;
            ev.payload = data;
            return ev;
        case 0xA:
            ev.kind = event_kind::pong;
            ev.payload = data;
            return ev;
        default:
            break;
    }

    // Data frame (text or continuation of text).
    if (fin && fragments_ == nullptr) {
        if (!simdjson::validate_utf8(data.data(), data.size())) {
            return fail(1007, "invalid utf-8");
        }
        ev.kind = event_kind::text;
        ev.payload = data;
        return ev;
    }
    if (fragments_ == nullptr) {
        fragments_ = std::make_unique<std::string>();
    }
    fragments_->append(data);
    if (!fin) {
        // Keep consuming: return need_more semantics with bytes consumed.
        ev.kind = event_kind::need_more;
        return ev;
    }
    if (!simdjson::validate_utf8(fragments_->data(), fragments_->size())) {
        return fail(1007, "invalid utf-8");
    }
    ev.kind = event_kind::text;
    ev.payload = *fragments_;
    release_fragments_ = true;
    return ev;
}

}  // namespace parley::net
