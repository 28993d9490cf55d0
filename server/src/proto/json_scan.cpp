// Strict JSON validation with member spans; see json_scan.hpp for why this is not simdjson.
// Iterative (no recursion), bounded by max_depth, linear in the input.
#include "proto/json_scan.hpp"

#include <algorithm>

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace parley::json {
namespace {

class scanner {
public:
    scanner(std::string_view text, int max_depth)
        : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

    const char* pos() const { return p_; }
    bool at_end() const { return p_ == end_; }
    bool peek_is(char c) const { return p_ != end_ && *p_ == c; }
    void advance() { ++p_; }

    void skip_ws() {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
            ++p_;
        }
    }

    // Scans a string starting at the opening quote. Sets has_escape.
    bool string(bool& has_escape) {
        ++p_;  // opening quote
        for (;;) {
            skip_plain_string_bytes();
            if (p_ == end_) {
                return false;
            }
            unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                return true;
            }
            if (c == '\\') {
                has_escape = true;
                ++p_;
                if (p_ == end_) {
                    return false;
                }
                switch (*p_) {
                    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                        ++p_;
                        break;
                    case 'u':
                        ++p_;
                        for (int i = 0; i < 4; ++i) {
                            if (p_ == end_ || !is_hex(*p_)) {
                                return false;
                            }
                            ++p_;
                        }
                        break;
                    default:
                        return false;
                }
                continue;
            }
            return false;  // a control character below 0x20
        }
    }

    bool number() {
        if (p_ != end_ && *p_ == '-') {
            ++p_;
        }
        if (p_ == end_) {
            return false;
        }
        if (*p_ == '0') {
            ++p_;
        } else if (*p_ >= '1' && *p_ <= '9') {
            while (p_ != end_ && is_digit(*p_)) {
                ++p_;
            }
        } else {
            return false;
        }
        if (p_ != end_ && *p_ == '.') {
            ++p_;
            if (p_ == end_ || !is_digit(*p_)) {
                return false;
            }
            while (p_ != end_ && is_digit(*p_)) {
                ++p_;
            }
        }
        if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ != end_ && (*p_ == '+' || *p_ == '-')) {
                ++p_;
            }
            if (p_ == end_ || !is_digit(*p_)) {
                return false;
            }
            while (p_ != end_ && is_digit(*p_)) {
                ++p_;
            }
        }
        return true;
    }

    bool literal(std::string_view word) {
        if (static_cast<std::size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0) {
            return false;
        }
        p_ += word.size();
        return true;
    }

    // Scans one complete value of any kind starting at the current byte (after whitespace).
    // `depth` is the nesting depth of the container holding this value (0 at top level).
    // Iterative: containers are tracked on a small explicit stack bounded by max_depth.
    scan_result value(int depth, value_kind& kind) {
        enum class state { expect_value, expect_key, after_value };
        bool stack[max_stack];  // true for an object, false for an array
        int top = 0;
        state st = state::expect_value;
        bool first = true;
        for (;;) {
            skip_ws();
            if (p_ == end_) {
                return scan_result::syntax_error;
            }
            if (st == state::expect_key) {
                if (*p_ != '"') {
                    return scan_result::syntax_error;
                }
                bool esc = false;
                if (!string(esc)) {
                    return scan_result::syntax_error;
                }
                skip_ws();
                if (p_ == end_ || *p_ != ':') {
                    return scan_result::syntax_error;
                }
                ++p_;
                st = state::expect_value;
                continue;
            }
            if (st == state::expect_value) {
                char c = *p_;
                value_kind k;
                if (c == '{' || c == '[') {
                    k = c == '{' ? value_kind::object : value_kind::array;
                    if (depth + top + 1 > max_depth_ || top == max_stack) {
                        return scan_result::too_deep;
                    }
                    stack[top++] = (c == '{');
                    ++p_;
                    skip_ws();
                    if (p_ != end_ && *p_ == (c == '{' ? '}' : ']')) {
                        ++p_;
                        --top;
                        st = state::after_value;
                    } else {
                        st = c == '{' ? state::expect_key : state::expect_value;
                    }
                } else {
                    bool ok;
                    if (c == '"') {
                        k = value_kind::string;
                        bool esc = false;
                        ok = string(esc);
                    } else if (c == 't') {
                        k = value_kind::boolean;
                        ok = literal("true");
                    } else if (c == 'f') {
                        k = value_kind::boolean;
                        ok = literal("false");
                    } else if (c == 'n') {
                        k = value_kind::null;
                        ok = literal("null");
                    } else {
                        k = value_kind::number;
                        ok = number();
                    }
                    if (!ok) {
                        return scan_result::syntax_error;
                    }
                    st = state::after_value;
                }
                if (first) {
                    kind = k;
                    first = false;
                }
                if (st != state::after_value) {
                    continue;
                }
            }
            // after_value: close containers until a comma or the end of this value.
            for (;;) {
                if (top == 0) {
                    return scan_result::ok;
                }
                skip_ws();
                if (p_ == end_) {
                    return scan_result::syntax_error;
                }
                if (*p_ == ',') {
                    ++p_;
                    st = stack[top - 1] ? state::expect_key : state::expect_value;
                    break;
                }
                if (*p_ != (stack[top - 1] ? '}' : ']')) {
                    return scan_result::syntax_error;
                }
                ++p_;
                --top;
            }
        }
    }

