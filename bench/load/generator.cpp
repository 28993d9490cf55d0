// Connections of the load generator: non-blocking connect from 127.0.0.x, the HTTP upgrade,
// client-side WebSocket framing (RFC 6455: masked frames out, unmasked frames in), and the four
// protocols spoken on top (Parley, NATS text protocol, PeerJS signalling, the limit program's).
#include "generator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "json_lite.hpp"
#include "jwt_sign.hpp"

namespace parley::bench {

namespace {

// One read() takes at most this much: enough for hundreds of messages, small enough that what
// was just read is still in L1/L2 when it is parsed.
constexpr std::size_t read_chunk = 256 * 1024;
char read_buf[read_chunk];

// Fixed masking key: servers must unmask whatever the key is (RFC 6455 §5.3); a constant keeps
// masking cheap and the generator deterministic.
constexpr unsigned char mask_key[4] = {0x37, 0xfa, 0x21, 0x3d};

std::int64_t cached_now = 0;

// Whether `s` starts with the string literal `lit`. The length is a constant, so the comparison
// is inlined (a string_view comparison calls memcmp, which showed in the generator's profile).
template <std::size_t N>
bool starts_with(std::string_view s, const char (&lit)[N]) {
    return s.size() >= N - 1 && std::memcmp(s.data(), lit, N - 1) == 0;
}

// Eight ASCII digits at p to their value (SWAR, after Lemire); ~0 when one is not a digit.
std::uint64_t parse8(const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if (((v & 0xF0F0F0F0F0F0F0F0ULL) |
         (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) != 0x3333333333333333ULL) {
        return ~0ULL;
    }
    v -= 0x3030303030303030ULL;
    v = (v * 10) + (v >> 8);
    v = (((v & 0x000000FF000000FFULL) * 0x000F424000000064ULL) +
         (((v >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
    return v;
}

// A fixed-width decimal field of 4 + 8k digits (the payload's stamp and sequence number); the
// width is a template argument so that the loops unroll.
// Four ASCII digits at p to their value (the same SWAR, on 32 bits); ~0 when one is not a digit.
std::uint64_t parse4(const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    if (((v & 0xF0F0F0F0U) | (((v + 0x06060606U) & 0xF0F0F0F0U) >> 4)) != 0x33333333U) {
        return ~0ULL;
    }
    v -= 0x30303030U;
    v = (v * 10) + (v >> 8);  // byte 0: first two digits, byte 2: last two
    return static_cast<std::uint64_t>((v & 0xFF) * 100 + ((v >> 16) & 0xFF));
}

template <int width>
std::uint64_t parse_field(const char* p) {
    std::uint64_t v = 0;
    constexpr int head = width % 8;
    static_assert(head == 0 || head == 4, "fields are 4 + 8k digits wide");
    if constexpr (head == 4) {
        v = parse4(p);
        if (v == ~0ULL) {
            return ~0ULL;
        }
    }
    for (int i = head; i < width; i += 8) {
        std::uint64_t b = parse8(p + i);
        if (b == ~0ULL) {
            return ~0ULL;
        }
        v = v * 100000000ULL + b;
    }
    return v;
}

std::uint64_t parse_digits(std::string_view s) {
    std::uint64_t v = 0;
    for (char ch : s) {
        if (ch < '0' || ch > '9') {
            return ~0ULL;
        }
        v = v * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    return v;
}

}  // namespace

std::int64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

generator::generator(options opt) : opt_(std::move(opt)) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        throw std::runtime_error("epoll_create1 failed");
    }
    // The data JSON text: {"t":"<20-digit monotonic ns>","s":"<12-digit seq>","p":"xxx…"} padded
    // to exactly opt_.payload bytes. Fixed-width fields are patched in place for every send.
    std::string head = R"({"t":"00000000000000000000","s":"000000000000","p":")";
    std::string tail = R"("})";
    long pad = static_cast<long>(opt_.payload) - static_cast<long>(head.size() + tail.size());
    if (pad < 0) {
        pad = 0;
    }
    payload_ = head + std::string(static_cast<std::size_t>(pad), 'x') + tail;
    stamp_at_ = 6;
    seq_at_ = 33;
}

generator::~generator() {
    for (auto& c : conns_) {
        if (c->fd >= 0) {
            ::close(c->fd);
        }
    }
    if (ep_ >= 0) {
        ::close(ep_);
    }
}

std::string generator::channel_name(std::uint32_t index) const {
    const bool nats = opt_.target == target_kind::nats;
    switch (opt_.scenario) {
        case scenario_kind::channels:
            return (nats ? "ch." : "ch/") + std::to_string(index);
        case scenario_kind::idle:
            return (nats ? "idle." : "idle/") + std::to_string(index);
        case scenario_kind::connect:
            return "conn/" + std::to_string(index);
        case scenario_kind::presence:
            return "churn";
        default:
            return "bench";
    }
}

std::string generator::peer_name(std::uint32_t index) const { return "p" + std::to_string(index); }

int generator::port_of(const conn& c) const {
    if (c.r == role::publisher && opt_.scenario == scenario_kind::fanout && opt_.publish_port > 0) {
        return opt_.publish_port;
    }
    return opt_.port;
}

std::uint32_t generator::open_conn(role r, std::uint32_t group) {
    auto c = std::make_unique<conn>();
    c->r = r;
    c->group = group;
    conns_.push_back(std::move(c));
    return static_cast<std::uint32_t>(conns_.size() - 1);
}

void generator::start_connect(std::uint32_t id) {
    conn& c = *conns_[id];
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(id, std::string("socket: ") + std::strerror(errno));
        return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Let the kernel pick the port at connect() from the whole 4-tuple, so each source address
    // gives ~28k connections to the one server port.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (opt_.sockbuf > 0) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt_.sockbuf, sizeof opt_.sockbuf);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opt_.sockbuf, sizeof opt_.sockbuf);
    }
    sockaddr_in src{};
    src.sin_family = AF_INET;
    int span = opt_.src_last - opt_.src_first + 1;
    int host = opt_.src_first + static_cast<int>(src_next_++ % static_cast<std::uint32_t>(span));
    src.sin_addr.s_addr = htonl((127U << 24) | static_cast<std::uint32_t>(host));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
        ::close(fd);
        fail(id, std::string("bind: ") + std::strerror(errno));
        return;
    }
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<std::uint16_t>(port_of(c)));
    ::inet_pton(AF_INET, opt_.host.c_str(), &dst.sin_addr);
    c.fd = fd;
    c.state = cstate::connecting;
    c.started_ns = now_ns();
    if (::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
        fail(id, std::string("connect: ") + std::strerror(errno));
        return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = id;
    c.want_write = true;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
}

