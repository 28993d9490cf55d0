// Client connection: admission, frame handling, outbound writes and closing. See connection.hpp.
//
// Input is read with non-blocking recv into the shard's shared buffer, so an idle connection
// holds no read buffer; only bytes of an incomplete frame (or frames waiting while an operation
// is in flight) are kept in in_. Output is written with one gathered sendmsg per flush.
#include "shard/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

#include <cerrno>
#include <cstring>

#include <openssl/err.h>
#include <chrono>
#include <cmath>
#include <utility>

#include <spdlog/spdlog.h>

#include "hub/hub.hpp"
#include "server/app_runtime.hpp"
#include "shard/shard.hpp"
#include "turn/turn.hpp"

namespace parley::shard {

namespace {

// Reads per wakeup before yielding to other connections of the shard (fairness).
constexpr int max_reads_per_wakeup = 16;
// The allocator of the socket waits. An idle connection always has a read wait pending, and
// Asio's default (a per-thread cache of recycled blocks) would hand it whatever larger block an
// earlier operation of the thread left, such as the HTTP session's read (about 250 bytes held
// by every idle connection); this one allocates the wait's exact size.
template <class T>
struct exact_allocator {
    using value_type = T;
    exact_allocator() = default;
    template <class U>
    exact_allocator(const exact_allocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
    template <class U>
    bool operator==(const exact_allocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const exact_allocator<U>&) const noexcept { return false; }
};

// Frames gathered into one sendmsg.
constexpr std::size_t max_iov = 1024;
// Admission must finish within 5 s of the upgrade (section 3).
constexpr std::chrono::milliseconds admission_timeout{5000};
// After a close frame, wait this long for the peer's (section 12).
constexpr std::chrono::milliseconds close_timeout{5000};
// Unsent bytes above which a pong is held back rather than queued (see the ping case of
// consume()). A 6-byte ping asks for a 2-byte pong that costs a ~60-byte frame object: counted
// at 2 bytes against outbound_buffer_limit, a ping flood from a client that never reads would
// pin ~30 times the limit in memory.
constexpr std::size_t pong_backlog_bytes = 16 * 1024;

std::uint32_t ticks(std::chrono::milliseconds d) {
    return static_cast<std::uint32_t>((d.count() + shard::tick.count() - 1) / shard::tick.count());
}

std::int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

const net::frame_ptr& ping_frame() {
    static const net::frame_ptr f = [] {
        net::frame_ptr p(net::frame::create(net::opcode::ping, {}));
        p->make_immortal();
        return p;
    }();
    return f;
}

metrics::rx_type rx_of(proto::frame_type t) {
    switch (t) {
        case proto::frame_type::subscribe: return metrics::rx_type::subscribe;
        case proto::frame_type::unsubscribe: return metrics::rx_type::unsubscribe;
        case proto::frame_type::publish: return metrics::rx_type::publish;
        case proto::frame_type::send: return metrics::rx_type::send;
        case proto::frame_type::ping: return metrics::rx_type::ping;
    }
    return metrics::rx_type::invalid;
}

}  // namespace

connection::connection(shard& s, socket_t socket, SSL* ssl, std::string pending, upgrade_info info)
    : shard_(s),
      socket_(std::move(socket)),
      ssl_(ssl),
      upgrade_(std::make_unique<upgrade_info>(std::move(info))),
      in_(std::move(pending)),
      reader_(s.cfg().max_inbound_message()) {}

connection::~connection() {
    shard_.wheel().cancel(*this);
    if (ssl_ != nullptr) {
        SSL_free(ssl_);
    }
}

bool connection::on_own_thread() { return shard_.io().get_executor().running_in_this_thread(); }

void connection::release() {
    assert(on_own_thread());
    if (--refs_ == 0) {
        delete this;
    }
}

bool connection::receives_presence() const { return action_allowed(config::action_presence); }

// ---------------------------------------------------------------- admission

void connection::start() {
    // Admission can complete inline (the peer's home is this shard), and the input that follows
    // can find the peer gone and finish the connection: keep it alive until start() returns.
    ref guard(this);
    id_ = shard_.add(this);
    retain();  // the shard's reference, released by finish()
    boost::system::error_code ec;
    socket_.native_non_blocking(true, ec);
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    last_in_tick_ = last_out_tick_ = shard_.now_tick();
    deadline_tick_ = shard_.now_tick() + ticks(admission_timeout);
    schedule_timer();
    if (shard_.srv().draining()) {
        // Section 15: upgrades during a drain are closed at once, without welcome.
        close(1001, "going_away");
    } else {
        admit();
    }
    if (!busy_) {
        // Refused at once: still read, to see the client's close frame.
        consume_pending();
        if (!busy_ && !finished_) {
            on_readable();
        }
    }
}

void connection::reject(std::uint16_t code, std::string_view reason) {
    spdlog::debug("connection {:x} refused: {} {}", id_, code, reason);
    close(code, reason);
}

void connection::admit() {
    const config::config& cfg = shard_.cfg();
    auto result = auth::authenticate(cfg, upgrade_->query, upgrade_->origin, unix_now_ms());
    if (auto* f = std::get_if<auth::failure>(&result)) {
        reject(f->code, f->reason);
        return;
    }
    auto& p = std::get<auth::principal>(result);
    const config::app_config& app = cfg.apps[p.key->app_index];
    if (app.suspended) {
        reject(4012, "account_suspended");
        return;
    }
    // Section 3.4: the cap counts this connection from here until teardown.
    const std::int64_t n = app.runtime->add_connection();
    counted_ = true;
    app_runtime_ = app.runtime;
    if (app.max_concurrent_connections && n > *app.max_concurrent_connections && !app.overages_enabled) {
        reject(4010, "over_connection_limit");
        return;
    }
    app.runtime->admitted(n, current_period(app));
    key_ = p.key;
    scope_ = std::move(p.scope);
    expires_at_ = p.expires_at;
    metadata_ = std::move(p.metadata);
    who_ = hub::make_identity(app.number, p.peer_id.empty() ? auth::random_uuid() : p.peer_id,
                              p.peer_metadata);
    // Section 16: fresh TURN credentials unless the credential brought its own iceServers.
    const bool inject = p.key->type == config::key_type::secret || p.key->auto_inject_turn;
    if (app.turn && inject && !p.metadata_has_ice_servers) {
        metadata_ = turn::with_ice_servers(
            metadata_, turn::ice_servers_json(*app.turn, who_->peer_id, unix_now_ms() / 1000));
    }
    tokens_ = static_cast<float>(app.rate_limit_burst);
    bucket_ms_ = static_cast<std::uint32_t>(shard_.now_ms());
    if (expires_at_) {
        // Section 13.1: close 250 ms before exp.
        std::int64_t left_ms = *expires_at_ * 1000 - 250 - unix_now_ms();
        expiry_tick_ = shard_.now_tick() + ticks(std::chrono::milliseconds(std::max<std::int64_t>(left_ms, 0)));
    }
    // The peer is reachable by directs before it learns it is welcome.
    begin_op();
    parked_ = true;  // input starts once the welcome is queued
    hub::register_peer(shard_, id_, who_, [self = ref(this)] {
        connection* c = self.c;
        c->registered_ = true;
        if (c->state_ == state::admitting) {
            c->welcome();
        }
        c->end_op();
    });
}

void connection::welcome() {
    state_ = state::open;
    welcomed_ = true;
    const config::config& cfg = shard_.cfg();
    auto f = shard_.encoder().welcome(who_->peer_id_json, expires_at_, unix_now_ms() / 1000,
                                      cfg.server.max_message_size, metadata_);
    std::string().swap(metadata_);
    enqueue(f, metrics::tx_type::welcome);
    auto& stats = shard_.stats();
    stats.connections.add();
    stats.connections_admitted.add();
    stats.handshake_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - upgrade_->started).count());
    upgrade_.reset();
    schedule_timer();
}