private:
    static constexpr int max_stack = 1024;

    // Advances over string bytes that need no attention: not '"', not '\\', not < 0x20.
    void skip_plain_string_bytes() {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"');
        const __m128i backslash = _mm_set1_epi8('\\');
        while (end_ - p_ >= 16) {
            __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
            // bytes < 0x20 (unsigned): min(v, 0x1f) == v
            __m128i ctrl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                                                    _mm_cmpeq_epi8(v, backslash)),
                                       ctrl);
            int mask = _mm_movemask_epi8(hit);
            if (mask != 0) {
                p_ += __builtin_ctz(static_cast<unsigned>(mask));
                return;
            }
            p_ += 16;
        }
#endif
        while (p_ != end_) {
            unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"' || c == '\\' || c < 0x20) {
                return;
            }
            ++p_;
        }
    }

    static bool is_digit(char c) { return c >= '0' && c <= '9'; }
    static bool is_hex(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    const char* p_;
    const char* end_;
    int max_depth_;
};

}  // namespace

scan_result scan_object(std::string_view text, std::vector<member>& members, int max_depth) {
    members.clear();
    scanner s(text, max_depth);
    s.skip_ws();
    if (s.at_end()) {
        return scan_result::syntax_error;
    }
    if (!s.peek_is('{')) {
        value_kind k;
        scan_result r = s.value(0, k);
        if (r != scan_result::ok) {
            return r;
        }
        s.skip_ws();
        return s.at_end() ? scan_result::not_object : scan_result::syntax_error;
    }
    if (max_depth < 1) {
        return scan_result::too_deep;
    }
    // The top-level object is walked here so that member spans can be recorded; member values
    // are scanned by scanner::value with the object as their container (depth 1).
    s.advance();
    s.skip_ws();
    if (s.peek_is('}')) {
        s.advance();
        s.skip_ws();
        return s.at_end() ? scan_result::ok : scan_result::syntax_error;
    }
    for (;;) {
        if (!s.peek_is('"')) {
            return scan_result::syntax_error;
        }
        const char* key_start = s.pos();
        bool esc = false;
        if (!s.string(esc)) {
            return scan_result::syntax_error;
        }
        member m;
        m.raw_key = std::string_view(key_start + 1, static_cast<std::size_t>(s.pos() - key_start - 2));
        m.key_has_escape = esc;
        s.skip_ws();
        if (!s.peek_is(':')) {
            return scan_result::syntax_error;
        }
        s.advance();
        s.skip_ws();
        const char* value_start = s.pos();
        scan_result r = s.value(1, m.kind);
        if (r != scan_result::ok) {
            return r;
        }
        m.value = std::string_view(value_start, static_cast<std::size_t>(s.pos() - value_start));
        members.push_back(m);
        s.skip_ws();
        if (s.peek_is(',')) {
            s.advance();
            s.skip_ws();
            continue;
        }
        if (s.peek_is('}')) {
            s.advance();
            s.skip_ws();
            return s.at_end() ? scan_result::ok : scan_result::syntax_error;
        }
        return scan_result::syntax_error;
    }
}

