// Fuzz target: client WebSocket frames (net/ws_reader, RFC 6455 section 5; PROTOCOL.md 5.1).
// The first input byte picks the message cap and how the rest is cut into reads; the stream is
// then parsed twice, in one buffer and in reads of that size with the leftover kept the way
// shard::connection keeps it. Both must yield the same events, and every event must respect
// the reader's contract (UTF-8 text within the cap, legal close codes, bounded buffering).
#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "check.hpp"
#include "net/ws_reader.hpp"

namespace {

using parley::net::ws_reader;
using kind = ws_reader::event_kind;

struct event {
    kind k;
    std::string payload;
    std::uint16_t code;
    bool operator==(const event&) const = default;
};

// Parses `stream` delivered in reads of `chunk` bytes (0 = all at once).
std::vector<event> parse(const std::string& stream, std::size_t chunk, std::size_t cap) {
    ws_reader reader(cap);
    std::vector<event> out;
    std::string pending;  // like connection::in_: bytes of an incomplete frame
    std::size_t pos = 0;
    bool dead = false;
    while (pos < stream.size() && !dead) {
        std::size_t n = chunk == 0 ? stream.size() - pos : std::min(chunk, stream.size() - pos);
        pending.append(stream, pos, n);
        pos += n;
        std::size_t used_total = 0;
        for (;;) {
            std::size_t used = 0;
            ws_reader::event e =
                reader.next(pending.data() + used_total, pending.size() - used_total, used);
            FUZZ_CHECK(used <= pending.size() - used_total);
            used_total += used;
            FUZZ_CHECK(reader.buffered() <= cap);
            if (e.kind == kind::need_more) {
                if (used == 0) {
                    break;
                }
                continue;
            }
            event copy{e.kind, std::string(e.payload), e.code};
            switch (e.kind) {
                case kind::text:
                    FUZZ_CHECK(e.payload.size() <= cap);
                    FUZZ_CHECK(simdjson::validate_utf8(e.payload.data(), e.payload.size()));
                    break;
                case kind::ping:
                case kind::pong:
                    FUZZ_CHECK(e.payload.size() <= 125);
                    break;
                case kind::close:
                    FUZZ_CHECK(e.code == 1005 || parley::net::valid_close_code(e.code));
                    FUZZ_CHECK(e.payload.size() <= 123);
                    break;
                case kind::fail:
                    FUZZ_CHECK(e.code == 1002 || e.code == 1003 || e.code == 1007 || e.code == 1009);
                    FUZZ_CHECK(!e.reason.empty() && e.reason.size() <= 123);
                    copy.payload.clear();
                    dead = true;
                    break;
                case kind::need_more:
                    break;
            }
            out.push_back(std::move(copy));
            if (dead) {
                break;
            }
        }
        pending.erase(0, used_total);
        // Nothing beyond one incomplete frame (at most the cap, or 125 bytes for a control
        // frame, plus its header) and the last read is ever kept.
        FUZZ_CHECK(pending.size() <= std::max<std::size_t>(cap, 125) + 14 +
                                         (chunk == 0 ? stream.size() : chunk));
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    static constexpr std::size_t caps[] = {0, 1, 125, 126, 1000, 65535, 65536, 69632};
    const std::size_t cap = caps[data[0] & 7];
    const std::size_t chunk = (data[0] >> 3) + 1;  // 1..32 bytes per read
    std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<event> whole = parse(stream, 0, cap);
    std::vector<event> pieces = parse(stream, chunk, cap);
    FUZZ_CHECK(whole == pieces);
    return 0;
}
