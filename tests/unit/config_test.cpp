// config: parsing of a complete TOML file, defaults, and load-time errors that name the option
// (PROTOCOL.md sections 1, 16 and 20).
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"

namespace config = parley::config;

namespace {

const char* const kFull = R"(
[server]
listen = "0.0.0.0:9000"
threads = 4
max_message_size = 32768
envelope_headroom = 2048
outbound_buffer_limit = 8388608
max_subscriptions = 50
ping_interval = 15
idle_timeout = 40.5
drain_window = 2
going_away_retry_ms = 2500
connect_rate_per_ip = 2.5
connect_burst_per_ip = 10
trusted_proxies = ["10.0.0.1", "10.0.0.0/8", "::1", "fd00::/64"]
rest_rate_per_key = 20
rest_burst_per_key = 40
web_root = "/srv/web"
log_level = "debug"
tls_cert = "/etc/parley/cert.pem"
tls_key = "/etc/parley/key.pem"

[[apps]]
id = "app_abc"
max_concurrent_connections = 1000
max_messages_per_period = 5000000
period_seconds = 86400
period_anchor = 1714435200
overages_enabled = true
rate_limit_per_second = 50
rate_limit_burst = 75
suspended = false
max_token_lifetime = 7200
plan_name = "pro"

  [apps.turn]
  secret = "parley-turn-secret"
  urls = ["stun:turn.example.com:3478", "turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349", "stuns:turn.example.com:5349"]
  ttl = 3600

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_abc"
  channels = ["room-*", "app_abc/**"]
  allowed_origins = ["HTTPS://Example.com:443", "http://localhost:3000"]
  auto_inject_turn = false

  [[apps.keys]]
  type = "publishable"
  id = "pk_live_send"
  channels = ["**"]
  actions = ["subscribe", "send"]

  [[apps.keys]]
  type = "secret"
  id = "sk_id_abc"
  secret = "sk_secret_abc"
  channels = ["**"]

[[apps]]
id = "app_two"
suspended = true

  [[apps.keys]]
  type = "secret"
  id = "sk_id_two"
  secret = "sk_secret_two"
  channels = ["a\\*b", "c\\\\d/*"]
  actions = ["publish"]
)";

// Parses `text`, expecting a config_error whose message contains every `needle`.
void expect_error(const std::string& text, std::initializer_list<std::string_view> needles) {
    SCOPED_TRACE(text);
    try {
        config::parse(text, "test.toml");
        ADD_FAILURE() << "accepted";
    } catch (const config::config_error& e) {
        std::string msg = e.what();
        for (auto n : needles) {
            EXPECT_NE(msg.find(n), std::string::npos) << "message: " << msg << "\nmissing: " << n;
        }
    }
}

// A minimal app with one key, with `key_extra` appended to the key table and `app_extra` to the
// app table.
std::string app(std::string_view key_extra = "", std::string_view app_extra = "",
                std::string_view key_type = "publishable", std::string_view key_id = "pk_live_x") {
    std::string s = "[[apps]]\nid = \"a1\"\n";
    s += app_extra;
    s += "\n[[apps.keys]]\ntype = \"" + std::string(key_type) + "\"\nid = \"" + std::string(key_id) +
         "\"\n";
    if (key_type == "secret") s += "secret = \"sk_secret_x\"\n";
    if (key_extra.find("channels") == std::string_view::npos) s += "channels = [\"**\"]\n";
    s += key_extra;
    s += "\n";
    return s;
}

}  // namespace