scan_result scan_array(std::string_view text, std::vector<member>& elements, int max_depth) {
    elements.clear();
    scanner s(text, max_depth);
    s.skip_ws();
    if (!s.peek_is('[')) {
        value_kind k;
        scan_result r = s.value(0, k);
        if (r != scan_result::ok) {
            return r;
        }
        s.skip_ws();
        return s.at_end() ? scan_result::not_object : scan_result::syntax_error;
    }
    if (max_depth < 1) {
        return scan_result::too_deep;
    }
    s.advance();
    s.skip_ws();
    if (s.peek_is(']')) {
        s.advance();
        s.skip_ws();
        return s.at_end() ? scan_result::ok : scan_result::syntax_error;
    }
    for (;;) {
        member m;
        const char* value_start = s.pos();
        scan_result r = s.value(1, m.kind);
        if (r != scan_result::ok) {
            return r;
        }
        m.value = std::string_view(value_start, static_cast<std::size_t>(s.pos() - value_start));
        elements.push_back(m);
        s.skip_ws();
        if (s.peek_is(',')) {
            s.advance();
            s.skip_ws();
            continue;
        }
        if (s.peek_is(']')) {
            s.advance();
            s.skip_ws();
            return s.at_end() ? scan_result::ok : scan_result::syntax_error;
        }
        return scan_result::syntax_error;
    }
}

bool validate(std::string_view text, int max_depth) {
    scanner s(text, max_depth);
    s.skip_ws();
    value_kind k;
    if (s.value(0, k) != scan_result::ok) {
        return false;
    }
    s.skip_ws();
    return s.at_end();
}

const member* object::get(std::string_view name) const {
    const member* found = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == name) {
            found = &members[i];
        }
    }
    return found;
}

bool object::has_duplicate_names() const {
    // Sorted, not pairwise: a token head can carry thousands of members, and comparing every
    // pair of them would let one request cost seconds of CPU.
    std::vector<std::string_view> sorted(names.begin(), names.end());
    std::sort(sorted.begin(), sorted.end());
    return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}

bool parse_object(std::string_view text, object& out, int max_depth) {
    out.names.clear();
    if (scan_object(text, out.members, max_depth) != scan_result::ok) {
        return false;
    }
    for (const auto& m : out.members) {
        std::string name;
        unescape(m.raw_key, name);
        out.names.push_back(std::move(name));
    }
    return true;
}

std::string decode_string(const member& m, bool* lone_surrogate) {
    std::string s;
    bool lone = unescape(string_body(m.value), s) == unescape_result::lone_surrogate;
    if (lone_surrogate != nullptr) {
        *lone_surrogate = lone;
    }
    return s;
}

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::uint32_t hex4(const char* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= static_cast<std::uint32_t>(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= static_cast<std::uint32_t>(c - 'a' + 10);
        } else {
            v |= static_cast<std::uint32_t>(c - 'A' + 10);
        }
    }
    return v;
}

}  // namespace

unescape_result unescape(std::string_view raw, std::string& out) {
    unescape_result result = unescape_result::ok;
    std::size_t i = 0;
    const std::size_t n = raw.size();
    while (i < n) {
        std::size_t j = raw.find('\\', i);
        if (j == std::string_view::npos) {
            out.append(raw.data() + i, n - i);
            break;
        }
        out.append(raw.data() + i, j - i);
        i = j + 1;
        char c = raw[i++];
        switch (c) {
            case 'b': out.push_back('\b'); break;
            case 'f': out.push_back('\f'); break;
            case 'n': out.push_back('\n'); break;
            case 'r': out.push_back('\r'); break;
            case 't': out.push_back('\t'); break;
            case 'u': {
                std::uint32_t cp = hex4(raw.data() + i);
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (i + 6 <= n && raw[i] == '\\' && raw[i + 1] == 'u') {
                        std::uint32_t lo = hex4(raw.data() + i + 2);
                        if (lo >= 0xDC00 && lo <= 0xDFFF) {
                            i += 6;
                            append_utf8(out, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
                            break;
                        }
                    }
                    result = unescape_result::lone_surrogate;
                    append_utf8(out, 0xFFFD);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    result = unescape_result::lone_surrogate;
                    append_utf8(out, 0xFFFD);
                } else {
                    append_utf8(out, cp);
                }
                break;
            }
            default: out.push_back(c); break;  // '"', '\\', '/'
        }
    }
    return result;
}

}  // namespace parley::json
