// Configuration loading and validation; see config.hpp and config/parley.example.toml, which
// documents every option read here.
#include "config/config.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include <boost/asio/ip/address.hpp>

namespace parley::config {
namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw config_error(where + ": " + what);
}

// Rejects members of `t` that are not in `known` (catches typos in option names).
void check_known(const toml::table& t, const std::string& where,
                 std::initializer_list<std::string_view> known) {
    for (const auto& [k, v] : t) {
        if (std::find(known.begin(), known.end(), k.str()) == known.end()) {
            fail(where.empty() ? std::string(k.str()) : where + "." + std::string(k.str()),
                 "unknown option");
        }
    }
}

std::string get_string(const toml::table& t, std::string_view key, const std::string& where,
                       std::optional<std::string> def = std::nullopt) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        if (!def) {
            fail(where + "." + std::string(key), "required");
        }
        return *def;
    }
    auto v = n->value<std::string>();
    if (!v) {
        fail(where + "." + std::string(key), "must be a string");
    }
    return *v;
}

std::optional<std::int64_t> get_int(const toml::table& t, std::string_view key,
                                    const std::string& where, std::int64_t min,
                                    std::int64_t max) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    auto v = n->value_exact<std::int64_t>();
    if (!v) {
        fail(where + "." + std::string(key), "must be an integer");
    }
    if (*v < min || *v > max) {
        fail(where + "." + std::string(key),
             "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return v;
}

std::optional<double> get_number(const toml::table& t, std::string_view key,
                                 const std::string& where, double min) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    auto v = n->value<double>();
    if (!v || !(*v >= min) || *v > 1e12) {
        fail(where + "." + std::string(key), "must be a number >= " + std::to_string(min));
    }
    return v;
}

std::optional<bool> get_bool(const toml::table& t, std::string_view key,
                             const std::string& where) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    auto v = n->value_exact<bool>();
    if (!v) {
        fail(where + "." + std::string(key), "must be true or false");
    }
    return v;
}

std::optional<std::vector<std::string>> get_strings(const toml::table& t, std::string_view key,
                                                    const std::string& where) {
    const toml::node* n = t.get(key);
    if (n == nullptr) {
        return std::nullopt;
    }
    const toml::array* a = n->as_array();
    if (a == nullptr) {
        fail(where + "." + std::string(key), "must be an array of strings");
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a->size(); ++i) {
        auto v = (*a)[i].value<std::string>();
        if (!v) {
            fail(where + "." + std::string(key) + "[" + std::to_string(i) + "]",
                 "must be a string");
        }
        out.push_back(*v);
    }
    return out;
}

std::uint8_t parse_actions(const std::vector<std::string>& names, const std::string& where) {
    std::uint8_t bits = 0;
    for (const auto& a : names) {
        if (a == "subscribe") {
            bits |= action_subscribe;
        } else if (a == "publish") {
            bits |= action_publish;
        } else if (a == "presence") {
            bits |= action_presence;
        } else if (a == "send") {
            bits |= action_send;
        } else {
            fail(where, "unknown action '" + a + "' (subscribe, publish, presence, send)");
        }
    }
    return bits;
}

// Parses "host:port", "[v6]:port" or ":port".
void parse_listen(const std::string& text, server_config& s, const std::string& where) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        fail(where, "must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
    std::string host = text.substr(0, colon);
    std::string port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
        host = "0.0.0.0";
    }
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
        fail(where, "port must be 0-65535 (0 picks a free port)");
    }
    s.listen_host = host;
    s.listen_port = static_cast<std::uint16_t>(p);
}

void check_turn_url(const std::string& url, const std::string& where) {
    static constexpr std::string_view schemes[] = {"stun:", "stuns:", "turn:", "turns:"};
    bool ok = std::any_of(std::begin(schemes), std::end(schemes),
                          [&](std::string_view s) { return url.rfind(s, 0) == 0; });
    if (!ok || url.size() > 512) {
        fail(where, "must start with stun:, stuns:, turn: or turns: and be at most 512 characters");
    }
}

// An IP address, or an address/prefix-length range.
bool valid_proxy(const std::string& text) {
    auto slash = text.find('/');
    std::string addr = text.substr(0, slash);
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(addr, ec);
    if (ec) {
        return false;
    }
    if (slash == std::string::npos) {
        return true;
    }
    char* end = nullptr;
    long bits = std::strtol(text.c_str() + slash + 1, &end, 10);
    return *end == '\0' && bits >= 0 && bits <= (a.is_v4() ? 32 : 128) && slash + 1 < text.size();
}