// ---------------------------------------------------------------- operations in flight

void connection::end_op() {
    busy_ = false;
    if (teardown_pending_) {
        teardown_pending_ = false;
        teardown();
    }
    if (!parked_ || finished_) {
        return;
    }
    // Input was waiting for this operation: handle what was received meanwhile, then read on.
    parked_ = false;
    consume_pending();
    if (!busy_ && !finished_ && !reading_) {
        on_readable();
    }
}

// ---------------------------------------------------------------- input

void connection::wait_readable() {
    if (reading_ || finished_) {
        return;
    }
    reading_ = true;
    socket_.async_wait(socket_t::wait_read, boost::asio::bind_allocator(exact_allocator<void>{},
        [self = ref(this)](const boost::system::error_code& ec) {
            connection* c = self.c;
            c->reading_ = false;
            if (!ec) {
                c->on_readable();
            }
        }));
}

long connection::transport_read(char* buf, std::size_t size) {
    for (;;) {
        if (ssl_ == nullptr) {
            ssize_t n = ::recv(socket_.native_handle(), buf, size, 0);
            if (n > 0) {
                return n;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                wait_readable();
                return 0;
            }
            abort();  // 0: the peer closed the TCP connection; otherwise a socket error
            return -1;
        }
        ERR_clear_error();
        int n = SSL_read(ssl_, buf, static_cast<int>(size));
        if (n > 0) {
            return n;
        }
        switch (SSL_get_error(ssl_, n)) {
            case SSL_ERROR_WANT_READ:
                wait_readable();
                return 0;
            case SSL_ERROR_WANT_WRITE:
                read_wants_write_ = true;
                wait_writable();
                return 0;
            default:
                abort();  // close_notify, a TLS error or the TCP connection gone
                return -1;
        }
    }
}

