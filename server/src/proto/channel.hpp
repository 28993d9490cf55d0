// Channel names, channel patterns and peerIds (PROTOCOL.md sections 4 and 20): validation,
// glob matching, coverage of one pattern by another, and reserved prefixes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::proto {

inline constexpr std::size_t max_channel_bytes = 256;  // §4.1, §4.2
inline constexpr std::size_t max_peer_id_bytes = 128;  // §3.3 rule 10, §6.4

// True iff `name` (decoded UTF-8) is a valid concrete channel name (§4.1). Unpaired surrogates
// are rejected by the caller, which sees them while decoding the JSON string.
bool valid_channel_name(std::string_view name);

// True iff `s` contains a `*` that is not escaped by a preceding `\` (§4.2).
bool has_unescaped_star(std::string_view s);

// True iff `id` is 1-128 bytes, each 0x20-0x7E (§3.3 rule 10, §6.4 rule 1).
bool valid_peer_id(std::string_view id);

// True iff `name` (a concrete name, or a pattern's literal prefix) starts with a reserved prefix
// (`_metered/`, `_internal/`, `_system/`, ASCII case-insensitive; §4.5).
bool is_reserved(std::string_view name);

// A validated, tokenized channel pattern (§4.2). Immutable after compile.
class pattern {
public:
    // Compiles `text`; nullopt when it is not a valid pattern.
    static std::optional<pattern> compile(std::string_view text);

    // Anchored match against a concrete name, byte-wise.
    bool matches(std::string_view name) const;

    // The original pattern text.
    const std::string& text() const { return text_; }
    // lit(P): the literal text before the first wildcard token.
    const std::string& literal_prefix() const { return literal_prefix_; }
    // True when the pattern has no wildcard token; then literal_prefix() is the whole name.
    bool is_concrete() const { return wildcards_ == 0; }

    // covers(A, P) of §4.4, with *this as A.
    bool covers(const pattern& p) const;

private:
    // Tokens: literal bytes, with star / double_star markers (control bytes never appear in a
    // valid pattern's literals, so they are free to use as markers).
    static constexpr char star = '\x01';
    static constexpr char double_star = '\x02';

    // Runs the NFA over `name` against tokens[0, ntokens). If `accept_any_prefix`, returns true
    // as soon as some prefix of `name` (the empty one included) is accepted.
    static bool run(std::string_view tokens, std::string_view name, bool accept_any_prefix);

    std::string text_;
    std::string tokens_;
    std::string literal_prefix_;
    std::size_t wildcards_ = 0;
};

}  // namespace parley::proto