TEST(config, parses_a_full_file) {
    config::config_ptr c = config::parse(kFull, "full.toml");
    ASSERT_NE(c, nullptr);
    const auto& s = c->server;
    EXPECT_EQ(s.listen_host, "0.0.0.0");
    EXPECT_EQ(s.listen_port, 9000);
    EXPECT_EQ(s.threads, 4u);
    EXPECT_EQ(s.max_message_size, 32768u);
    EXPECT_EQ(s.envelope_headroom, 2048u);
    EXPECT_EQ(c->max_inbound_message(), 32768u + 2048u);
    EXPECT_EQ(s.outbound_buffer_limit, 8388608u);
    EXPECT_EQ(s.max_subscriptions, 50u);
    EXPECT_EQ(s.ping_interval.count(), 15000);
    EXPECT_EQ(s.idle_timeout.count(), 40500);
    EXPECT_EQ(s.drain_window.count(), 2000);
    EXPECT_EQ(s.going_away_retry_ms, 2500);
    EXPECT_DOUBLE_EQ(s.connect_rate_per_ip, 2.5);
    EXPECT_DOUBLE_EQ(s.connect_burst_per_ip, 10);
    EXPECT_EQ(s.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "10.0.0.0/8", "::1", "fd00::/64"}));
    EXPECT_DOUBLE_EQ(s.rest_rate_per_key, 20);
    EXPECT_DOUBLE_EQ(s.rest_burst_per_key, 40);
    EXPECT_EQ(s.web_root, "/srv/web");
    EXPECT_EQ(s.log_level, "debug");
    EXPECT_EQ(s.tls_cert, "/etc/parley/cert.pem");
    EXPECT_EQ(s.tls_key, "/etc/parley/key.pem");
    EXPECT_FALSE(c->embedded_default);

    ASSERT_EQ(c->apps.size(), 2u);
    const auto& a = c->apps[0];
    EXPECT_EQ(a.id, "app_abc");
    EXPECT_EQ(a.max_concurrent_connections, 1000);
    EXPECT_EQ(a.max_messages_per_period, 5000000);
    EXPECT_EQ(a.period_seconds, 86400);
    EXPECT_EQ(a.period_anchor, 1714435200);
    EXPECT_TRUE(a.overages_enabled);
    EXPECT_DOUBLE_EQ(a.rate_limit_per_second, 50);
    EXPECT_DOUBLE_EQ(a.rate_limit_burst, 75);
    EXPECT_FALSE(a.suspended);
    EXPECT_EQ(a.max_token_lifetime, 7200);
    EXPECT_EQ(a.plan_name, "pro");
    ASSERT_TRUE(a.turn.has_value());
    EXPECT_EQ(a.turn->secret, "parley-turn-secret");
    EXPECT_EQ(a.turn->urls.size(), 4u);
    EXPECT_EQ(a.turn->urls[1], "turn:turn.example.com:3478?transport=udp");
    EXPECT_EQ(a.turn->ttl, 3600);

    ASSERT_EQ(a.keys.size(), 3u);
    const auto& pk = a.keys[0];
    EXPECT_EQ(pk.type, config::key_type::publishable);
    EXPECT_EQ(pk.id, "pk_live_abc");
    ASSERT_EQ(pk.channels.size(), 2u);
    EXPECT_EQ(pk.channels[0].text(), "room-*");
    EXPECT_TRUE(pk.channels[1].matches("app_abc/x/y"));
    // Publishable default actions: subscribe, publish, presence (not send).
    EXPECT_EQ(pk.actions, config::action_subscribe | config::action_publish | config::action_presence);
    EXPECT_EQ(pk.allowed_origins, (std::vector<std::string>{"https://example.com", "http://localhost:3000"}));
    EXPECT_FALSE(pk.auto_inject_turn);
    EXPECT_EQ(pk.app_index, 0u);
    EXPECT_EQ(a.keys[1].actions, config::action_subscribe | config::action_send);
    EXPECT_TRUE(a.keys[1].auto_inject_turn);
    EXPECT_TRUE(a.keys[1].allowed_origins.empty());
    const auto& sk = a.keys[2];
    EXPECT_EQ(sk.type, config::key_type::secret);
    EXPECT_EQ(sk.secret, "sk_secret_abc");
    EXPECT_EQ(sk.actions, config::action_all);  // secret default: all four

    const auto& b = c->apps[1];
    EXPECT_TRUE(b.suspended);
    EXPECT_FALSE(b.turn.has_value());
    EXPECT_FALSE(b.plan_name.has_value());
    EXPECT_FALSE(b.max_concurrent_connections.has_value());
    EXPECT_FALSE(b.max_messages_per_period.has_value());
    EXPECT_EQ(b.keys[0].app_index, 1u);
    EXPECT_EQ(b.keys[0].actions, config::action_publish);
    EXPECT_EQ(b.keys[0].channels[0].literal_prefix(), "a*b");
    EXPECT_TRUE(b.keys[0].channels[1].matches("c\\d/1"));

    // Key index across apps.
    EXPECT_EQ(c->keys.size(), 4u);
    EXPECT_EQ(c->find_key("pk_live_abc"), &a.keys[0]);
    EXPECT_EQ(c->find_key("sk_id_two"), &b.keys[0]);
    EXPECT_EQ(c->find_key("sk_secret_abc"), nullptr);
    EXPECT_EQ(c->find_key("nope"), nullptr);
}