void connection::on_readable() {
    if (write_wants_read_) {
        write_wants_read_ = false;
        flush();
        if (finished_) {
            return;
        }
    }
    std::vector<char>& buf = shard_.read_buffer();
    for (int round = 0; round < max_reads_per_wakeup; ++round) {
        if (busy_) {
            parked_ = true;
            return;
        }
        if (finished_) {
            return;
        }
        long n = transport_read(buf.data(), buf.size());
        if (n <= 0) {
            return;
        }
        shard_.stats().bytes_received.add(n);
        last_in_tick_ = shard_.now_tick();
        if (in_.empty()) {
            consume(buf.data(), static_cast<std::size_t>(n));
        } else {
            in_.append(buf.data(), static_cast<std::size_t>(n));
            consume_pending();
        }
    }
    // Budget used up: let other connections run, then continue.
    boost::asio::post(shard_.io(), [self = ref(this)] {
        if (!self.c->reading_) {
            self.c->on_readable();
        }
    });
}

void connection::consume_pending() {
    if (in_.empty()) {
        return;
    }
    // consume() appends any rest to in_, so work on a detached copy of the bytes.
    std::string pending;
    pending.swap(in_);
    consume(pending.data(), pending.size());
}

void connection::consume(char* buf, std::size_t len) {
    std::size_t pos = 0;
    while (pos < len && !finished_) {
        if (busy_) {
            parked_ = true;
            break;
        }
        if (input_dead_) {
            return;  // after a protocol error nothing more is parsed
        }
        std::size_t used = 0;
        auto ev = reader_.next(buf + pos, len - pos, used);
        pos += used;
        switch (ev.kind) {
            case net::ws_reader::event_kind::need_more:
                if (used == 0) {
                    goto stash;
                }
                break;
            case net::ws_reader::event_kind::text:
                handle_text(ev.payload);
                break;
            case net::ws_reader::event_kind::ping:
                if (state_ == state::open) {
                    auto pong = shard_.encoder().control(net::opcode::pong, ev.payload);
                    if (writing_ || out_.bytes() > pong_backlog_bytes) {
                        // The client is not reading what it is sent. RFC 6455 section 5.5.3
                        // allows answering only the most recent ping: hold one pong back
                        // (flush() queues it) instead of one frame object per ping.
                        pending_pong_ = std::move(pong);
                    } else {
                        enqueue(pong, metrics::tx_type::count);
                    }
                }
                break;
            case net::ws_reader::event_kind::pong:
                break;
            case net::ws_reader::event_kind::close:
                on_client_close(ev.code);
                break;
            case net::ws_reader::event_kind::fail:
                spdlog::info("connection {:x}: closing {} ({})", id_, ev.code, ev.reason);
                input_dead_ = true;
                close(ev.code, ev.reason);
                close_after_flush_ = true;  // the stream is unusable: no close handshake
                return;
        }
    }
stash:
    if (pos < len && !finished_) {
        in_.append(buf + pos, len - pos);
    }
    // The last frame may have started an operation: input resumes when it ends (end_op).
    if (busy_) {
        parked_ = true;
    }
    if (in_.empty() && in_.capacity() > 0) {
        std::string().swap(in_);  // idle connections hold no input buffer
    }
}

