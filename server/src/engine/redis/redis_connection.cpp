// hiredis on Asio; see redis_connection.hpp.
#include "engine/redis/redis_connection.hpp"

#include <sys/ioctl.h>

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace parley::engine {

namespace {
// Reconnect backoff: starts small so a restarted Redis is back in use quickly, capped so a long
// outage does not hammer it.
constexpr std::chrono::milliseconds min_backoff{100};
constexpr std::chrono::milliseconds max_backoff{2000};
// Reads of 16 KB (hiredis's unit) per readiness wakeup, at most, before other work runs.
constexpr int max_reads_per_wakeup = 16;
}  // namespace

redis_address parse_redis_url(const std::string& url) {
    const std::string scheme = "redis://";
    if (url.rfind(scheme, 0) != 0) {
        throw std::invalid_argument("must start with redis://");
    }
    redis_address a;
    std::string rest = url.substr(scheme.size());
    auto slash = rest.find('/');
    if (slash != std::string::npos) {
        std::string db = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (!db.empty()) {
            try {
                a.db = std::stoi(db);
            } catch (...) {
                throw std::invalid_argument("the database after / must be a number");
            }
        }
    }
    auto at = rest.rfind('@');
    if (at != std::string::npos) {
        std::string auth = rest.substr(0, at);
        rest = rest.substr(at + 1);
        auto colon = auth.find(':');
        a.password = colon == std::string::npos ? auth : auth.substr(colon + 1);
    }
    auto colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']') == std::string::npos) {
        a.host = rest.substr(0, colon);
        try {
            a.port = std::stoi(rest.substr(colon + 1));
        } catch (...) {
            throw std::invalid_argument("the port must be a number");
        }
    } else if (!rest.empty()) {
        a.host = rest;
    }
    if (a.host.empty() || a.port <= 0 || a.port > 65535) {
        throw std::invalid_argument("needs a host and a port from 1 to 65535");
    }
    return a;
}

redis_connection::redis_connection(boost::asio::io_context& io, redis_address address, std::string name)
    : io_(io), address_(std::move(address)), name_(std::move(name)), retry_(io) {}

redis_connection::~redis_connection() { stop(); }

void redis_connection::start() {
    stopped_ = false;
    connect_now();
}

void redis_connection::stop() {
    stopped_ = true;
    retry_.cancel();
    if (ac_ != nullptr) {
        redisAsyncContext* ac = ac_;
        ac_ = nullptr;
        ac->data = nullptr;  // callbacks from the teardown below must not reach us
        redisAsyncFree(ac);
    }
    ready_ = false;
}

void redis_connection::connect_now() {
    if (stopped_) {
        return;
    }
    ac_ = redisAsyncConnect(address_.host.c_str(), address_.port);
    if (ac_ == nullptr || ac_->err) {
        spdlog::warn("redis ({}): cannot connect to {}:{}: {}", name_, address_.host, address_.port,
                     ac_ ? ac_->errstr : "out of memory");
        if (ac_ != nullptr) {
            redisAsyncFree(ac_);
            ac_ = nullptr;
        }
        schedule_reconnect();
        return;
    }
    ac_->data = this;
    ac_->ev.data = this;
    ac_->ev.addRead = &redis_connection::add_read;
    ac_->ev.delRead = &redis_connection::del_read;
    ac_->ev.addWrite = &redis_connection::add_write;
    ac_->ev.delWrite = &redis_connection::del_write;
    ac_->ev.cleanup = &redis_connection::cleanup;
    alive_ = std::make_shared<bool>(true);
    fd_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, ac_->c.fd);
    redisAsyncSetConnectCallback(ac_, &redis_connection::on_connected);
    redisAsyncSetDisconnectCallback(ac_, &redis_connection::on_disconnected);
}

void redis_connection::schedule_reconnect() {
    if (stopped_) {
        return;
    }
    retry_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, max_backoff);
    retry_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            connect_now();
        }
    });
}

void redis_connection::on_connected(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<redis_connection*>(ac->data);
    if (self == nullptr) {
        return;
    }
    if (status != REDIS_OK) {
        // hiredis frees the context after this callback.
        self->ac_ = nullptr;
        self->schedule_reconnect();
        return;
    }
    // AUTH and SELECT go first; the connection counts as ready once they succeed.
    auto* me = self;
    auto after_select = [me](redisReply* r) {
        if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
            spdlog::error("redis ({}): SELECT failed: {}", me->name_, r ? r->str : "disconnected");
            return;
        }
        me->handshake_done();
    };
    auto do_select = [me, after_select] {
        if (me->address_.db != 0) {
            std::string db = std::to_string(me->address_.db);
            me->raw_command({"SELECT", db}, after_select, &redis_connection::on_reply);
        } else {
            me->handshake_done();
        }
    };
    if (!self->address_.password.empty()) {
        self->raw_command({"AUTH", self->address_.password}, [me, do_select](redisReply* r) {
            if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
                spdlog::error("redis ({}): AUTH failed: {}", me->name_, r ? r->str : "disconnected");
                return;
            }
            do_select();
        }, &redis_connection::on_reply);
    } else {
        do_select();
    }
}

