// Channel name rules and glob matching; see channel.hpp. Matching simulates the pattern's NFA
// over the name, so it is O(len(name) x len(pattern)) in the worst case (both at most 256 bytes)
// and can never backtrack exponentially.
#include "proto/channel.hpp"

#include <array>
#include <cstring>

namespace parley::proto {
namespace {

// The control-character rule of §4.1: no U+0000-001F, U+007F, U+0080-009F.
// U+0080-009F are encoded in UTF-8 as C2 80 .. C2 9F.
bool has_forbidden_code_point(std::string_view s) {
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F) {
            return true;
        }
        if (c == 0xC2 && i + 1 < n) {
            unsigned char d = static_cast<unsigned char>(s[i + 1]);
            if (d >= 0x80 && d <= 0x9F) {
                return true;
            }
        }
    }
    return false;
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (ascii_lower(s[i]) != prefix[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool valid_channel_name(std::string_view name) {
    if (name.empty() || name.size() > max_channel_bytes) {
        return false;
    }
    if (name.find('*') != std::string_view::npos) {
        return false;
    }
    return !has_forbidden_code_point(name);
}

bool has_unescaped_star(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;  // skip the escaped character
        } else if (s[i] == '*') {
            return true;
        }
    }
    return false;
}

bool valid_peer_id(std::string_view id) {
    if (id.empty() || id.size() > max_peer_id_bytes) {
        return false;
    }
    for (char c : id) {
        if (c < 0x20 || c > 0x7E) {
            return false;
        }
    }
    return true;
}

bool is_reserved(std::string_view name) {
    return starts_with_ci(name, "_metered/") || starts_with_ci(name, "_internal/") ||
           starts_with_ci(name, "_system/");
}

std::optional<pattern> pattern::compile(std::string_view text) {
    if (text.empty() || text.size() > max_channel_bytes || has_forbidden_code_point(text)) {
        return std::nullopt;
    }
    pattern p;
    p.text_ = std::string(text);
    p.tokens_.reserve(text.size());
    bool in_prefix = true;
    for (std::size_t i = 0; i < text.size();) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 >= text.size()) {
                return std::nullopt;
            }
            char e = text[i + 1];
            if (e != '*' && e != '\\') {
                return std::nullopt;
            }
            p.tokens_.push_back(e);
            if (in_prefix) {
                p.literal_prefix_.push_back(e);
            }
            i += 2;
        } else if (c == '*') {
            std::size_t run = 0;
            while (i + run < text.size() && text[i + run] == '*') {
                ++run;
            }
            if (run >= 3) {
                return std::nullopt;
            }
            p.tokens_.push_back(run == 2 ? double_star : star);
            ++p.wildcards_;
            in_prefix = false;
            i += run;
        } else {
            p.tokens_.push_back(c);
            if (in_prefix) {
                p.literal_prefix_.push_back(c);
            }
            ++i;
        }
    }
    return p;
}

bool pattern::run(std::string_view tokens, std::string_view name, bool accept_any_prefix) {
    const std::size_t t = tokens.size();
    // States 0..t; t <= 256 so both sets fit on the stack. Only the first t + 1 entries are
    // used, cleared per step, and the two sets swap by pointer (swapping the arrays themselves
    // and zeroing them whole cost more than the matching: 0.8 us for `room-*`).
    std::array<unsigned char, max_channel_bytes + 2> set_a;
    std::array<unsigned char, max_channel_bytes + 2> set_b;
    unsigned char* cur = set_a.data();
    unsigned char* next = set_b.data();
    auto close = [&](unsigned char* set) {
        for (std::size_t i = 0; i < t; ++i) {
            if (set[i] && (tokens[i] == star || tokens[i] == double_star)) {
                set[i + 1] = 1;
            }
        }
    };
    std::memset(cur, 0, t + 1);
    cur[0] = 1;
    close(cur);
    if (accept_any_prefix && cur[t]) {
        return true;
    }
    for (char ch : name) {
        std::memset(next, 0, t + 1);
        bool any = false;
        for (std::size_t i = 0; i < t; ++i) {
            if (!cur[i]) {
                continue;
            }
            char tok = tokens[i];
            if (tok == double_star || (tok == star && ch != '/')) {
                next[i] = 1;
                any = true;
            } else if (tok == ch) {
                next[i + 1] = 1;
                any = true;
            }
        }
        if (!any) {
            return false;
        }
        close(next);
        if (accept_any_prefix && next[t]) {
            return true;
        }
        std::swap(cur, next);
    }
    return cur[t] != 0;
}

bool pattern::matches(std::string_view name) const {
    if (wildcards_ == 0) {
        return name == std::string_view(tokens_);
    }
    if (name.size() < literal_prefix_.size() ||
        std::memcmp(name.data(), literal_prefix_.data(), literal_prefix_.size()) != 0) {
        return false;
    }
    // Common shape `prefix**`: everything after the prefix matches.
    if (wildcards_ == 1 && tokens_.size() == literal_prefix_.size() + 1 &&
        tokens_.back() == double_star) {
        return true;
    }
    return run(tokens_, name, false);
}

bool pattern::covers(const pattern& p) const {
    // (a) P has no wildcard and A matches the concrete string it produces.
    if (p.is_concrete() && matches(p.literal_prefix_)) {
        return true;
    }
    // (b) identical text.
    if (p.text_ == text_) {
        return true;
    }
    // (c) A ends with `**` and A without it matches some prefix of lit(P).
    if (!tokens_.empty() && tokens_.back() == double_star) {
        std::string_view head(tokens_.data(), tokens_.size() - 1);
        return run(head, p.literal_prefix_, true);
    }
    return false;
}

}  // namespace parley::proto