void generator::close_conn(std::uint32_t id) {
    conn& c = *conns_[id];
    if (c.fd >= 0) {
        ::close(c.fd);
    }
    c.fd = -1;
    c.state = cstate::free;
    c.want_write = false;
    c.handshake = 0;
    c.churn = 0;
    std::string().swap(c.in);
    std::string().swap(c.frag);
    std::string().swap(c.nats);
    std::string().swap(c.out);
}

void generator::fail(std::uint32_t id, const std::string& why) {
    conn& c = *conns_[id];
    ++errors_[why];
    if (opt_.verbose) {
        std::fprintf(stderr, "conn %u: %s\n", id, why.c_str());
    }
    if (c.state != cstate::ready && c.state != cstate::free && c.r != role::connector) {
        --connecting_;
    }
    if (c.state == cstate::ready && ready_ > 0) {
        --ready_;
    }
    close_conn(id);
    if (c.r == role::connector) {
        connect_slot(c.group);
    }
}

std::string generator::upgrade_request(std::uint32_t id) const {
    const conn& c = *conns_[id];
    std::string path;
    switch (opt_.target) {
        case target_kind::parley: {
            bool jwt = opt_.scenario == scenario_kind::direct ||
                       opt_.scenario == scenario_kind::connect ||
                       opt_.scenario == scenario_kind::idle;
            if (jwt) {
                std::uint32_t who = opt_.scenario == scenario_kind::direct ? id : c.group;
                std::string sub = opt_.scenario == scenario_kind::direct ? peer_name(who)
                                  : opt_.scenario == scenario_kind::connect
                                      ? "c" + std::to_string(who)
                                      : "i" + std::to_string(who);
                auto exp = static_cast<std::int64_t>(std::time(nullptr)) + 3600;
                path = "/v1?token=" + sign_jwt(opt_.kid, opt_.secret, sub, exp);
            } else {
                path = "/v1?key=" + opt_.key;
            }
            break;
        }
        case target_kind::peerjs:
            path = "/peerjs?key=peerjs&id=" + peer_name(id) + "&token=t" + std::to_string(id);
            break;
        default:
            path = "/";
    }
    return "GET " + path + " HTTP/1.1\r\nHost: " + opt_.host + ":" + std::to_string(port_of(c)) +
           "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

void generator::update_epoll(std::uint32_t id) {
    conn& c = *conns_[id];
    bool want = !c.out.empty() || c.state == cstate::connecting;
    if (want == c.want_write || c.fd < 0) {
        return;
    }
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u32 = id;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    c.want_write = want;
}

void generator::on_writable(std::uint32_t id) {
    conn& c = *conns_[id];
    if (c.state == cstate::connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            fail(id, std::string("connect: ") + std::strerror(err));
            return;
        }
        c.state = cstate::upgrading;
        c.out += upgrade_request(id);
    }
    flush(id);
}