void connection::handle_text(std::string_view text) {
    if (state_ != state::open) {
        return;  // section 12: data frames after our close frame are ignored
    }
    proto::client_frame f;
    proto::frame_error err;
    const bool ok = shard_.decoder().decode(text, f, err);
    // Section 5.2: every frame except a valid ping costs a token, malformed ones included.
    if (!ok || f.type != proto::frame_type::ping) {
        const config::app_config& app = shard_.cfg().apps[key_->app_index];
        auto now = static_cast<std::uint32_t>(shard_.now_ms());
        tokens_ = std::min<float>(static_cast<float>(app.rate_limit_burst),
                                  tokens_ + static_cast<float>((now - bucket_ms_) * app.rate_limit_per_second / 1000.0));
        bucket_ms_ = now;
        if (tokens_ < 1.0f) {
            spdlog::info("connection {:x} ({}): rate limited, closing 4011", id_, who_->peer_id);
            close(4011, "rate_limited");
            return;
        }
        tokens_ -= 1.0f;
    }
    if (!ok) {
        shard_.stats().frames_received[static_cast<std::size_t>(metrics::rx_type::invalid)].add();
        reply_error(err.code, err.message, err.request_id_json);
        return;
    }
    shard_.stats().frames_received[static_cast<std::size_t>(rx_of(f.type))].add();
    handle_frame(f);
}

void connection::handle_frame(const proto::client_frame& f) {
    switch (f.type) {
        case proto::frame_type::ping:
            enqueue(proto::encoder::pong(), metrics::tx_type::pong);
            return;
        case proto::frame_type::subscribe:
            on_subscribe(f);
            return;
        case proto::frame_type::unsubscribe:
            on_unsubscribe(f);
            return;
        case proto::frame_type::publish:
            on_publish(f);
            return;
        case proto::frame_type::send:
            on_send(f);
            return;
    }
}

void connection::rebind(const config::config& next) {
    if (key_ == nullptr) {
        return;
    }
    const config::key_config* k = next.find_key(key_->id);
    if (k == nullptr || k->type != key_->type || next.apps[k->app_index].number != who_->app) {
        key_ = nullptr;  // never dereference the old configuration again
        spdlog::info("connection {:x} ({}): key revoked, closing 4001", id_, who_->peer_id);
        close(4001, "key_revoked");
        return;
    }
    key_ = k;
    if (next.apps[k->app_index].suspended) {
        close(4012, "account_suspended");
    }
}

// ---------------------------------------------------------------- scope

bool connection::action_allowed(std::uint8_t action) const {
    if (key_ == nullptr || (key_->actions & action) == 0) {
        return false;
    }
    return !scope_ || !scope_->actions || (*scope_->actions & action) != 0;
}

bool connection::channel_allowed(std::string_view channel) const {
    auto any_match = [&](const std::vector<proto::pattern>& list) {
        for (const auto& p : list) {
            if (p.matches(channel)) {
                return true;
            }
        }
        return false;
    };
    if (!any_match(key_->channels)) {
        return false;
    }
    return !scope_ || !scope_->channels || any_match(*scope_->channels);
}

bool connection::pattern_allowed(const proto::pattern& p) const {
    auto any_covers = [&](const std::vector<proto::pattern>& list) {
        for (const auto& a : list) {
            if (a.covers(p)) {
                return true;
            }
        }
        return false;
    };
    if (!any_covers(key_->channels)) {
        return false;
    }
    return !scope_ || !scope_->channels || any_covers(*scope_->channels);
}

std::int64_t connection::current_period(const config::app_config& app) {
    return server::app_runtime::period_index(unix_now_ms() / 1000, app.period_anchor, app.period_seconds);
}

bool connection::quota_allows() {
    const config::app_config& app = shard_.cfg().apps[key_->app_index];
    std::int64_t total = app.runtime->count_message(shard_.index(), current_period(app));
    return !app.max_messages_per_period || app.overages_enabled || total <= *app.max_messages_per_period;
}

connection::subscription* connection::find_sub(std::string_view channel) {
    for (auto& s : subs_) {
        if (s.channel == channel) {
            return &s;
        }
    }
    return nullptr;
}

// ---------------------------------------------------------------- requests

