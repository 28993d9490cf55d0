// Appending JSON text to a std::string: string escaping for names and ids that Parley writes into
// its own frames (relayed `data` is copied verbatim and never passes through here).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::json {

// Appends `s` (valid UTF-8) as a JSON string literal with quotes, escaping only what RFC 8259
// requires: '"', '\\' and control characters below 0x20.
inline void append_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run_start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(s.data() + run_start, i - run_start);
        run_start = i + 1;
        switch (c) {
            case '"': out.append("\\\""); break;
            case '\\': out.append("\\\\"); break;
            case '\n': out.append("\\n"); break;
            case '\r': out.append("\\r"); break;
            case '\t': out.append("\\t"); break;
            case '\b': out.append("\\b"); break;
            case '\f': out.append("\\f"); break;
            default:
                out.append("\\u00");
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 0xF]);
        }
    }
    out.append(s.data() + run_start, s.size() - run_start);
    out.push_back('"');
}

inline void append_int(std::string& out, std::int64_t v) { out.append(std::to_string(v)); }

}  // namespace parley::json