TEST(config, defaults) {
    config::config_ptr c = config::parse("", "empty.toml");
    const auto& s = c->server;
    EXPECT_EQ(s.max_message_size, 65536u);
    EXPECT_EQ(s.envelope_headroom, 4096u);
    EXPECT_EQ(c->max_inbound_message(), 69632u);
    EXPECT_EQ(s.outbound_buffer_limit, 4u << 20);
    EXPECT_EQ(s.max_subscriptions, 100u);
    EXPECT_EQ(s.ping_interval.count(), 30000);
    EXPECT_EQ(s.idle_timeout.count(), 75000);
    EXPECT_EQ(s.drain_window.count(), 5000);
    EXPECT_EQ(s.going_away_retry_ms, 1000);
    EXPECT_DOUBLE_EQ(s.connect_rate_per_ip, 1);
    EXPECT_DOUBLE_EQ(s.connect_burst_per_ip, 60);
    EXPECT_DOUBLE_EQ(s.rest_rate_per_key, 50);
    EXPECT_DOUBLE_EQ(s.rest_burst_per_key, 100);
    EXPECT_TRUE(c->apps.empty());

    config::config_ptr d = config::parse(app(), "a.toml");
    const auto& a = d->apps[0];
    EXPECT_EQ(a.period_seconds, 2592000);
    EXPECT_FALSE(a.overages_enabled);
    EXPECT_DOUBLE_EQ(a.rate_limit_per_second, 100);
    EXPECT_DOUBLE_EQ(a.rate_limit_burst, 200);
    EXPECT_FALSE(a.suspended);
    EXPECT_EQ(a.max_token_lifetime, 86400);
    EXPECT_TRUE(a.keys[0].auto_inject_turn);
}

TEST(config, turn_ttl_default) {
    auto c = config::parse(app("", "[apps.turn]\nsecret = \"s\"\nurls = [\"stun:x\"]\n"), "t.toml");
    ASSERT_TRUE(c->apps[0].turn.has_value());
    EXPECT_EQ(c->apps[0].turn->ttl, 86400);
}

TEST(config, listen_forms) {
    config::server_config s;
    config::set_listen(s, "[::1]:8443");
    EXPECT_EQ(s.listen_host, "::1");
    EXPECT_EQ(s.listen_port, 8443);
    config::set_listen(s, ":7000");
    EXPECT_EQ(s.listen_port, 7000);
    config::set_listen(s, "127.0.0.1:0");
    EXPECT_EQ(s.listen_host, "127.0.0.1");
    EXPECT_EQ(s.listen_port, 0);
    EXPECT_THROW(config::set_listen(s, "localhost"), config::config_error);
    EXPECT_THROW(config::set_listen(s, "h:65536"), config::config_error);
    EXPECT_THROW(config::set_listen(s, "h:80x"), config::config_error);
    expect_error("[server]\nlisten = \"nope\"\n", {"server.listen"});
}