void connection::on_subscribe(const proto::client_frame& f) {
    if (!action_allowed(config::action_subscribe)) {
        reply_error(error_code::action_not_permitted, "subscribe is not permitted", f.request_id_json);
        return;
    }
    if (f.is_pattern ? !pattern_allowed(*f.compiled) : !channel_allowed(f.channel)) {
        reply_error(error_code::channel_not_authorized,
                    "channel not authorized: " + std::string(f.channel), f.request_id_json);
        return;
    }
    subscription* sub = find_sub(f.channel);
    if (sub == nullptr && subs_.size() >= shard_.cfg().server.max_subscriptions) {
        reply_error(error_code::channel_limit_exceeded,
                    "subscription limit of " + std::to_string(shard_.cfg().server.max_subscriptions) +
                        " reached",
                    f.request_id_json);
        return;
    }
    const std::uint32_t app = who_->app;
    std::string rid(f.request_id_json);
    const bool ism = f.include_sender_metadata;

    if (sub != nullptr) {
        // A repeated subscribe: replace the flag, ack, and (exact) send a fresh snapshot.
        sub->sender_metadata = ism;
        if (sub->pattern) {
            shard_.local_pattern_update(app, this, sub->pattern.get(), ism);
            reply_ack(rid);
            return;
        }
        std::string key = hub::channel_key(app, f.channel);
        shard_.local_update(key, this, ism);
        if (!receives_presence()) {
            reply_ack(rid);
            return;
        }
        begin_op();
        hub::snapshot(shard_, who_, key, [self = ref(this), rid](std::vector<net::frame_ptr> snap) {
            connection* c = self.c;
            c->reply_ack(rid);
            for (auto& s : snap) {
                c->enqueue(s, metrics::tx_type::presence);
            }
            c->end_op();
        });
        return;
    }

    subscription s;
    s.channel = std::string(f.channel);
    s.sender_metadata = ism;
    if (f.is_pattern) {
        s.pattern = std::make_unique<proto::pattern>(*f.compiled);
    }
    subs_.push_back(std::move(s));
    shard_.stats().subscriptions.add();
    if (f.is_pattern) {
        const proto::pattern* p = subs_.back().pattern.get();
        // The ack waits until publishes from anywhere will consider this subscription: every
        // home shard knows this shard holds patterns of the app, and in a cluster the node's
        // Redis pattern subscription is confirmed.
        begin_op();
        auto follow = [self = ref(this), app, text = p->text(), rid] {
            hub::pattern_ref(self.c->shard_, app, text, +1, [self, rid] {
                self.c->reply_ack(rid);
                self.c->end_op();
            });
        };
        if (shard_.local_pattern_add(app, this, p, ism)) {
            hub::set_pattern_interest(shard_, app, true, follow);
        } else {
            follow();
        }
        return;
    }
    std::string key = hub::channel_key(app, f.channel);
    const bool presence = receives_presence();
    begin_op();
    hub::join(shard_, id_, who_, key, presence,
              [self = ref(this), rid, key, ism, presence](std::vector<net::frame_ptr> snap) {
                  connection* c = self.c;
                  // Now a local subscriber: publishes handled by the home after the join reach it.
                  c->shard_.local_add(key, c, ism, presence);
                  c->reply_ack(rid);
                  for (auto& f : snap) {
                      c->enqueue(f, metrics::tx_type::presence);
                  }
                  c->end_op();
              });
}

void connection::on_unsubscribe(const proto::client_frame& f) {
    std::string rid(f.request_id_json);
    auto it = std::find_if(subs_.begin(), subs_.end(),
                           [&](const subscription& s) { return s.channel == f.channel; });
    if (it == subs_.end()) {
        reply_ack(rid);
        return;
    }
    const std::uint32_t app = who_->app;
    shard_.stats().subscriptions.sub();
    if (it->pattern) {
        hub::pattern_ref(shard_, app, it->pattern->text(), -1);
        bool last = shard_.local_pattern_remove(app, this, it->pattern.get());
        subs_.erase(it);
        if (last) {
            hub::set_pattern_interest(shard_, app, false, {});
        }
        reply_ack(rid);
        return;
    }
    std::string key = hub::channel_key(app, f.channel);
    // No frame for this subscription is delivered from here on.
    shard_.local_remove(key, this);
    subs_.erase(it);
    begin_op();
    hub::leave(shard_, id_, who_, key, [self = ref(this), rid] {
        self.c->reply_ack(rid);
        self.c->end_op();
    });
}