void generator::flush(std::uint32_t id) {
    conn& c = *conns_[id];
    if (c.fd < 0) {
        return;
    }
    while (!c.out.empty()) {
        ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
            c.out.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        fail(id, std::string("send: ") + std::strerror(errno));
        return;
    }
    if (c.out.empty() && c.out.capacity() > 4096) {
        std::string().swap(c.out);
    }
    update_epoll(id);
}

void generator::flush_dirty() {
    for (std::uint32_t id : dirty_) {
        conns_[id]->dirty = false;
        flush(id);
    }
    dirty_.clear();
}

void generator::send_frame(std::uint32_t id, std::uint8_t opcode, std::string_view payload) {
    conn& c = *conns_[id];
    if (c.fd < 0) {
        return;
    }
    char header[14];
    std::size_t h = 0;
    header[h++] = static_cast<char>(0x80 | opcode);
    std::size_t len = payload.size();
    if (len < 126) {
        header[h++] = static_cast<char>(0x80 | len);
    } else if (len <= 0xFFFF) {
        header[h++] = static_cast<char>(0x80 | 126);
        header[h++] = static_cast<char>(len >> 8);
        header[h++] = static_cast<char>(len & 0xFF);
    } else {
        header[h++] = static_cast<char>(0x80 | 127);
        for (int i = 7; i >= 0; --i) {
            header[h++] = static_cast<char>((static_cast<std::uint64_t>(len) >> (8 * i)) & 0xFF);
        }
    }
    std::memcpy(header + h, mask_key, 4);
    h += 4;
    std::size_t at = c.out.size();
    c.out.append(header, h);
    c.out.append(payload);
    char* p = c.out.data() + at + h;
    for (std::size_t i = 0; i < len; ++i) {
        p[i] = static_cast<char>(p[i] ^ mask_key[i & 3]);
    }
    if (!c.dirty) {
        c.dirty = true;
        dirty_.push_back(id);
    }
}

void generator::on_readable(std::uint32_t id) {
    conn& c = *conns_[id];
    ssize_t n = ::read(c.fd, read_buf, read_chunk);
    if (n == 0) {
        if (c.state == cstate::closing) {
            close_conn(id);
            ++c_.handshakes;
            if (record_) {
                hist_.record(now_ns() - c.started_ns);
            }
            connect_slot(c.group);
            return;
        }
        fail(id, "eof");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return;
        }
        if (c.state == cstate::closing) {
            close_conn(id);
            connect_slot(c.group);
            return;
        }
        fail(id, std::string("read: ") + std::strerror(errno));
        return;
    }
    c_.bytes_in += static_cast<std::uint64_t>(n);
    // Everything in one read arrived by now: one clock read serves every message in it.
    cached_now = now_ns();
    std::size_t used = 0;
    if (c.in.empty()) {
        consume(id, read_buf, static_cast<std::size_t>(n), used);
        if (c.fd >= 0 && used < static_cast<std::size_t>(n)) {
            c.in.assign(read_buf + used, static_cast<std::size_t>(n) - used);
        }
    } else {
        c.in.append(read_buf, static_cast<std::size_t>(n));
        consume(id, c.in.data(), c.in.size(), used);
        if (c.fd >= 0) {
            c.in.erase(0, used);
            if (c.in.empty() && c.in.capacity() > 65536) {
                std::string().swap(c.in);
            }
        }
    }
}