void redis_connection::handshake_done() {
    ready_ = true;
    backoff_ = min_backoff;
    spdlog::info("redis ({}): connected to {}:{}", name_, address_.host, address_.port);
    if (on_connect) {
        on_connect();
    }
}

void redis_connection::on_disconnected(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<redis_connection*>(ac->data);
    if (self == nullptr) {
        return;
    }
    bool was_ready = self->ready_;
    self->ready_ = false;
    self->ac_ = nullptr;  // hiredis frees the context after this callback
    if (was_ready) {
        spdlog::warn("redis ({}): connection lost", self->name_);
        if (self->on_disconnect) {
            self->on_disconnect();
        }
    }
    self->schedule_reconnect();
}

bool redis_connection::raw_command(const std::vector<std::string_view>& args, reply_fn cb,
                                   redisCallbackFn* fn) {
    if (ac_ == nullptr) {
        return false;
    }
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (auto a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
    }
    if (fn == &redis_connection::on_push_reply) {
        return redisAsyncCommandArgv(ac_, fn, this, static_cast<int>(args.size()), argv.data(),
                                     lens.data()) == REDIS_OK;
    }
    auto* holder = new reply_fn(std::move(cb));
    if (redisAsyncCommandArgv(ac_, fn, holder, static_cast<int>(args.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
        delete holder;
        return false;
    }
    return true;
}

bool redis_connection::command(const std::vector<std::string_view>& args, reply_fn cb) {
    return ready_ && raw_command(args, std::move(cb), &redis_connection::on_reply);
}

bool redis_connection::subscribe_command(const std::vector<std::string_view>& args) {
    return ready_ && raw_command(args, {}, &redis_connection::on_push_reply);
}

void redis_connection::on_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* holder = static_cast<reply_fn*>(privdata);
    if (*holder) {
        (*holder)(static_cast<redisReply*>(reply));
    }
    delete holder;
}

void redis_connection::on_push_reply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* self = static_cast<redis_connection*>(ac->data);
    if (self == nullptr || reply == nullptr) {
        return;
    }
    if (self->on_push) {
        self->on_push(static_cast<redisReply*>(reply));
    }
}

// ---- hiredis event hooks: each maps to a wait on the socket.

void redis_connection::wait_read() {
    if (read_pending_ || !reading_wanted_ || !fd_) {
        return;
    }
    read_pending_ = true;
    std::weak_ptr<bool> alive = alive_;
    fd_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this, alive](const boost::system::error_code& ec) {
                        if (alive.expired()) {
                            return;
                        }
                        read_pending_ = false;
                        if (ec || ac_ == nullptr) {
                            return;
                        }
                        // hiredis reads at most 16 KB per call. Read on while more is waiting
                        // (bounded, for fairness), so that every message of a burst is delivered
                        // before the shard's flush pass: subscribers then get one large
                        // gathered write per burst instead of one per 16 KB.
                        for (int reads = 0; reads < max_reads_per_wakeup; ++reads) {
                            redisAsyncHandleRead(ac_);  // may free the context (disconnect)
                            if (alive.expired() || ac_ == nullptr || !fd_) {
                                break;
                            }
                            int waiting = 0;
                            if (::ioctl(fd_->native_handle(), FIONREAD, &waiting) != 0 || waiting <= 0) {
                                break;
                            }
                        }
                        if (!alive.expired()) {
                            wait_read();
                        }
                    });
}

void redis_connection::wait_write() {
    if (write_pending_ || !writing_wanted_ || !fd_) {
        return;
    }
    write_pending_ = true;
    std::weak_ptr<bool> alive = alive_;
    fd_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                    [this, alive](const boost::system::error_code& ec) {
                        if (alive.expired()) {
                            return;
                        }
                        write_pending_ = false;
                        if (ec || ac_ == nullptr) {
                            return;
                        }
                        redisAsyncHandleWrite(ac_);
                        if (!alive.expired()) {
                            wait_write();
                        }
                    });
}

void redis_connection::add_read(void* p) {
    auto* self = static_cast<redis_connection*>(p);
    self->reading_wanted_ = true;
    self->wait_read();
}

void redis_connection::del_read(void* p) { static_cast<redis_connection*>(p)->reading_wanted_ = false; }

void redis_connection::add_write(void* p) {
    auto* self = static_cast<redis_connection*>(p);
    self->writing_wanted_ = true;
    self->wait_write();
}

void redis_connection::del_write(void* p) { static_cast<redis_connection*>(p)->writing_wanted_ = false; }

void redis_connection::cleanup(void* p) {
    auto* self = static_cast<redis_connection*>(p);
    self->reading_wanted_ = false;
    self->writing_wanted_ = false;
    // hiredis closes the socket itself: give the descriptor back without closing it, and
    // make pending waits forget about this connection.
    if (self->fd_) {
        boost::system::error_code ec;
        self->fd_->cancel(ec);
        self->fd_->release();
        self->fd_.reset();
    }
    self->read_pending_ = false;
    self->write_pending_ = false;
    self->alive_ = std::make_shared<bool>(true);
}

}  // namespace parley::engine
