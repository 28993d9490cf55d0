// Parley's configuration: server-wide settings, apps and their keys. Loaded from TOML
// (--config FILE), overridden by PARLEY_* environment variables, or the embedded default.
// A loaded config is immutable and shared by every thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "proto/channel.hpp"

namespace parley::server {
class app_runtime;
}

namespace parley::config {

// Thrown for any invalid configuration; the message names the option.
class config_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The four actions of PROTOCOL.md section 1.2, as bits.
enum action : std::uint8_t {
    action_subscribe = 1,
    action_publish = 2,
    action_presence = 4,
    action_send = 8,
    action_all = 15,
};

enum class key_type : std::uint8_t { publishable, secret };

struct key_config {
    key_type type = key_type::publishable;
    std::string id;
    std::string secret;                    // secret keys only
    std::vector<proto::pattern> channels;  // channelPatterns
    std::uint8_t actions = 0;
    std::vector<std::string> allowed_origins;  // normalised origins; empty = any
    bool auto_inject_turn = true;              // publishable keys only
    std::uint32_t app_index = 0;               // index into config::apps
};

struct turn_config {
    std::string secret;
    std::vector<std::string> urls;
    std::int64_t ttl = 86400;
};

struct app_config {
    std::string id;
    // Assigned by the server, stable across reloads: the app's number in channel and peer keys,
    // and its counters.
    std::uint32_t number = 0;
    server::app_runtime* runtime = nullptr;
    std::optional<std::int64_t> max_concurrent_connections;
    std::optional<std::int64_t> max_messages_per_period;
    std::int64_t period_seconds = 2592000;
    std::int64_t period_anchor = 0;  // unix seconds
    bool overages_enabled = false;
    double rate_limit_per_second = 100;
    double rate_limit_burst = 200;
    bool suspended = false;
    std::int64_t max_token_lifetime = 86400;
    std::optional<std::string> plan_name;
    std::optional<turn_config> turn;
    std::vector<key_config> keys;
};

struct server_config {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 8080;
    unsigned threads = 0;  // 0 = number of cores
    std::size_t max_message_size = 65536;
    std::size_t envelope_headroom = 4096;
    std::size_t outbound_buffer_limit = 4u << 20;
    std::size_t max_subscriptions = 100;
    std::chrono::milliseconds ping_interval{30000};
    std::chrono::milliseconds idle_timeout{75000};
    std::chrono::milliseconds drain_window{5000};
    std::int64_t going_away_retry_ms = 1000;
    double connect_rate_per_ip = 1;
    double connect_burst_per_ip = 60;
    double rest_rate_per_key = 50;
    double rest_burst_per_key = 100;
    std::vector<std::string> trusted_proxies;
    std::string web_root;  // empty = no static pages
    std::string log_level = "info";
    std::string tls_cert;
    std::string tls_key;
};

// [engine]: where cross-connection state lives (DESIGN.md "engine").
struct engine_config {
    enum class kind : std::uint8_t { memory, redis };
    kind type = kind::memory;
    std::string url = "redis://127.0.0.1:6379";
    std::string prefix = "parley";       // namespace of every Redis key and channel
    std::string node_id;                 // empty: a random id each start
    double heartbeat_interval = 2;       // seconds between this node's heartbeats
    double node_timeout = 10;            // a node silent this long is dead; its peers leave
};

struct config {
    config() = default;
    // `keys` points into `apps`: a config is never copied.
    config(const config&) = delete;
    config& operator=(const config&) = delete;

    server_config server;
    engine_config engine;
    std::vector<app_config> apps;
    // Every key by id (ids are unique across the server).
    std::unordered_map<std::string, const key_config*> keys;
    // True when this is the embedded development default (no --config).
    bool embedded_default = false;

    const key_config* find_key(std::string_view id) const {
        auto it = keys.find(std::string(id));
        return it == keys.end() ? nullptr : it->second;
    }

    // The largest client message accepted before close 1009.
    std::size_t max_inbound_message() const {
        return server.max_message_size + server.envelope_headroom;
    }
};

using config_ptr = std::shared_ptr<const config>;

// Parses a TOML document. `origin` names it in error messages.
config_ptr parse(std::string_view toml_text, std::string_view origin);

// Loads a TOML file, then applies PARLEY_* environment overrides. The result may still be
// adjusted (command-line flags) before it is shared as a config_ptr.
std::shared_ptr<config> load_file(const std::string& path);

// The embedded default: app "dev" with one publishable key allowed everything (a fresh random
// key each start), then PARLEY_* environment overrides.
std::shared_ptr<config> embedded_default();

// Parses a listen address ("HOST:PORT", "[V6]:PORT", ":PORT") into s.listen_host/listen_port.
void set_listen(server_config& s, const std::string& text);

// Generates the random part of a key: `n` characters of [A-Za-z0-9] (PROTOCOL.md section 1.2).
std::string random_key_part(std::size_t n = 32);

// Normalises an origin for comparison (section 3.2): lower-case scheme and host, default port
// dropped. nullopt for anything that is not scheme://host[:port].
std::optional<std::string> normalize_origin(std::string_view origin);

}  // namespace parley::config