void generator::consume(std::uint32_t id, char* data, std::size_t len, std::size_t& used) {
    conn& c = *conns_[id];
    while (c.fd >= 0 && used < len) {
        char* p = data + used;
        std::size_t avail = len - used;
        if (c.state == cstate::upgrading) {
            std::string_view s(p, avail);
            auto end = s.find("\r\n\r\n");
            if (end == std::string_view::npos) {
                if (avail > 16384) {
                    fail(id, "http: response head too large");
                }
                return;
            }
            std::string_view head = s.substr(0, end);
            used += end + 4;
            if (!starts_with(head, "HTTP/1.1 101")) {
                fail(id, "http: " + std::string(head.substr(0, head.find("\r\n"))));
                return;
            }
            c.state = cstate::opening;
            if (opt_.target == target_kind::raw) {
                became_ready(id);
            }
            continue;
        }
        if (avail < 2) {
            return;
        }
        auto b0 = static_cast<std::uint8_t>(p[0]);
        auto b1 = static_cast<std::uint8_t>(p[1]);
        if ((b1 & 0x80) != 0 || (b0 & 0x70) != 0) {
            fail(id, "ws: masked or reserved bits in a server frame");
            return;
        }
        std::uint64_t plen = b1 & 0x7F;
        std::size_t h = 2;
        if (plen == 126) {
            if (avail < 4) {
                return;
            }
            plen = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[2])) << 8) |
                   static_cast<std::uint8_t>(p[3]);
            h = 4;
        } else if (plen == 127) {
            if (avail < 10) {
                return;
            }
            plen = 0;
            for (int i = 0; i < 8; ++i) {
                plen = (plen << 8) | static_cast<std::uint8_t>(p[2 + i]);
            }
            h = 10;
        }
        if (avail < h + plen) {
            return;
        }
        used += h + plen;
        ++c_.frames_in;
        std::string_view payload(p + h, plen);
        std::uint8_t op = b0 & 0x0F;
        bool fin = (b0 & 0x80) != 0;
        switch (op) {
            case 0x0:  // continuation
                c.frag.append(payload);
                if (fin) {
                    std::string msg;
                    msg.swap(c.frag);
                    on_message(id, c.handshake & 0x0F, msg);
                }
                break;
            case 0x1:
            case 0x2:
                if (!fin) {
                    c.frag.assign(payload);
                    c.handshake = static_cast<std::uint8_t>((c.handshake & 0xF0) | op);
                } else {
                    on_message(id, op, payload);
                }
                break;
            case 0x8: {
                if (c.state == cstate::closing) {
                    // The close handshake is complete: drop the TCP connection with a reset
                    // (SO_LINGER 0), which spares both ends the FIN exchange and TIME_WAIT.
                    linger lg{1, 0};
                    ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                    close_conn(id);
                    ++c_.handshakes;
                    if (record_) {
                        hist_.record(cached_now - c.started_ns);
                    }
                    connect_slot(c.group);
                    return;
                }
                unsigned code = payload.size() >= 2
                                    ? (static_cast<unsigned>(static_cast<std::uint8_t>(payload[0]))
                                       << 8) | static_cast<std::uint8_t>(payload[1])
                                    : 1005;
                std::string reason(payload.size() > 2 ? payload.substr(2) : std::string_view());
                fail(id, "close " + std::to_string(code) + " " + reason);
                return;
            }
            case 0x9:
                send_frame(id, 0xA, payload);
                break;
            case 0xA:
                break;
            default:
                fail(id, "ws: unknown opcode");
                return;
        }
    }
}

void generator::on_message(std::uint32_t id, std::uint8_t opcode, std::string_view payload) {
    if (opt_.target == target_kind::nats) {
        on_nats(id, payload);
        return;
    }
    on_json(id, payload);
}

void generator::subscribe(std::uint32_t id, std::string_view channel, std::string_view rid) {
    scratch_.assign(R"({"type":"subscribe","channel":")");
    scratch_ += channel;
    scratch_ += R"(","requestId":")";
    scratch_ += rid;
    scratch_ += "\"}";
    send_frame(id, 0x1, scratch_);
}