TEST(config, embedded_default) {
    auto c = config::embedded_default();
    EXPECT_TRUE(c->embedded_default);
    ASSERT_EQ(c->apps.size(), 1u);
    ASSERT_EQ(c->apps[0].keys.size(), 1u);
    const auto& k = c->apps[0].keys[0];
    EXPECT_EQ(k.id.rfind("pk_live_", 0), 0u);
    EXPECT_GE(k.id.size(), 8u + 32u);
    EXPECT_EQ(c->find_key(k.id), &k);
}

// ---- errors name the option ------------------------------------------------------------------

TEST(config, toml_syntax_error) {
    expect_error("[server\nthreads = 1\n", {"test.toml"});
    expect_error("x = = 1\n", {"test.toml"});
}

TEST(config, unknown_options) {
    expect_error("bogus = 1\n", {"bogus", "unknown option"});
    expect_error("[server]\nthread = 4\n", {"server.thread", "unknown option"});
    expect_error("[server]\nmaxMessageSize = 4\n", {"server.maxMessageSize", "unknown option"});
    expect_error(app("", "max_connections = 5\n"), {"apps[0].max_connections", "unknown option"});
    expect_error(app("allowed_origin = []\n"), {"apps[0].keys[0].allowed_origin", "unknown option"});
    expect_error(app("", "[apps.turn]\nsecret = \"s\"\nurls = [\"stun:x\"]\nttl_seconds = 5\n"),
                 {"apps[0].turn.ttl_seconds", "unknown option"});
}

TEST(config, wrong_types) {
    expect_error("[server]\nthreads = \"4\"\n", {"server.threads", "integer"});
    expect_error("[server]\nmax_message_size = 1.5\n", {"server.max_message_size", "integer"});
    expect_error("[server]\nlisten = 8080\n", {"server.listen", "string"});
    expect_error("[server]\ntrusted_proxies = \"10.0.0.1\"\n", {"server.trusted_proxies", "array"});
    expect_error("[server]\ntrusted_proxies = [1]\n", {"server.trusted_proxies[0]", "string"});
    expect_error("[server]\nping_interval = \"30s\"\n", {"server.ping_interval"});
    expect_error("[server]\ntrusted_proxies = [\"proxy.local\"]\n", {"server.trusted_proxies", "proxy.local"});
    expect_error("[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", {"server.trusted_proxies"});
    expect_error("server = 5\n", {"server", "table"});
    expect_error("apps = 5\n", {"apps"});
    expect_error(app("", "suspended = \"yes\"\n"), {"apps[0].suspended", "true or false"});
    expect_error(app("", "overages_enabled = 1\n"), {"apps[0].overages_enabled"});
    expect_error(app("", "rate_limit_per_second = \"fast\"\n"), {"apps[0].rate_limit_per_second"});
    expect_error(app("", "max_token_lifetime = 1.5\n"), {"apps[0].max_token_lifetime", "integer"});
    expect_error(app("", "plan_name = 3\n"), {"apps[0].plan_name", "string"});
    expect_error(app("", "turn = 5\n"), {"apps[0].turn", "table"});
    expect_error(app("channels = \"room-*\"\n"), {"apps[0].keys[0].channels", "array"});
    expect_error(app("auto_inject_turn = \"no\"\n"), {"apps[0].keys[0].auto_inject_turn"});
    expect_error(app("actions = \"send\"\n"), {"apps[0].keys[0].actions", "array"});
}

TEST(config, out_of_range_values) {
    expect_error("[server]\nmax_subscriptions = 0\n", {"server.max_subscriptions", "between"});
    expect_error("[server]\nthreads = -1\n", {"server.threads"});
    expect_error("[server]\nmax_message_size = 0\n", {"server.max_message_size"});
    expect_error("[server]\noutbound_buffer_limit = 1024\n", {"server.outbound_buffer_limit"});
    expect_error("[server]\ngoing_away_retry_ms = 0\n", {"server.going_away_retry_ms"});
    expect_error("[server]\nlog_level = \"verbose\"\n", {"server.log_level"});
    expect_error(app("", "max_token_lifetime = 0\n"), {"apps[0].max_token_lifetime"});
    expect_error(app("", "period_seconds = 0\n"), {"apps[0].period_seconds"});
    expect_error(app("", "rate_limit_burst = 0.5\n"), {"apps[0].rate_limit_burst"});
}

