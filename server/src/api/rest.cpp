// REST control plane; see rest.hpp. Every handler follows the check order of section 17.1:
// route -> authentication -> REST rate limit -> body size -> validation -> reserved channel ->
// action -> channel scope -> quota -> operation.
#include "api/rest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <chrono>

#include <spdlog/spdlog.h>

#include "api/rest_body.hpp"
#include "auth/jwt.hpp"
#include "hub/hub.hpp"
#include "proto/channel.hpp"
#include "proto/json_scan.hpp"
#include "server/app_runtime.hpp"
#include "shard/shard.hpp"
#include "util/json_writer.hpp"

namespace parley::api {

namespace bhttp = boost::beast::http;
using http::json_error;
using http::json_response;

namespace {

using session_ptr = std::shared_ptr<http::http_session>;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string sha256(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<char*>(out), len);
}

// Section 17.1: `Bearer <sk_id>:<sk_secret>`; the secret compared in constant time.
const config::key_config* authenticate(const config::config& cfg, std::string_view header) {
    constexpr std::string_view scheme = "bearer ";
    if (header.size() <= scheme.size() || !boost::beast::iequals(header.substr(0, scheme.size()), scheme)) {
        return nullptr;
    }
    std::string_view cred = header.substr(scheme.size());
    while (!cred.empty() && cred.front() == ' ') {
        cred.remove_prefix(1);
    }
    auto colon = cred.find(':');
    if (colon == std::string_view::npos) {
        return nullptr;
    }
    const config::key_config* key = cfg.find_key(cred.substr(0, colon));
    // Hash both sides so the comparison takes the same time whatever the lengths.
    std::string given = sha256(cred.substr(colon + 1));
    std::string expected = sha256(key != nullptr ? std::string_view(key->secret) : std::string_view("\\x01invalid"));
    bool match = CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
    if (key == nullptr || key->type != config::key_type::secret || !match) {
        return nullptr;
    }
    return key;
}

enum class route { tokens, channel_peers, channel_publish, peer_delete, usage, unknown };
constexpr const char* route_names[] = {"tokens", "channel_peers", "channel_publish", "peer_delete", "usage", "unknown"};

class request_context {
public:
    request_context(session_ptr session, const http::request_t& req, route r)
        : session_(std::move(session)), version_(req.version()), keep_alive_(req.keep_alive()), route_(r) {}

