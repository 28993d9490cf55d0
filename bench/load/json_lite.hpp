// A small validating JSON scanner for what the load generator receives. Written independently of
// the server's proto/json_scan so that the generator does not share the server's parsing bugs.
#pragma once
#include <cstddef>
#include <string_view>

namespace parley::bench::json {

// One member of an object: the raw key (between the quotes, escapes kept) and the value's text.
struct member {
    std::string_view key;
    std::string_view value;
};

// Scans `text` as one JSON object (RFC 8259 syntax, nesting at most 64) and stores up to `max`
// of its top-level members in `out`. Returns the number of members, or -1 when `text` is not a
// syntactically valid object. Does not validate UTF-8 inside strings.
int scan_object(std::string_view text, member* out, int max);

// Counts the elements of a JSON array text (already validated); -1 when it is not an array.
int count_array(std::string_view text);

// The value of member `key` among `n` members, or an empty view.
inline std::string_view find(const member* m, int n, std::string_view key) {
    for (int i = 0; i < n; ++i) {
        if (m[i].key == key) {
            return m[i].value;
        }
    }
    return {};
}

// The body of a string value (quotes stripped), or an empty view when `v` is not a string.
inline std::string_view string_body(std::string_view v) {
    if (v.size() < 2 || v.front() != '"') {
        return {};
    }
    return v.substr(1, v.size() - 2);
}

}  // namespace parley::bench::json