void connection::on_publish(const proto::client_frame& f) {
    if (!action_allowed(config::action_publish)) {
        reply_error(error_code::action_not_permitted, "publish is not permitted", f.request_id_json);
        return;
    }
    if (!channel_allowed(f.channel)) {
        reply_error(error_code::channel_not_authorized,
                    "channel not authorized: " + std::string(f.channel), f.request_id_json);
        return;
    }
    if (!quota_allows()) {
        reply_error(error_code::over_message_quota, "message quota of this period used up", f.request_id_json);
        return;
    }
    proto::encoder& enc = shard_.encoder();
    auto msg = std::make_shared<publish_msg>();
    msg->app = who_->app;
    msg->key = hub::channel_key(who_->app, f.channel);
    msg->plain = enc.message(f.channel, who_->peer_id_json, f.data, {});
    msg->with_meta = who_->peer_metadata.empty()
                         ? msg->plain
                         : enc.message(f.channel, who_->peer_id_json, f.data, who_->peer_metadata);
    const std::int64_t now = steady_ns();
    msg->plain->set_stamp_ns(now);
    msg->with_meta->set_stamp_ns(now);
    msg->exclude = id_;
    std::string rid(f.request_id_json);
    begin_op();
    hub::publish(shard_, std::move(msg), [self = ref(this), rid] {
        if (!rid.empty()) {
            self.c->reply_ack(rid);
        }
        self.c->end_op();
    });
}

void connection::on_send(const proto::client_frame& f) {
    if (!action_allowed(config::action_send)) {
        reply_error(error_code::action_not_permitted, "send is not permitted", f.request_id_json);
        return;
    }
    if (!quota_allows()) {
        reply_error(error_code::over_message_quota, "message quota of this period used up", f.request_id_json);
        return;
    }
    net::frame_ptr frame = shard_.encoder().direct(who_->peer_id_json, f.data, who_->peer_metadata);
    std::string rid(f.request_id_json);
    std::string to(f.to);
    begin_op();
    hub::send(shard_, who_->app, to, std::move(frame), id_, [self = ref(this), rid, to](hub::send_result r) {
        connection* c = self.c;
        switch (r) {
            case hub::send_result::delivered:
                c->reply_ack(rid);
                break;
            case hub::send_result::peer_not_found:
                c->reply_error(error_code::peer_not_found, "peer not found: " + to, rid);
                break;
            case hub::send_result::backend_error:
                c->reply_error(error_code::backend_error, "the cluster is unreachable; retry later", rid);
                break;
        }
        c->end_op();
    });
}

void connection::reply_ack(std::string_view request_id_json) {
    if (request_id_json.empty()) {
        return;  // section 5.3: success without requestId produces no response
    }
    enqueue(shard_.encoder().ack(request_id_json), metrics::tx_type::ack);
}

void connection::reply_error(error_code code, std::string_view message,
                             std::string_view request_id_json) {
    shard_.stats().errors_sent[static_cast<std::size_t>(code)].add();
    spdlog::debug("connection {:x}: error {} ({})", id_, to_string(code), message);
    enqueue(shard_.encoder().error(code, message, request_id_json), metrics::tx_type::error);
}

// ---------------------------------------------------------------- output

void connection::enqueue(const net::frame_ptr& f, metrics::tx_type type) {
    if (enqueue_unreffed(f.get(), type)) {
        f->add_ref();
    }
}

bool connection::enqueue_unreffed(net::frame* f, metrics::tx_type type) {
    if (state_ == state::closing || state_ == state::closed || slow_) {
        return false;
    }
    if (!out_.push_unreffed(f, shard_.cfg().server.outbound_buffer_limit)) {
        // Section 9.5: a slow consumer. Close later: the caller may be iterating shard state.
        slow_ = true;
        shard_.stats().slow_consumer_closes.add();
        spdlog::info("connection {:x}: slow consumer ({} bytes queued), closing 1008", id_, out_.bytes());
        boost::asio::post(shard_.io(), [self = ref(this)] {
            self.c->slow_ = false;
            self.c->close(1008, "slow_consumer");
        });
        return false;
    }
    if (type != metrics::tx_type::count) {
        shard_.stats().frames_sent[static_cast<std::size_t>(type)].add();
    }
    if (!dirty_) {
        dirty_ = true;
        shard_.mark_dirty(this);
    }
    return true;
}

void connection::wait_writable() {
    if (writing_ || finished_) {
        return;
    }
    writing_ = true;
    socket_.async_wait(socket_t::wait_write, boost::asio::bind_allocator(exact_allocator<void>{},
        [self = ref(this)](const boost::system::error_code& ec) {
            connection* c = self.c;
            c->writing_ = false;
            if (ec) {
                return;
            }
            if (c->read_wants_write_) {
                c->read_wants_write_ = false;
                c->on_readable();
            }
            c->flush();
        }));
}

