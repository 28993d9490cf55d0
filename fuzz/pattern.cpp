// Fuzz target: channel names and glob patterns (proto/channel; PROTOCOL.md 4). The input holds
// an authorization pattern A, a pattern P and a concrete name, separated by 0xFF bytes.
// Checks: matching agrees with a plain backtracking reference matcher, and covers(A, P) is
// sound — every name P matches, A matches too (section 4.4 promises that).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "proto/channel.hpp"

namespace {

namespace proto = parley::proto;

// Tokens of section 4.2 for the reference matcher: -1 = `*`, -2 = `**`, else a literal byte.
std::optional<std::vector<int>> tokenize(std::string_view p) {
    std::vector<int> t;
    for (std::size_t i = 0; i < p.size();) {
        if (p[i] == '\\') {
            if (i + 1 >= p.size() || (p[i + 1] != '*' && p[i + 1] != '\\')) {
                return std::nullopt;
            }
            t.push_back(static_cast<unsigned char>(p[i + 1]));
            i += 2;
        } else if (p[i] == '*') {
            std::size_t run = 0;
            while (i + run < p.size() && p[i + run] == '*') {
                ++run;
            }
            if (run >= 3) {
                return std::nullopt;
            }
            t.push_back(run == 2 ? -2 : -1);
            i += run;
        } else {
            t.push_back(static_cast<unsigned char>(p[i]));
            ++i;
        }
    }
    return t;
}

// Memoised backtracking match of tokens[ti..] against name[ni..].
bool ref_match(const std::vector<int>& t, std::string_view name, std::size_t ti, std::size_t ni,
               std::vector<signed char>& memo) {
    signed char& m = memo[ti * (name.size() + 1) + ni];
    if (m >= 0) {
        return m != 0;
    }
    bool r;
    if (ti == t.size()) {
        r = ni == name.size();
    } else if (t[ti] == -2) {
        r = ref_match(t, name, ti + 1, ni, memo) ||
            (ni < name.size() && ref_match(t, name, ti, ni + 1, memo));
    } else if (t[ti] == -1) {
        r = ref_match(t, name, ti + 1, ni, memo) ||
            (ni < name.size() && name[ni] != '/' && ref_match(t, name, ti, ni + 1, memo));
    } else {
        r = ni < name.size() && static_cast<unsigned char>(name[ni]) == t[ti] &&
            ref_match(t, name, ti + 1, ni + 1, memo);
    }
    m = r ? 1 : 0;
    return r;
}

bool reference_matches(std::string_view pattern, std::string_view name) {
    auto t = tokenize(pattern);
    FUZZ_CHECK(t.has_value());
    std::vector<signed char> memo((t->size() + 1) * (name.size() + 1), -1);
    return ref_match(*t, name, 0, 0, memo);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string_view parts[3];
    for (int i = 0; i < 2; ++i) {
        std::size_t sep = in.find('\xff');
        if (sep == std::string_view::npos) {
            parts[i] = in;
            in = {};
        } else {
            parts[i] = in.substr(0, sep);
            in.remove_prefix(sep + 1);
        }
    }
    parts[2] = in;
    const std::string_view name = parts[2];

    const bool valid_name = proto::valid_channel_name(name);
    (void)proto::is_reserved(name);
    (void)proto::valid_peer_id(name);
    FUZZ_CHECK(!valid_name || (!name.empty() && name.size() <= proto::max_channel_bytes &&
                          name.find('*') == std::string_view::npos));

    auto a = proto::pattern::compile(parts[0]);
    auto p = proto::pattern::compile(parts[1]);
    for (auto* x : {&a, &p}) {
        if (!x->has_value()) {
            continue;
        }
        const proto::pattern& pat = **x;
        FUZZ_CHECK(pat.literal_prefix().size() <= pat.text().size());
        FUZZ_CHECK(pat.is_concrete() == !proto::has_unescaped_star(pat.text()));
        if (valid_name) {
            FUZZ_CHECK(pat.matches(name) == reference_matches(pat.text(), name));
        }
        // A concrete pattern matches exactly the name it spells.
        if (pat.is_concrete() && proto::valid_channel_name(pat.literal_prefix())) {
            FUZZ_CHECK(pat.matches(pat.literal_prefix()));
        }
    }
    if (a && p) {
        if (a->covers(*p) && valid_name && p->matches(name)) {
            FUZZ_CHECK(a->matches(name));  // soundness of covers (section 4.4)
        }
        FUZZ_CHECK(a->covers(*a));
    }
    return 0;
}