void parse_server(const toml::table& t, server_config& s) {
    const std::string w = "server";
    check_known(t, w,
                {"listen", "threads", "max_message_size", "envelope_headroom",
                 "outbound_buffer_limit", "max_subscriptions", "ping_interval", "idle_timeout",
                 "drain_window", "going_away_retry_ms", "connect_rate_per_ip",
                 "connect_burst_per_ip", "rest_rate_per_key", "rest_burst_per_key",
                 "trusted_proxies", "web_root", "log_level", "tls_cert", "tls_key"});
    if (t.contains("listen")) {
        parse_listen(get_string(t, "listen", w), s, w + ".listen");
    }
    if (auto v = get_int(t, "threads", w, 0, 64)) {
        s.threads = static_cast<unsigned>(*v);
    }
    if (auto v = get_int(t, "max_message_size", w, 1, 16 << 20)) {
        s.max_message_size = static_cast<std::size_t>(*v);
    }
    if (auto v = get_int(t, "envelope_headroom", w, 0, 1 << 20)) {
        s.envelope_headroom = static_cast<std::size_t>(*v);
    }
    if (auto v = get_int(t, "outbound_buffer_limit", w, 2 << 20, std::int64_t{1} << 34)) {
        s.outbound_buffer_limit = static_cast<std::size_t>(*v);
    }
    if (auto v = get_int(t, "max_subscriptions", w, 1, 100000)) {
        s.max_subscriptions = static_cast<std::size_t>(*v);
    }
    if (auto v = get_number(t, "ping_interval", w, 0.1)) {
        s.ping_interval = std::chrono::milliseconds(static_cast<std::int64_t>(*v * 1000));
    }
    if (auto v = get_number(t, "idle_timeout", w, 0.1)) {
        s.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(*v * 1000));
    }
    if (auto v = get_number(t, "drain_window", w, 0)) {
        s.drain_window = std::chrono::milliseconds(static_cast<std::int64_t>(*v * 1000));
    }
    if (auto v = get_int(t, "going_away_retry_ms", w, 1, 3600000)) {
        s.going_away_retry_ms = *v;
    }
    if (auto v = get_number(t, "connect_rate_per_ip", w, 0)) {
        s.connect_rate_per_ip = *v;
    }
    if (auto v = get_number(t, "connect_burst_per_ip", w, 1)) {
        s.connect_burst_per_ip = *v;
    }
    if (auto v = get_number(t, "rest_rate_per_key", w, 0)) {
        s.rest_rate_per_key = *v;
    }
    if (auto v = get_number(t, "rest_burst_per_key", w, 1)) {
        s.rest_burst_per_key = *v;
    }
    if (auto v = get_strings(t, "trusted_proxies", w)) {
        for (const auto& p : *v) {
            if (!valid_proxy(p)) {
                fail(w + ".trusted_proxies", "'" + p + "' is not an IP address or CIDR range");
            }
        }
        s.trusted_proxies = *v;
    }
    s.web_root = get_string(t, "web_root", w, s.web_root);
    s.log_level = get_string(t, "log_level", w, s.log_level);
    static constexpr std::string_view levels[] = {"trace", "debug", "info", "warn", "error", "off"};
    if (std::find(std::begin(levels), std::end(levels), s.log_level) == std::end(levels)) {
        fail(w + ".log_level", "must be one of trace, debug, info, warn, error, off");
    }
    s.tls_cert = get_string(t, "tls_cert", w, s.tls_cert);
    s.tls_key = get_string(t, "tls_key", w, s.tls_key);
    if (s.tls_cert.empty() != s.tls_key.empty()) {
        fail(w, "tls_cert and tls_key must be set together");
    }
}

