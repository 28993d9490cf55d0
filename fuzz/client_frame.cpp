// Fuzz target: client frame JSON (proto/json_scan and proto/client_frame; PROTOCOL.md 5.2, 6).
// Input is one text message as a connection hands it over (valid UTF-8 only). Checks: the
// decoder never crashes, and what it accepts obeys the frame-local rules it promises; JSON that
// simdjson accepts within the depth limit is accepted by the scanner too (it must take every
// valid document), and the scanner's member spans are valid JSON values themselves.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "proto/channel.hpp"
#include "proto/client_frame.hpp"
#include "proto/json_scan.hpp"

namespace {

constexpr std::size_t max_message_size = 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    if (!simdjson::validate_utf8(text.data(), text.size())) {
        return 0;  // closed 1007 before any JSON is looked at
    }
    namespace json = parley::json;
    namespace proto = parley::proto;

    // The scanner against simdjson: every document simdjson accepts (nesting <= 64) is valid.
    static simdjson::dom::parser parser = [] {
        simdjson::dom::parser p;
        if (p.allocate(1 << 20, json::max_frame_depth) != simdjson::SUCCESS) {
            std::abort();
        }
        return p;
    }();
    simdjson::padded_string padded(text);
    const bool simdjson_ok = parser.parse(padded).error() == simdjson::SUCCESS;
    const bool scan_ok = json::validate(text);
    if (simdjson_ok) {
        FUZZ_CHECK(scan_ok);
    }
    std::vector<json::member> members;
    json::scan_result r = json::scan_object(text, members);
    if (r == json::scan_result::ok) {
        FUZZ_CHECK(scan_ok);
        for (const auto& m : members) {
            FUZZ_CHECK(json::validate(m.value));
            std::string key;
            json::unescape(m.raw_key, key);
            FUZZ_CHECK(simdjson::validate_utf8(key.data(), key.size()));
            if (m.kind == json::value_kind::string) {
                std::string s;
                json::unescape(json::string_body(m.value), s);
                FUZZ_CHECK(simdjson::validate_utf8(s.data(), s.size()));
            }
        }
    }

    static proto::frame_decoder decoder(max_message_size);
    proto::client_frame f;
    proto::frame_error err;
    if (decoder.decode(text, f, err)) {
        FUZZ_CHECK(r == json::scan_result::ok);
        switch (f.type) {
            case proto::frame_type::ping:
                break;
            case proto::frame_type::send:
                FUZZ_CHECK(proto::valid_peer_id(f.to));
                FUZZ_CHECK(f.data.size() <= max_message_size && json::validate(f.data));
                break;
            case proto::frame_type::publish:
                FUZZ_CHECK(proto::valid_channel_name(f.channel) && !proto::is_reserved(f.channel));
                FUZZ_CHECK(f.data.size() <= max_message_size && json::validate(f.data));
                break;
            case proto::frame_type::subscribe:
            case proto::frame_type::unsubscribe:
                if (f.is_pattern) {
                    FUZZ_CHECK(f.compiled.has_value() && f.compiled->text() == f.channel);
                } else {
                    FUZZ_CHECK(proto::valid_channel_name(f.channel));
                }
                break;
        }
        if (!f.request_id_json.empty()) {
            FUZZ_CHECK(f.request_id_json.front() == '"' && f.request_id_json.back() == '"');
        }
    } else {
        FUZZ_CHECK(!err.message.empty());
        if (!err.request_id_json.empty()) {
            FUZZ_CHECK(json::validate(err.request_id_json));
        }
    }
    return 0;
}