void generator::on_open(std::uint32_t id) {
    conn& c = *conns_[id];
    if (opt_.target == target_kind::nats) {
        scratch_ =
            R"(CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"bench",)"
            R"("lang":"cpp","version":"1","protocol":1,"echo":false,"headers":false,)"
            R"("no_responders":false})"
            "\r\n";
        if (c.r == role::subscriber || c.r == role::idle) {
            scratch_ += "SUB " + channel_name(c.group) + " 1\r\n";
        }
        scratch_ += "PING\r\n";
        send_frame(id, 0x2, scratch_);
        return;
    }
    // Parley, after the welcome.
    switch (c.r) {
        case role::subscriber:
        case role::member:
        case role::idle:
        case role::connector:
            subscribe(id, channel_name(c.group), "s");
            break;
        default:
            became_ready(id);
    }
}

void generator::became_ready(std::uint32_t id) {
    conn& c = *conns_[id];
    if (c.r == role::connector) {
        return;
    }
    c.state = cstate::ready;
    ++ready_;
    --connecting_;
}

void generator::on_delivery(std::uint32_t id, std::string_view data) {
    if (data.size() != payload_.size() || !starts_with(data, R"({"t":")")) {
        ++errors_["payload altered in transit"];
        return;
    }
    std::uint64_t stamp = parse_field<20>(data.data() + stamp_at_);
    std::uint64_t seq = parse_field<12>(data.data() + seq_at_);
    if (stamp == ~0ULL || seq == ~0ULL) {
        ++errors_["payload altered in transit"];
        return;
    }
    conn& c = *conns_[id];
    if (opt_.scenario == scenario_kind::fanout || opt_.scenario == scenario_kind::direct) {
        if (seq <= c.last_seq && c.last_seq != 0) {
            ++order_violations_;
        }
        c.last_seq = seq;
    }
    ++c_.delivered;
    ++delivered_total_;
    if (record_) {
        hist_.record(cached_now - static_cast<std::int64_t>(stamp));
    }
}

void generator::on_json(std::uint32_t id, std::string_view text) {
    conn& c = *conns_[id];
    // Fast path for deliveries, taken by all but one in `validate_every` of them: a `message` or
    // `direct` whose last member is the relayed `data` (checked byte for byte by on_delivery).
    // The others, and every other frame, go through the full JSON syntax check below.
    if (--validate_tick_ > 0 && opt_.target != target_kind::peerjs &&
        text.size() > payload_.size() + 8 &&
        (starts_with(text, R"({"type":"message",)") || starts_with(text, R"({"type":"direct",)"))) {
        std::string_view tail = text.substr(text.size() - payload_.size() - 8);
        if (starts_with(tail, R"("data":)") && tail.back() == '}') {
            on_delivery(id, tail.substr(7, payload_.size()));
            return;
        }
    }
    if (validate_tick_ <= 0) {
        validate_tick_ = opt_.validate_every;
    }
    json::member m[12];
    int n = json::scan_object(text, m, 12);
    if (n < 0) {
        ++errors_["invalid JSON received"];
        return;
    }
    std::string_view type = json::string_body(json::find(m, n, "type"));
    if (opt_.target == target_kind::peerjs) {
        if (type == "OFFER") {
            on_delivery(id, json::find(m, n, "payload"));
        } else if (type == "OPEN") {
            became_ready(id);
        } else if (type == "ERROR" || type == "ID-TAKEN" || type == "EXPIRE" || type == "LEAVE") {
            ++errors_["peerjs " + std::string(type)];
        }
        return;
    }
    if (type == "message" || type == "direct") {
        std::string_view data = json::find(m, n, "data");
        if (data.empty()) {
            ++errors_["message without data"];
            return;
        }
        on_delivery(id, data);
        return;
    }
    if (type == "ack") {
        ++c_.acks;
        std::string_view rid = json::string_body(json::find(m, n, "requestId"));
        if (rid == "s") {
            if (c.r == role::connector) {
                c.handshake = static_cast<std::uint8_t>((c.handshake & 0x0F) | 0x10);
            } else {
                became_ready(id);
            }
        } else if (rid == "u") {
            ++c_.leaves;
            c.churn = 2;
            subscribe(id, channel_name(0), "j");
        } else if (rid == "j") {
            ++c_.joins;
            c.churn = 3;
        }
        return;
    }
    if (type == "presence") {
        if (json::count_array(json::find(m, n, "joined")) < 0 ||
            json::count_array(json::find(m, n, "left")) < 0) {
            ++errors_["presence without joined/left arrays"];
            return;
        }
        ++c_.presence;
        if (c.r == role::connector && (c.handshake & 0x10) != 0) {
            // connect -> welcome -> subscribe -> ack -> snapshot: now close (code 1000).
            c.state = cstate::closing;
            send_frame(id, 0x8, std::string_view("\x03\xe8", 2));
        } else if (c.churn == 3) {
            ++c_.snapshots;
            c.churn = 0;
            --churn_active_;
            if (record_) {
                hist_.record(cached_now - c.started_ns);
            }
        }
        return;
    }
    if (type == "welcome") {
        if (c.state == cstate::opening) {
            on_open(id);
        }
        return;
    }
    if (type == "error") {
        std::string code(json::string_body(json::find(m, n, "code")));
        ++errors_["error " + code];
        if (json::string_body(json::find(m, n, "requestId")) == "s") {
            fail(id, "subscribe refused: " + code);
        }
        return;
    }
    if (type == "pong") {
        return;
    }
    ++errors_["unexpected frame type " + std::string(type)];
}