void parse_engine(const toml::table& t, engine_config& e) {
    const std::string w = "engine";
    check_known(t, w, {"type", "url", "prefix", "node_id", "heartbeat_interval", "node_timeout"});
    std::string type = get_string(t, "type", w, "memory");
    if (type == "memory") {
        e.type = engine_config::kind::memory;
    } else if (type == "redis") {
        e.type = engine_config::kind::redis;
    } else {
        fail(w + ".type", "must be \"memory\" or \"redis\"");
    }
    e.url = get_string(t, "url", w, e.url);
    if (e.url.rfind("redis://", 0) != 0) {
        fail(w + ".url", "must look like redis://HOST:PORT");
    }
    e.prefix = get_string(t, "prefix", w, e.prefix);
    e.node_id = get_string(t, "node_id", w, e.node_id);
    for (char c : e.prefix + e.node_id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
            fail(w, "prefix and node_id may use letters, digits, '_', '-' and '.'");
        }
    }
    if (e.prefix.empty()) {
        fail(w + ".prefix", "must not be empty");
    }
    if (auto v = get_number(t, "heartbeat_interval", w, 0.1)) {
        e.heartbeat_interval = *v;
    }
    if (auto v = get_number(t, "node_timeout", w, 1)) {
        e.node_timeout = *v;
    }
    if (e.node_timeout < 2 * e.heartbeat_interval) {
        fail(w + ".node_timeout", "must be at least twice heartbeat_interval");
    }
}

key_config parse_key(const toml::table& t, const std::string& w) {
    check_known(t, w,
                {"type", "id", "secret", "channels", "actions", "allowed_origins",
                 "auto_inject_turn"});
    key_config k;
    std::string type = get_string(t, "type", w);
    if (type == "publishable") {
        k.type = key_type::publishable;
    } else if (type == "secret") {
        k.type = key_type::secret;
    } else {
        fail(w + ".type", "must be \"publishable\" or \"secret\"");
    }
    k.id = get_string(t, "id", w);
    const std::string_view prefix = k.type == key_type::publishable ? "pk_live_" : "sk_id_";
    if (k.id.rfind(prefix, 0) != 0 || k.id.size() == prefix.size()) {
        fail(w + ".id", "a " + type + " key id must start with " + std::string(prefix));
    }
    for (char c : k.id) {
        if (c <= 0x20 || c > 0x7E || c == ':') {
            fail(w + ".id", "must be printable ASCII without spaces or ':'");
        }
    }
    if (k.type == key_type::secret) {
        k.secret = get_string(t, "secret", w);
        if (k.secret.rfind("sk_secret_", 0) != 0 || k.secret.size() == 10) {
            fail(w + ".secret", "must start with sk_secret_");
        }
    } else if (t.contains("secret")) {
        fail(w + ".secret", "only secret keys have a secret");
    }
    auto channels = get_strings(t, "channels", w);
    if (!channels) {
        fail(w + ".channels", "required (use [\"**\"] to allow every channel)");
    }
    for (std::size_t i = 0; i < channels->size(); ++i) {
        auto p = proto::pattern::compile((*channels)[i]);
        if (!p) {
            fail(w + ".channels[" + std::to_string(i) + "]",
                 "invalid channel pattern '" + (*channels)[i] + "'");
        }
        k.channels.push_back(std::move(*p));
    }
    if (auto actions = get_strings(t, "actions", w)) {
        k.actions = parse_actions(*actions, w + ".actions");
    } else {
        k.actions = k.type == key_type::publishable
                        ? static_cast<std::uint8_t>(action_subscribe | action_publish |
                                                    action_presence)
                        : static_cast<std::uint8_t>(action_all);
    }
    if (auto origins = get_strings(t, "allowed_origins", w)) {
        if (k.type == key_type::secret && !origins->empty()) {
            fail(w + ".allowed_origins", "only publishable keys have allowed origins");
        }
        for (const auto& o : *origins) {
            auto n = normalize_origin(o);
            if (!n) {
                fail(w + ".allowed_origins", "'" + o + "' is not an origin like https://example.com");
            }
            k.allowed_origins.push_back(*n);
        }
    }
    if (auto v = get_bool(t, "auto_inject_turn", w)) {
        k.auto_inject_turn = *v;
    }
    return k;
}