TEST(config, outbound_buffer_limit_is_at_least_twice_the_largest_server_frame) {
    // Section 9.5: the limit MUST be at least twice the largest server frame (1 MiB).
    expect_error("[server]\noutbound_buffer_limit = 2097151\n", {"server.outbound_buffer_limit"});
    EXPECT_EQ(config::parse("[server]\noutbound_buffer_limit = 2097152\n", "t")->server.outbound_buffer_limit,
              2097152u);
}

TEST(config, bad_patterns) {
    expect_error(app("channels = [\"ok\", \"a***\"]\n"), {"apps[0].keys[0].channels[1]", "a***"});
    expect_error(app("channels = [\"a\\\\b\"]\n"), {"apps[0].keys[0].channels[0]"});
    expect_error(app("channels = [\"\"]\n"), {"apps[0].keys[0].channels[0]"});
    expect_error(app("channels = [\"" + std::string(257, 'a') + "\"]\n"),
                 {"apps[0].keys[0].channels[0]"});
    expect_error(app("channels = [\"a\\u0001\"]\n"), {"apps[0].keys[0].channels[0]"});
    // channels is required.
    std::string no_channels = "[[apps]]\nid = \"a1\"\n[[apps.keys]]\ntype = \"publishable\"\nid = \"pk_live_x\"\n";
    expect_error(no_channels, {"apps[0].keys[0].channels"});
}

TEST(config, bad_actions) {
    expect_error(app("actions = [\"subscribe\", \"admin\"]\n"), {"apps[0].keys[0].actions", "admin"});
    expect_error(app("actions = [\"Subscribe\"]\n"), {"apps[0].keys[0].actions", "Subscribe"});
    expect_error(app("actions = [1]\n"), {"apps[0].keys[0].actions[0]"});
}

TEST(config, duplicate_ids) {
    std::string two = app() + "[[apps]]\nid = \"a2\"\n[[apps.keys]]\ntype = \"publishable\"\nid = \"pk_live_x\"\nchannels = [\"**\"]\n";
    expect_error(two, {"duplicate key id", "pk_live_x"});
    std::string same_app = app() + "[[apps.keys]]\ntype = \"publishable\"\nid = \"pk_live_x\"\nchannels = [\"**\"]\n";
    expect_error(same_app, {"duplicate key id", "pk_live_x"});
    std::string dup_app = app() + "[[apps]]\nid = \"a1\"\n";
    expect_error(dup_app, {"duplicate app id", "a1"});
}

TEST(config, bad_key_prefixes) {
    expect_error(app("", "", "publishable", "sk_id_x"), {"apps[0].keys[0].id", "pk_live_"});
    expect_error(app("", "", "publishable", "pk_test_x"), {"apps[0].keys[0].id", "pk_live_"});
    expect_error(app("", "", "publishable", "pk_live_"), {"apps[0].keys[0].id"});
    expect_error(app("", "", "secret", "pk_live_x"), {"apps[0].keys[0].id", "sk_id_"});
    expect_error(app("", "", "secret", "sk_secret_x"), {"apps[0].keys[0].id", "sk_id_"});
    expect_error(app("", "", "publishable", "pk_live_a b"), {"apps[0].keys[0].id"});
    expect_error(app("", "", "publishable", "pk_live_a:b"), {"apps[0].keys[0].id"});
    expect_error(app("", "", "token", "pk_live_x"), {"apps[0].keys[0].type"});
    // Secrets.
    std::string bad_secret = "[[apps]]\nid = \"a1\"\n[[apps.keys]]\ntype = \"secret\"\nid = \"sk_id_x\"\nsecret = \"hunter2\"\nchannels = [\"**\"]\n";
    expect_error(bad_secret, {"apps[0].keys[0].secret", "sk_secret_"});
    std::string bare_secret = "[[apps]]\nid = \"a1\"\n[[apps.keys]]\ntype = \"secret\"\nid = \"sk_id_x\"\nsecret = \"sk_secret_\"\nchannels = [\"**\"]\n";
    expect_error(bare_secret, {"apps[0].keys[0].secret"});
    std::string no_secret = "[[apps]]\nid = \"a1\"\n[[apps.keys]]\ntype = \"secret\"\nid = \"sk_id_x\"\nchannels = [\"**\"]\n";
    expect_error(no_secret, {"apps[0].keys[0].secret"});
    expect_error(app("secret = \"sk_secret_x\"\n"), {"apps[0].keys[0].secret"});
}