void generator::on_nats(std::uint32_t id, std::string_view chunk) {
    conn& c = *conns_[id];
    std::string_view s = chunk;
    bool buffered = !c.nats.empty();
    if (buffered) {
        c.nats.append(chunk);
        s = c.nats;
    }
    std::size_t pos = 0;
    while (c.fd >= 0 && pos < s.size()) {
        std::size_t eol = s.find("\r\n", pos);
        if (eol == std::string_view::npos) {
            break;
        }
        std::string_view line = s.substr(pos, eol - pos);
        if (starts_with(line, "MSG ")) {
            // MSG <subject> <sid> [reply-to] <#bytes>
            std::size_t sp = line.rfind(' ');
            std::uint64_t bytes = parse_digits(line.substr(sp + 1));
            if (bytes == ~0ULL) {
                fail(id, "nats: bad MSG line");
                return;
            }
            if (s.size() < eol + 2 + bytes + 2) {
                break;  // payload not complete yet
            }
            on_delivery(id, s.substr(eol + 2, bytes));
            pos = eol + 2 + bytes + 2;
            continue;
        }
        pos = eol + 2;
        if (line == "PING") {
            send_frame(id, 0x2, "PONG\r\n");
        } else if (line == "PONG") {
            if (c.state == cstate::opening) {
                became_ready(id);
            }
        } else if (starts_with(line, "INFO ")) {
            if (c.state == cstate::opening) {
                on_open(id);
            }
        } else if (starts_with(line, "-ERR")) {
            fail(id, "nats: " + std::string(line));
            return;
        }
    }
    if (c.fd < 0) {
        return;
    }
    if (buffered) {
        c.nats.erase(0, pos);
    } else if (pos < s.size()) {
        c.nats.assign(s.substr(pos));
    }
}

void generator::poll_once(std::int64_t timeout_ns) {
    // Start queued connections up to the parallelism limit.
    while (!pending_connects_.empty() &&
           connecting_ < static_cast<std::uint32_t>(opt_.connect_parallel)) {
        std::uint32_t id = pending_connects_.back();
        pending_connects_.pop_back();
        ++connecting_;
        start_connect(id);
    }
    flush_dirty();
    epoll_event events[1024];
    timespec ts{};
    if (timeout_ns < 0) {
        timeout_ns = 0;
    }
    ts.tv_sec = timeout_ns / 1000000000LL;
    ts.tv_nsec = timeout_ns % 1000000000LL;
    int n = ::epoll_pwait2(ep_, events, 1024, &ts, nullptr);
    for (int i = 0; i < n; ++i) {
        std::uint32_t id = events[i].data.u32;
        conn& c = *conns_[id];
        if (c.fd < 0) {
            continue;
        }
        if ((events[i].events & EPOLLOUT) != 0) {
            on_writable(id);
        }
        if (c.fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
            if (c.state == cstate::connecting) {
                on_writable(id);
            } else {
                on_readable(id);
            }
        }
    }
    drive(now_ns());
    flush_dirty();
}

}  // namespace parley::bench
