// A strict RFC 8259 validator that also reports the raw text of each top-level member.
// Parley relays `data` byte for byte, so it needs spans of the original text, and it must accept
// every valid document a client can send (big integers, 1e400, lone-surrogate escapes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::json {

enum class value_kind : std::uint8_t { object, array, string, number, boolean, null };

// One member of the top-level object, as spans into the scanned text.
struct member {
    std::string_view raw_key;  // key text between the quotes, escapes not decoded
    bool key_has_escape = false;
    value_kind kind = value_kind::null;
    std::string_view value;  // the value's JSON text, first to last byte (strings keep quotes)
};

enum class scan_result : std::uint8_t { ok, syntax_error, too_deep, not_object };

// The default nesting limit for client frames (PROTOCOL.md section 20): `{}` has depth 1.
inline constexpr int max_frame_depth = 64;

// Validates `text` as exactly one JSON value with nesting depth at most `max_depth`, surrounded
// only by whitespace. Assumes `text` is valid UTF-8 (checked earlier, it decides close 1007).
// When the value is an object its members are appended to `members` in document order (the
// vector is cleared first); any other valid value gives `not_object`.
scan_result scan_object(std::string_view text, std::vector<member>& members,
                        int max_depth = max_frame_depth);

// Like scan_object for a top-level array: fills `elements` (raw_key empty) in order.
// Returns not_object when `text` is valid JSON but not an array.
scan_result scan_array(std::string_view text, std::vector<member>& elements,
                       int max_depth = max_frame_depth);

// Validates `text` as one JSON value (any kind) with the given depth limit.
bool validate(std::string_view text, int max_depth = max_frame_depth);

// Result of decoding a JSON string body.
enum class unescape_result : std::uint8_t { ok, lone_surrogate };

// Decodes the body of a JSON string (text between the quotes, already validated) into UTF-8,
// appending to `out`. A `\uXXXX` escape that forms no surrogate pair is written as U+FFFD and
// reported as `lone_surrogate`, so callers that must reject such names can.
unescape_result unescape(std::string_view raw, std::string& out);

// A parsed JSON object: its top-level members and their decoded names.
struct object {
    std::vector<member> members;
    std::vector<std::string> names;
    // The member named `name` — the last one when a name repeats, as JSON.parse does — or null.
    const member* get(std::string_view name) const;
    bool has_duplicate_names() const;
};

// Scans `text` (valid UTF-8) as a JSON object into `out`. False when it is not one.
bool parse_object(std::string_view text, object& out, int max_depth = max_frame_depth);

// The decoded value of a string member; sets *lone_surrogate when it held an unpaired one.
std::string decode_string(const member& m, bool* lone_surrogate = nullptr);

// Returns the body of a string value's JSON text (strips the quotes).
inline std::string_view string_body(std::string_view value) {
    return value.substr(1, value.size() - 2);
}

}  // namespace parley::json
