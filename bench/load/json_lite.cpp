// Recursive-descent JSON syntax check with spans of the top-level members (see json_lite.hpp).
#include "json_lite.hpp"

namespace parley::bench::json {
namespace {

constexpr int max_depth = 64;

struct cursor {
    const char* p;
    const char* end;
    void ws() {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
            ++p;
        }
    }
};

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// At an opening quote: advances past the closing quote.
bool skip_string(cursor& c) {
    ++c.p;
    while (c.p < c.end) {
        auto ch = static_cast<unsigned char>(*c.p);
        if (ch == '"') {
            ++c.p;
            return true;
        }
        if (ch < 0x20) {
            return false;
        }
        if (ch == '\\') {
            if (++c.p >= c.end) {
                return false;
            }
            switch (*c.p) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                    ++c.p;
                    break;
                case 'u':
                    if (c.end - c.p < 5 || !is_hex(c.p[1]) || !is_hex(c.p[2]) || !is_hex(c.p[3]) ||
                        !is_hex(c.p[4])) {
                        return false;
                    }
                    c.p += 5;
                    break;
                default:
                    return false;
            }
            continue;
        }
        ++c.p;
    }
    return false;
}

bool digits(cursor& c) {
    const char* s = c.p;
    while (c.p < c.end && *c.p >= '0' && *c.p <= '9') {
        ++c.p;
    }
    return c.p > s;
}

bool skip_number(cursor& c) {
    if (*c.p == '-') {
        ++c.p;
    }
    if (c.p >= c.end) {
        return false;
    }
    if (*c.p == '0') {
        ++c.p;
    } else if (!digits(c)) {
        return false;
    }
    if (c.p < c.end && *c.p == '.') {
        ++c.p;
        if (!digits(c)) {
            return false;
        }
    }
    if (c.p < c.end && (*c.p == 'e' || *c.p == 'E')) {
        ++c.p;
        if (c.p < c.end && (*c.p == '+' || *c.p == '-')) {
            ++c.p;
        }
        if (!digits(c)) {
            return false;
        }
    }
    return true;
}

bool skip_literal(cursor& c, std::string_view lit) {
    if (static_cast<std::size_t>(c.end - c.p) < lit.size() ||
        std::string_view(c.p, lit.size()) != lit) {
        return false;
    }
    c.p += lit.size();
    return true;
}

bool skip_value(cursor& c, int depth, member* out, int max, int* count);

bool skip_object(cursor& c, int depth, member* out, int max, int* count) {
    if (depth > max_depth) {
        return false;
    }
    ++c.p;  // '{'
    c.ws();
    if (c.p < c.end && *c.p == '}') {
        ++c.p;
        return true;
    }
    while (true) {
        c.ws();
        if (c.p >= c.end || *c.p != '"') {
            return false;
        }
        const char* ks = c.p;
        if (!skip_string(c)) {
            return false;
        }
        std::string_view key(ks + 1, static_cast<std::size_t>(c.p - ks - 2));
        c.ws();
        if (c.p >= c.end || *c.p != ':') {
            return false;
        }
        ++c.p;
        c.ws();
        const char* vs = c.p;
        if (!skip_value(c, depth, nullptr, 0, nullptr)) {
            return false;
        }
        if (count != nullptr) {
            if (*count < max) {
                out[*count] = member{key, std::string_view(vs, static_cast<std::size_t>(c.p - vs))};
            }
            ++*count;
        }
        c.ws();
        if (c.p >= c.end) {
            return false;
        }
        if (*c.p == ',') {
            ++c.p;
            continue;
        }
        if (*c.p == '}') {
            ++c.p;
            return true;
        }
        return false;
    }
}

bool skip_array(cursor& c, int depth, int* count) {
    if (depth > max_depth) {
        return false;
    }
    ++c.p;  // '['
    c.ws();
    if (c.p < c.end && *c.p == ']') {
        ++c.p;
        return true;
    }
    while (true) {
        c.ws();
        if (!skip_value(c, depth, nullptr, 0, nullptr)) {
            return false;
        }
        if (count != nullptr) {
            ++*count;
        }
        c.ws();
        if (c.p >= c.end) {
            return false;
        }
        if (*c.p == ',') {
            ++c.p;
            continue;
        }
        if (*c.p == ']') {
            ++c.p;
            return true;
        }
        return false;
    }
}

bool skip_value(cursor& c, int depth, member* out, int max, int* count) {
    if (c.p >= c.end) {
        return false;
    }
    switch (*c.p) {
        case '{':
            return skip_object(c, depth + 1, out, max, count);
        case '[':
            return skip_array(c, depth + 1, nullptr);
        case '"':
            return skip_string(c);
        case 't':
            return skip_literal(c, "true");
        case 'f':
            return skip_literal(c, "false");
        case 'n':
            return skip_literal(c, "null");
        default:
            return skip_number(c);
    }
}

}  // namespace

int scan_object(std::string_view text, member* out, int max) {
    cursor c{text.data(), text.data() + text.size()};
    c.ws();
    if (c.p >= c.end || *c.p != '{') {
        return -1;
    }
    int count = 0;
    if (!skip_object(c, 1, out, max, &count)) {
        return -1;
    }
    c.ws();
    return c.p == c.end ? count : -1;
}

int count_array(std::string_view text) {
    cursor c{text.data(), text.data() + text.size()};
    c.ws();
    if (c.p >= c.end || *c.p != '[') {
        return -1;
    }
    int count = 0;
    return skip_array(c, 1, &count) ? count : -1;
}

}  // namespace parley::bench::json