app_config parse_app(const toml::table& t, const std::string& w) {
    check_known(t, w,
                {"id", "keys", "max_concurrent_connections", "max_messages_per_period",
                 "period_seconds", "period_anchor", "overages_enabled", "rate_limit_per_second",
                 "rate_limit_burst", "suspended", "max_token_lifetime", "plan_name", "turn"});
    app_config a;
    a.id = get_string(t, "id", w);
    if (a.id.empty() || a.id.size() > 128) {
        fail(w + ".id", "must be 1-128 characters");
    }
    for (char c : a.id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
            fail(w + ".id", "may use letters, digits, '_', '-' and '.'");
        }
    }
    constexpr std::int64_t big = std::int64_t{1} << 53;
    a.max_concurrent_connections = get_int(t, "max_concurrent_connections", w, 0, big);
    a.max_messages_per_period = get_int(t, "max_messages_per_period", w, 0, big);
    if (auto v = get_int(t, "period_seconds", w, 1, big)) {
        a.period_seconds = *v;
    }
    if (auto v = get_int(t, "period_anchor", w, 0, big)) {
        a.period_anchor = *v;
    }
    if (auto v = get_bool(t, "overages_enabled", w)) {
        a.overages_enabled = *v;
    }
    if (auto v = get_number(t, "rate_limit_per_second", w, 0)) {
        a.rate_limit_per_second = *v;
    }
    if (auto v = get_number(t, "rate_limit_burst", w, 1)) {
        a.rate_limit_burst = *v;
    }
    if (auto v = get_bool(t, "suspended", w)) {
        a.suspended = *v;
    }
    if (auto v = get_int(t, "max_token_lifetime", w, 1, big)) {
        a.max_token_lifetime = *v;
    }
    if (t.contains("plan_name")) {
        a.plan_name = get_string(t, "plan_name", w);
    }
    if (const toml::node* n = t.get("turn")) {
        const toml::table* tt = n->as_table();
        if (tt == nullptr) {
            fail(w + ".turn", "must be a table");
        }
        const std::string tw = w + ".turn";
        check_known(*tt, tw, {"secret", "urls", "ttl"});
        turn_config turn;
        turn.secret = get_string(*tt, "secret", tw);
        if (turn.secret.empty()) {
            fail(tw + ".secret", "must not be empty");
        }
        auto urls = get_strings(*tt, "urls", tw);
        if (!urls || urls->empty()) {
            fail(tw + ".urls", "required: a non-empty array of stun:/turn: URLs");
        }
        if (urls->size() > 16) {
            fail(tw + ".urls", "at most 16 URLs");
        }
        for (const auto& u : *urls) {
            check_turn_url(u, tw + ".urls");
        }
        turn.urls = *urls;
        if (auto v = get_int(*tt, "ttl", tw, 1, 10 * 365 * 86400)) {
            turn.ttl = *v;
        }
        a.turn = std::move(turn);
    }
    if (const toml::node* n = t.get("keys")) {
        const toml::array* arr = n->as_array();
        if (arr == nullptr) {
            fail(w + ".keys", "must be an array of tables ([[apps.keys]])");
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::table* kt = (*arr)[i].as_table();
            std::string kw = w + ".keys[" + std::to_string(i) + "]";
            if (kt == nullptr) {
                fail(kw, "must be a table");
            }
            a.keys.push_back(parse_key(*kt, kw));
        }
    }
    return a;
}

// Builds the key index and checks uniqueness; called once the apps vector is final.
void index_keys(config& c) {
    std::set<std::string> app_ids;
    for (std::uint32_t ai = 0; ai < c.apps.size(); ++ai) {
        auto& app = c.apps[ai];
        if (!app_ids.insert(app.id).second) {
            fail("apps", "duplicate app id '" + app.id + "'");
        }
        for (auto& k : app.keys) {
            k.app_index = ai;
            if (!c.keys.emplace(k.id, &k).second) {
                fail("apps", "duplicate key id '" + k.id + "' (key ids are unique across apps)");
            }
        }
    }
}

void apply_env(config& c) {
    auto env = [](const char* name) -> std::optional<std::string> {
        const char* v = std::getenv(name);
        if (v == nullptr || *v == '\0') {
            return std::nullopt;
        }
        return std::string(v);
    };
    // Each PARLEY_<OPTION> overrides [server] <option>; the value is parsed as TOML.
    static constexpr std::string_view options[] = {
        "listen", "threads", "max_message_size", "envelope_headroom", "outbound_buffer_limit",
        "max_subscriptions", "ping_interval", "idle_timeout", "drain_window",
        "going_away_retry_ms", "connect_rate_per_ip", "connect_burst_per_ip", "rest_rate_per_key",
        "rest_burst_per_key", "trusted_proxies",
        "web_root", "log_level", "tls_cert", "tls_key"};
    toml::table overrides;
    for (std::string_view o : options) {
        std::string name = "PARLEY_";
        for (char ch : o) {
            name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
        }
        auto v = env(name.c_str());
        if (!v) {
            continue;
        }
        // Try the value as a TOML value first (numbers, arrays), else as a plain string.
        try {
            toml::table one = toml::parse("v = " + *v);
            overrides.insert_or_assign(o, *one.get("v"));
        } catch (const toml::parse_error&) {
            overrides.insert_or_assign(o, *v);
        }
    }
    if (!overrides.empty()) {
        try {
            parse_server(overrides, c.server);
        } catch (const config_error& e) {
            throw config_error(std::string("environment PARLEY_*: ") + e.what());
        }
    }
}

}  // namespace