    void respond(http::response_t res) {
        count(res.result_int());
        session_->write(std::move(res));
    }
    void error(unsigned status, std::string_view code, std::string_view message) {
        respond(json_error(status, code, message, version_, keep_alive_));
    }
    void ok(std::string body) { respond(json_response(200, std::move(body), version_, keep_alive_)); }
    shard::shard& shard() { return session_->shard_ref(); }
    const session_ptr& session() const { return session_; }
    unsigned version() const { return version_; }
    bool keep_alive() const { return keep_alive_; }

private:
    void count(unsigned status) {
        shard().srv().global_stats().count_rest(route_names[static_cast<int>(route_)], status);
    }
    session_ptr session_;
    unsigned version_;
    bool keep_alive_;
    route route_;
};
using ctx_ptr = std::shared_ptr<request_context>;

std::int64_t period_of(const config::app_config& app, std::int64_t now) {
    return server::app_runtime::period_index(now, app.period_anchor, app.period_seconds);
}

// ---- POST /v1/tokens (section 17.2)
void mint_token(const ctx_ptr& ctx, const config::key_config& key, const std::string& body_text) {
    const config::app_config& app = ctx->shard().cfg().apps[key.app_index];
    auto parsed = parse_token_request(body_text, app, key);
    if (auto* e = std::get_if<rest_error>(&parsed)) {
        ctx->error(e->status, e->code, e->message);
        return;
    }
    const token_request& req = std::get<token_request>(parsed);
    const std::int64_t now = unix_now();
    std::string out = "{\"token\":";
    json::append_string(out, auth::sign_token(key.id, key.secret, token_payload(req, now)));
    out += ",\"expiresAt\":" + std::to_string(now + req.lifetime) + "}";
    ctx->ok(std::move(out));
}

// Validates a channel path parameter: 400 for a bad name, 400 channel_reserved, then the action
// and scope checks (403). Returns false after responding.
bool check_channel(const ctx_ptr& ctx, const config::key_config& key, const std::string& channel,
                   std::uint8_t action, const char* action_name) {
    if (!proto::valid_channel_name(channel)) {
        ctx->error(400, "invalid_request", "invalid channel name in the path");
        return false;
    }
    if (proto::is_reserved(channel)) {
        ctx->error(400, "channel_reserved", "channel is reserved");
        return false;
    }
    if ((key.actions & action) == 0) {
        ctx->error(403, "action_not_permitted", std::string(action_name) + " is not permitted for this key");
        return false;
    }
    bool allowed = std::any_of(key.channels.begin(), key.channels.end(),
                               [&](const proto::pattern& p) { return p.matches(channel); });
    if (!allowed) {
        ctx->error(403, "channel_not_authorized", "channel not authorized: " + channel);
        return false;
    }
    return true;
}

// ---- POST /v1/channels/:id/publish (section 17.4)
void rest_publish(const ctx_ptr& ctx, const config::key_config& key, const std::string& channel,
                  const std::string& body_text) {
    shard::shard& s = ctx->shard();
    const config::config& cfg = s.cfg();
    const config::app_config& app = cfg.apps[key.app_index];
    if (!proto::valid_channel_name(channel)) {
        ctx->error(400, "invalid_request", "invalid channel name in the path");
        return;
    }
    auto parsed = parse_publish_request(body_text, cfg.server.max_message_size);
    if (auto* e = std::get_if<rest_error>(&parsed)) {
        ctx->error(e->status, e->code, e->message);
        return;
    }
    const publish_request& body = std::get<publish_request>(parsed);
    if (!check_channel(ctx, key, channel, config::action_publish, "publish")) {
        return;
    }
    const std::int64_t total = app.runtime->count_message(s.index(), period_of(app, unix_now()));
    if (app.max_messages_per_period && !app.overages_enabled && total > *app.max_messages_per_period) {
        ctx->error(429, "over_message_quota", "message quota of this period used up");
        return;
    }
    std::string from_json;
    json::append_string(from_json, body.from);
    auto msg = std::make_shared<shard::publish_msg>();
    msg->app = app.number;
    msg->key = hub::channel_key(app.number, channel);
    msg->plain = s.encoder().message(channel, from_json, body.data, {});
    msg->with_meta = body.peer_metadata_json.empty()
                         ? msg->plain
                         : s.encoder().message(channel, from_json, body.data, body.peer_metadata_json);
    hub::publish_counted(s, std::move(msg), [ctx, channel](std::int64_t recipients) {
        std::string out = "{\"channel\":";
        json::append_string(out, channel);
        out += ",\"recipients\":" + std::to_string(recipients) + "}";
        ctx->ok(std::move(out));
    });
}

// ---- GET /v1/usage (section 17.6)
void usage(const ctx_ptr& ctx, const config::key_config& key) {
    const config::app_config& app = ctx->shard().cfg().apps[key.app_index];
    const std::int64_t now = unix_now();
    const std::int64_t period = period_of(app, now);
    const std::int64_t start = app.period_anchor + period * app.period_seconds;
    const std::int64_t used = app.runtime->messages_in(period) + app.runtime->remote_messages(period);
    const std::int64_t peak = app.runtime->peak(period);
    auto opt = [](const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : std::string("null"); };
    std::string out = "{\"appId\":";
    json::append_string(out, app.id);
    out += ",\"periodStartUnix\":" + std::to_string(start);
    out += ",\"periodEndUnix\":" + std::to_string(start + app.period_seconds);
    out += ",\"concurrentNow\":" + std::to_string(app.runtime->total_connections());
    out += ",\"peakConcurrent\":" + std::to_string(peak);
    out += ",\"messagesUsed\":" + std::to_string(used);
    out += ",\"overageMessages\":" +
           std::to_string(app.max_messages_per_period && app.overages_enabled
                              ? std::max<std::int64_t>(0, used - *app.max_messages_per_period)
                              : 0);
    out += ",\"overageConnections\":" +
           std::to_string(app.max_concurrent_connections && app.overages_enabled
                              ? std::max<std::int64_t>(0, peak - *app.max_concurrent_connections)
                              : 0);
    out += ",\"plan\":{\"name\":";
    if (app.plan_name) {
        json::append_string(out, *app.plan_name);
    } else {
        out += "null";
    }
    out += ",\"maxConcurrentConnections\":" + opt(app.max_concurrent_connections);
    out += ",\"maxMessagesPerPeriod\":" + opt(app.max_messages_per_period);
    const char* overages = app.overages_enabled ? "true" : "false";
    out += std::string(",\"overagesAllowed\":") + overages + ",\"overagesEnabled\":" + overages + "}}";
    ctx->ok(std::move(out));
}

}  // namespace