long connection::transport_write(bool& full) {
    full = false;
    if (ssl_ == nullptr) {
        iovec iov[max_iov];
        std::size_t n = out_.gather(iov, max_iov);
        std::size_t offered = 0;
        for (std::size_t i = 0; i < n; ++i) {
            offered += iov[i].iov_len;
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        for (;;) {
            ssize_t w = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
            if (w >= 0) {
                full = static_cast<std::size_t>(w) < offered;
                return w;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_writable();
                return 0;
            }
            abort();
            return -1;
        }
    }
    // TLS: one record's worth of queued bytes, copied together. A retry after WANT_* repeats
    // exactly the same bytes, which the queue still holds unchanged.
    std::vector<char>& scratch = shard_.write_scratch();
    std::size_t len = tls_retry_len_ != 0 ? tls_retry_len_ : std::min(out_.bytes(), scratch.size());
    iovec iov[max_iov];
    std::size_t n = out_.gather(iov, max_iov);
    std::size_t copied = 0;
    for (std::size_t i = 0; i < n && copied < len; ++i) {
        std::size_t take = std::min(iov[i].iov_len, len - copied);
        std::memcpy(scratch.data() + copied, iov[i].iov_base, take);
        copied += take;
    }
    len = copied;
    ERR_clear_error();
    int w = SSL_write(ssl_, scratch.data(), static_cast<int>(len));
    if (w > 0) {
        tls_retry_len_ = 0;
        return w;
    }
    switch (SSL_get_error(ssl_, w)) {
        case SSL_ERROR_WANT_WRITE:
            tls_retry_len_ = static_cast<std::uint32_t>(len);
            wait_writable();
            return 0;
        case SSL_ERROR_WANT_READ:
            tls_retry_len_ = static_cast<std::uint32_t>(len);
            write_wants_read_ = true;
            wait_readable();
            return 0;
        default:
            abort();
            return -1;
    }
}

void connection::flush() {
    dirty_ = false;
    if (writing_ || finished_) {
        return;
    }
    if (pending_pong_) {
        enqueue(std::exchange(pending_pong_, {}), metrics::tx_type::count);
    }
    while (!out_.empty()) {
        bool full = false;
        const bool measure = !out_.front_started() && out_.front()->stamp_ns() != 0;
        const std::int64_t stamp = measure ? out_.front()->stamp_ns() : 0;
        long w = transport_write(full);
        if (w <= 0) {
            return;  // waiting for the socket, or aborted
        }
        if (measure) {
            shard_.stats().publish_to_flush_seconds.observe(static_cast<double>(steady_ns() - stamp) / 1e9);
        }
        out_.consume(static_cast<std::size_t>(w));
        shard_.stats().bytes_sent.add(w);
        last_out_tick_ = shard_.now_tick();
        if (full) {
            wait_writable();  // the kernel's buffer is full
            return;
        }
    }
    if (close_after_flush_ && !shut_) {
        // Our close frame (and everything before it) is out: end our side, then wait for the
        // peer's FIN (bounded by the close deadline) so nothing is cut off by a reset.
        shut_ = true;
        if (ssl_ != nullptr) {
            ERR_clear_error();
            SSL_shutdown(ssl_);  // close_notify, best effort
        }
        ::shutdown(socket_.native_handle(), SHUT_WR);
        if (input_dead_) {
            abort();
            return;
        }
        if (!reading_ && !busy_) {
            on_readable();
        }
    }
}

// ---------------------------------------------------------------- closing

void connection::close(std::uint16_t code, std::string_view reason) {
    if (state_ == state::closing || state_ == state::closed) {
        return;
    }
    state_ = state::closing;
    close_code_ = code;
    teardown();
    if (code == 1008) {
        out_.drop_unstarted();
    }
    out_.push(shard_.encoder().close(code, reason), SIZE_MAX);
    deadline_tick_ = shard_.now_tick() + ticks(close_timeout);
    schedule_timer();
    if (!dirty_) {
        dirty_ = true;
        shard_.mark_dirty(this);
    }
}

void connection::on_client_close(std::uint16_t code) {
    if (state_ == state::closing) {
        // The peer answered our close frame: the handshake is complete.
        close_after_flush_ = true;
        if (!dirty_) {
            dirty_ = true;
            shard_.mark_dirty(this);
        }
        return;
    }
    // The client closes first: echo its code (section 12).
    state_ = state::closing;
    close_code_ = code == 1005 ? 1000 : code;
    teardown();
    out_.drop_unstarted();
    if (code == 1005) {
        out_.push(shard_.encoder().control(net::opcode::close, {}), SIZE_MAX);
    } else {
        out_.push(shard_.encoder().close(code, {}), SIZE_MAX);
    }
    close_after_flush_ = true;
    deadline_tick_ = shard_.now_tick() + ticks(close_timeout);
    schedule_timer();
    if (!dirty_) {
        dirty_ = true;
        shard_.mark_dirty(this);
    }
}

void connection::teardown() {
    if (torn_down_) {
        return;
    }
    if (busy_) {
        teardown_pending_ = true;  // after the operation in flight (section 10, rule 2)
        return;
    }
    torn_down_ = true;
    if (who_ != nullptr) {
        const std::uint32_t app = who_->app;
        for (auto& s : subs_) {
            if (s.pattern) {
                hub::pattern_ref(shard_, app, s.pattern->text(), -1);
                if (shard_.local_pattern_remove(app, this, s.pattern.get())) {
                    hub::set_pattern_interest(shard_, app, false, {});
                }
            } else {
                std::string key = hub::channel_key(app, s.channel);
                shard_.local_remove(key, this);
                hub::leave(shard_, id_, who_, key, {});
            }
        }
        shard_.stats().subscriptions.sub(static_cast<std::int64_t>(subs_.size()));
        subs_.clear();
        subs_.shrink_to_fit();
        if (registered_) {
            registered_ = false;
            hub::unregister_peer(shard_, id_, who_);
        }
    }
    if (welcomed_) {
        shard_.stats().connections.sub();
    }
    if (counted_) {
        counted_ = false;
        app_runtime_->remove_connection();
    }
}

void connection::abort() {
    if (finished_) {
        return;
    }
    if (state_ != state::closing) {
        close_code_ = 0;  // dropped without a close handshake
    }
    state_ = state::closing;
    teardown();
    finish();
}

void connection::finish() {
    if (finished_) {
        return;
    }
    finished_ = true;
    state_ = state::closed;
    shard_.stats().closed_by_code[metrics::close_code_index(close_code_)].add();
    shard_.wheel().cancel(*this);
    boost::system::error_code ec;
    socket_.close(ec);  // cancels pending waits; their handlers release their references
    out_.clear();
    std::string().swap(in_);
    shard_.remove(id_);
    release();  // the shard's reference
}

// ---------------------------------------------------------------- timers

void connection::schedule_timer() {
    if (finished_) {
        return;
    }
    const auto& s = shard_.cfg().server;
    std::uint32_t due;
    switch (state_) {
        case state::admitting:
        case state::closing:
            due = deadline_tick_;
            break;
        default:
            due = std::min(last_in_tick_ + ticks(s.idle_timeout), last_out_tick_ + ticks(s.ping_interval));
            if (expiry_tick_ != 0) {
                due = std::min(due, expiry_tick_);
            }
            if (draining_) {
                due = std::min(due, deadline_tick_);
            }
            break;
    }
    shard_.wheel().schedule(*this, due);
}

void connection::on_timer() {
    const std::uint32_t now = shard_.now_tick();
    const auto& s = shard_.cfg().server;
    switch (state_) {
        case state::admitting:
            if (now >= deadline_tick_) {
                spdlog::warn("connection {:x}: admission did not finish in time, closing 1011", id_);
                close(1011, "internal_error");
                return;
            }
            break;
        case state::closing:
            if (now >= deadline_tick_) {
                abort();  // the peer never completed the close handshake
                return;
            }
            break;
        case state::open:
            if (expiry_tick_ != 0 && now >= expiry_tick_) {
                close(4002, "token_expired");
                return;
            }
            if (draining_ && now >= deadline_tick_) {
                close(1001, "going_away");
                return;
            }
            if (now - last_in_tick_ >= ticks(s.idle_timeout)) {
                spdlog::debug("connection {:x}: idle timeout, dropping", id_);
                abort();
                return;
            }
            if (now - last_out_tick_ >= ticks(s.ping_interval)) {
                enqueue(ping_frame(), metrics::tx_type::count);
                last_out_tick_ = now;  // the ping itself counts as traffic sent
            }
            break;
        case state::closed:
            return;
    }
    schedule_timer();
}

void connection::begin_drain(const net::frame_ptr& going_away, std::uint32_t close_tick) {
    if (state_ == state::admitting) {
        close(1001, "going_away");
        return;
    }
    if (state_ != state::open) {
        return;
    }
    enqueue(going_away, metrics::tx_type::going_away);
    draining_ = true;
    deadline_tick_ = close_tick;
    schedule_timer();
}

}  // namespace parley::shard