namespace {

std::shared_ptr<config> parse_mutable(std::string_view toml_text, std::string_view origin) {
    toml::table root;
    try {
        root = toml::parse(toml_text, origin);
    } catch (const toml::parse_error& e) {
        std::ostringstream msg;
        msg << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
            << e.description();
        throw config_error(msg.str());
    }
    auto c = std::make_shared<config>();
    check_known(root, "", {"server", "engine", "apps"});
    if (const toml::node* n = root.get("engine")) {
        if (!n->is_table()) {
            fail("engine", "must be a table");
        }
        parse_engine(*n->as_table(), c->engine);
    }
    if (const toml::node* n = root.get("server")) {
        if (!n->is_table()) {
            fail("server", "must be a table");
        }
        parse_server(*n->as_table(), c->server);
    }
    if (const toml::node* n = root.get("apps")) {
        const toml::array* arr = n->as_array();
        if (arr == nullptr) {
            fail("apps", "must be an array of tables ([[apps]])");
        }
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::table* at = (*arr)[i].as_table();
            std::string w = "apps[" + std::to_string(i) + "]";
            if (at == nullptr) {
                fail(w, "must be a table");
            }
            c->apps.push_back(parse_app(*at, w));
        }
    }
    index_keys(*c);
    return c;
}

}  // namespace

config_ptr parse(std::string_view toml_text, std::string_view origin) {
    return parse_mutable(toml_text, origin);
}

std::shared_ptr<config> load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw config_error(path + ": cannot open the configuration file");
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    auto c = parse_mutable(ss.str(), path);
    apply_env(*c);
    return c;
}

std::shared_ptr<config> embedded_default() {
    auto c = std::make_shared<config>();
    c->embedded_default = true;
    app_config app;
    app.id = "dev";
    key_config key;
    key.type = key_type::publishable;
    key.id = "pk_live_" + random_key_part();
    key.channels.push_back(*proto::pattern::compile("**"));
    key.actions = action_all;
    app.keys.push_back(std::move(key));
    c->apps.push_back(std::move(app));
    index_keys(*c);
    apply_env(*c);
    return c;
}

void set_listen(server_config& s, const std::string& text) { parse_listen(text, s, "listen"); }

std::string random_key_part(std::size_t n) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string out;
    out.reserve(n);
    while (out.size() < n) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1) {
            throw config_error("cannot read random bytes for a key");
        }
        for (unsigned char b : buf) {
            if (b < 248 && out.size() < n) {  // 248 = 4 * 62: keeps the choice uniform
                out.push_back(alphabet[b % 62]);
            }
        }
    }
    return out;
}

std::optional<std::string> normalize_origin(std::string_view origin) {
    auto sep = origin.find("://");
    if (sep == std::string_view::npos || sep == 0) {
        return std::nullopt;
    }
    std::string scheme(origin.substr(0, sep));
    for (auto& ch : scheme) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    std::string_view rest = origin.substr(sep + 3);
    if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
        return std::nullopt;
    }
    std::string host;
    std::string port;
    if (rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos) {
            return std::nullopt;
        }
        host = std::string(rest.substr(0, close + 1));
        std::string_view after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return std::nullopt;
            }
            port = std::string(after.substr(1));
        }
    } else {
        auto colon = rest.rfind(':');
        host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = std::string(rest.substr(colon + 1));
        }
    }
    if (host.empty()) {
        return std::nullopt;
    }
    for (auto& ch : host) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    if (!port.empty() && !std::all_of(port.begin(), port.end(), ::isdigit)) {
        return std::nullopt;
    }
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) {
        port.clear();
    }
    return port.empty() ? scheme + "://" + host : scheme + "://" + host + ":" + port;
}

}  // namespace parley::config