bool is_trusted(const boost::asio::ip::address& ip, const std::vector<std::string>& trusted) {
    for (const auto& t : trusted) {
        boost::system::error_code ec;
        if (t.find('/') == std::string::npos) {
            auto a = boost::asio::ip::make_address(t, ec);
            if (!ec && a == ip) {
                return true;
            }
            continue;
        }
        if (ip.is_v4()) {
            auto net = boost::asio::ip::make_network_v4(t, ec);
            if (!ec) {
                auto hosts = net.canonical();
                auto mask = net.netmask().to_uint();
                if ((ip.to_v4().to_uint() & mask) == hosts.address().to_uint()) {
                    return true;
                }
            }
        } else {
            auto net = boost::asio::ip::make_network_v6(t, ec);
            if (!ec) {
                auto prefix = net.prefix_length();
                auto a = ip.to_v6().to_bytes();
                auto n = net.network().to_bytes();
                bool same = true;
                for (unsigned bit = 0; bit < prefix && same; ++bit) {
                    unsigned byte = bit / 8;
                    unsigned m = 0x80u >> (bit % 8);
                    same = (a[byte] & m) == (n[byte] & m);
                }
                if (same) {
                    return true;
                }
            }
        }
    }
    return false;
}

std::string client_address(shard::shard& s, const boost::asio::ip::address& peer,
                           std::string_view forwarded_for) {
    const auto& trusted = s.cfg().server.trusted_proxies;
    if (trusted.empty() || !is_trusted(peer, trusted)) {
        return peer.to_string();
    }
    // Walk X-Forwarded-For from the right; the first address that is not a trusted proxy is the
    // client. When every hop is trusted, the leftmost one is.
    std::string result = peer.to_string();
    std::size_t end = forwarded_for.size();
    while (end > 0) {
        std::size_t comma = forwarded_for.rfind(',', end - 1);
        std::size_t start = comma == std::string_view::npos ? 0 : comma + 1;
        std::string_view hop = forwarded_for.substr(start, end - start);
        while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
        while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
        boost::system::error_code ec;
        auto addr = boost::asio::ip::make_address(std::string(hop), ec);
        if (ec) {
            break;  // garbage: trust nothing further left
        }
        result = addr.to_string();
        if (!is_trusted(addr, trusted)) {
            break;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        end = comma;
    }
    return result;
}

std::optional<unsigned> connect_rate_check(shard::shard& s, const std::string& ip) {
    const auto& cfg = s.cfg().server;
    return s.srv().connect_limiter().take(ip, cfg.connect_rate_per_ip, cfg.connect_burst_per_ip);
}

void handle(std::shared_ptr<http::http_session> session, http::request_t& req, std::string_view path) {
    // Route (404, 405).
    std::vector<std::string_view> seg;
    for (std::size_t pos = 1; pos <= path.size();) {
        std::size_t slash = path.find('/', pos);
        seg.push_back(path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
        if (slash == std::string_view::npos) {
            break;
        }
        pos = slash + 1;
    }
    route r = route::unknown;
    bhttp::verb want = bhttp::verb::get;
    std::string_view param;
    if (seg.size() == 2 && seg[1] == "tokens") {
        r = route::tokens;
        want = bhttp::verb::post;
    } else if (seg.size() == 4 && seg[1] == "channels" && seg[3] == "peers" && !seg[2].empty()) {
        r = route::channel_peers;
        param = seg[2];
    } else if (seg.size() == 4 && seg[1] == "channels" && seg[3] == "publish" && !seg[2].empty()) {
        r = route::channel_publish;
        want = bhttp::verb::post;
        param = seg[2];
    } else if (seg.size() == 3 && seg[1] == "peers" && !seg[2].empty()) {
        r = route::peer_delete;
        want = bhttp::verb::delete_;
        param = seg[2];
    } else if (seg.size() == 2 && seg[1] == "usage") {
        r = route::usage;
    }
    auto ctx = std::make_shared<request_context>(session, req, r);
    if (r == route::unknown) {
        ctx->error(404, "not_found", "unknown route");
        return;
    }
    if (req.method() != want) {
        auto res = json_error(405, "method_not_allowed", "method not allowed", req.version(), req.keep_alive());
        res.set(bhttp::field::allow, std::string(bhttp::to_string(want)));
        ctx->respond(std::move(res));
        return;
    }
    // Authentication (401): one identical answer for every failure.
    shard::shard& s = session->shard_ref();
    const config::key_config* key = authenticate(s.cfg(), req[bhttp::field::authorization]);
    if (key == nullptr) {
        auto res = json_error(401, "unauthorized", "invalid credentials", req.version(), req.keep_alive());
        res.set(bhttp::field::www_authenticate, "Bearer");
        ctx->respond(std::move(res));
        return;
    }
    // REST rate limit per secret key (429).
    const auto& sc = s.cfg().server;
    if (auto retry = s.srv().rest_limiter().take(key->id, sc.rest_rate_per_key, sc.rest_burst_per_key)) {
        auto res = json_error(429, "rate_limited", "too many requests for this key", req.version(), req.keep_alive());
        res.set(bhttp::field::retry_after, std::to_string(*retry));
        ctx->respond(std::move(res));
        return;
    }
    std::optional<std::string> decoded;
    if (!param.empty()) {
        decoded = auth::percent_decode(param);  // one path segment, decoded once
        if (!decoded) {
            ctx->error(400, "invalid_request", "malformed percent-encoding in the path");
            return;
        }
    }
    // The key may be revoked by a reload while the body is read: keep the id, look it up again.
    std::string key_id = key->id;
    session->read_body([ctx, r, key_id, param = decoded.value_or("")](http::request_t& full) {
        shard::shard& sh = ctx->shard();
        const config::key_config* k = sh.cfg().find_key(key_id);
        if (k == nullptr) {
            auto res = json_error(401, "unauthorized", "invalid credentials", ctx->version(), ctx->keep_alive());
            res.set(bhttp::field::www_authenticate, "Bearer");
            ctx->respond(std::move(res));
            return;
        }
        const config::app_config& app = sh.cfg().apps[k->app_index];
        switch (r) {
            case route::tokens:
                mint_token(ctx, *k, full.body());
                return;
            case route::channel_publish:
                rest_publish(ctx, *k, param, full.body());
                return;
            case route::channel_peers: {
                if (!check_channel(ctx, *k, param, config::action_presence, "presence")) {
                    return;
                }
                hub::list_peers(sh, hub::channel_key(app.number, param), [ctx, param](std::string entries) {
                    std::string out = "{\"channel\":";
                    json::append_string(out, param);
                    out += ",\"peers\":" + entries + "}";
                    ctx->ok(std::move(out));
                });
                return;
            }
            case route::peer_delete: {
                if (!proto::valid_peer_id(param)) {
                    ctx->error(400, "invalid_request", "invalid peerId in the path");
                    return;
                }
                hub::kick(sh, app.number, param, [ctx, param](std::int64_t closed) {
                    spdlog::info("REST: disconnected peer {} ({} connection(s))", param, closed);
                    std::string out = "{\"peerId\":";
                    json::append_string(out, param);
                    out += ",\"closed\":" + std::to_string(closed) + "}";
                    ctx->ok(std::move(out));
                });
                return;
            }
            case route::usage:
                usage(ctx, *k);
                return;
            case route::unknown:
                return;
        }
    });
}

}  // namespace parley::api