TEST(config, allowed_origins) {
    expect_error(app("allowed_origins = [\"example.com\"]\n"), {"apps[0].keys[0].allowed_origins"});
    expect_error(app("allowed_origins = [\"https://example.com/\"]\n"), {"apps[0].keys[0].allowed_origins"});
    expect_error(app("allowed_origins = [\"https://a.example\"]\n", "", "secret", "sk_id_x"),
                 {"apps[0].keys[0].allowed_origins"});
}

TEST(config, turn_urls) {
    auto turn = [](std::string_view urls) {
        return app("", "[apps.turn]\nsecret = \"s\"\nurls = " + std::string(urls) + "\n");
    };
    for (const char* ok : {R"(["stun:a"])", R"(["stuns:a"])", R"(["turn:a:3478?transport=tcp"])",
                           R"(["turns:a:5349"])"}) {
        EXPECT_NO_THROW(config::parse(turn(ok), "t")) << ok;
    }
    expect_error(turn(R"(["http://turn.example.com"])"), {"apps[0].turn.urls"});
    expect_error(turn(R"(["stun:a", "turnx:b"])"), {"apps[0].turn.urls"});
    expect_error(turn(R"(["STUN:a"])"), {"apps[0].turn.urls"});
    expect_error(turn(R"([""])"), {"apps[0].turn.urls"});
    expect_error(turn("[]"), {"apps[0].turn.urls"});
    expect_error(turn(R"("stun:a")"), {"apps[0].turn.urls"});
    expect_error(turn("[\"stun:" + std::string(508, 'a') + "\"]"), {"apps[0].turn.urls"});  // 513
    EXPECT_NO_THROW(config::parse(turn("[\"stun:" + std::string(507, 'a') + "\"]"), "t"));  // 512
    std::string many = "[";
    for (int i = 0; i < 17; ++i) many += (i ? ",\"stun:a" : "\"stun:a") + std::to_string(i) + "\"";
    expect_error(turn(many + "]"), {"apps[0].turn.urls"});
    expect_error(app("", "[apps.turn]\nurls = [\"stun:a\"]\n"), {"apps[0].turn.secret"});
    expect_error(app("", "[apps.turn]\nsecret = \"\"\nurls = [\"stun:a\"]\n"), {"apps[0].turn.secret"});
    expect_error(app("", "[apps.turn]\nsecret = \"s\"\n"), {"apps[0].turn.urls"});
    expect_error(app("", "[apps.turn]\nsecret = \"s\"\nurls = [\"stun:a\"]\nttl = 0\n"),
                 {"apps[0].turn.ttl"});
}

TEST(config, tls_cert_and_key_together) {
    expect_error("[server]\ntls_cert = \"/c.pem\"\n", {"tls_cert", "tls_key"});
    expect_error("[server]\ntls_key = \"/k.pem\"\n", {"tls_cert", "tls_key"});
    EXPECT_NO_THROW(config::parse("[server]\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n", "t"));
}

TEST(config, app_ids) {
    expect_error("[[apps]]\nid = \"\"\n", {"apps[0].id"});
    expect_error("[[apps]]\nid = \"a b\"\n", {"apps[0].id"});
    expect_error("[[apps]]\nid = \"" + std::string(129, 'a') + "\"\n", {"apps[0].id"});
    expect_error("[[apps]]\nmax_token_lifetime = 5\n", {"apps[0].id"});
}
