// parley-limit: the ceiling of this kernel for fan-out (BENCH.md). A minimal epoll WebSocket
// server: every client message is re-framed once into a shared server frame and queued to every
// other connection; dirty connections are flushed once per loop turn with one gathered write.
// No JSON parsing, no routing, no auth, no per-message allocation beyond the one shared frame.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Frames gathered into one sendmsg: IOV_MAX, the most the kernel takes, so that the ceiling is
// the kernel's and not a batching choice.
constexpr std::size_t max_iov = 1024;

// A server frame shared by every recipient (header + payload in one allocation).
struct shared_frame {
    std::uint32_t refs;
    std::uint32_t size;
    char* bytes() { return reinterpret_cast<char*>(this + 1); }
};

shared_frame* make_frame(std::string_view payload) {
    char h[10];
    std::size_t n = 0;
    h[n++] = static_cast<char>(0x81);
    if (payload.size() < 126) {
        h[n++] = static_cast<char>(payload.size());
    } else if (payload.size() <= 0xFFFF) {
        h[n++] = 126;
        h[n++] = static_cast<char>(payload.size() >> 8);
        h[n++] = static_cast<char>(payload.size() & 0xFF);
    } else {
        h[n++] = 127;
        for (int i = 7; i >= 0; --i) {
            h[n++] = static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF);
        }
    }
    auto* f = static_cast<shared_frame*>(std::malloc(sizeof(shared_frame) + n + payload.size()));
    f->refs = 0;
    f->size = static_cast<std::uint32_t>(n + payload.size());
    std::memcpy(f->bytes(), h, n);
    std::memcpy(f->bytes() + n, payload.data(), payload.size());
    return f;
}

void release(shared_frame* f) {
    if (--f->refs == 0) {
        std::free(f);
    }
}

// A connection. Clients live by value in one vector indexed by fd, so the broadcast walks
// contiguous memory; the outbound queue is a power-of-two ring of frame pointers.
struct client {
    int fd = -1;
    bool open = false;  // upgraded
    bool dirty = false;
    std::uint32_t front_offset = 0;
    std::uint32_t head = 0;
    std::uint32_t count = 0;
    std::uint32_t cap = 0;
    shared_frame** ring = nullptr;
    std::string in;

    void push(shared_frame* f) {
        if (count == cap) {
            std::uint32_t ncap = cap == 0 ? 16 : cap * 2;
            auto** nring = static_cast<shared_frame**>(std::malloc(ncap * sizeof(shared_frame*)));
            for (std::uint32_t i = 0; i < count; ++i) {
                nring[i] = ring[(head + i) & (cap - 1)];
            }
            std::free(ring);
            ring = nring;
            cap = ncap;
            head = 0;
        }
        ring[(head + count++) & (cap - 1)] = f;
    }
    shared_frame* at(std::uint32_t i) const { return ring[(head + i) & (cap - 1)]; }
    void pop() {
        head = (head + 1) & (cap - 1);
        --count;
    }
};

std::vector<client> clients;  // indexed by fd
std::vector<int> open_fds;
std::vector<int> dirty;
int ep = -1;
volatile std::sig_atomic_t stop = 0;

std::string accept_key(std::string_view key) {
    std::string s(key);
    s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
    unsigned char b64[64];
    int n = EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
}

void drop(int fd) {
    client& c = clients[fd];
    while (c.count > 0) {
        release(c.at(0));
        c.pop();
    }
    std::free(c.ring);
    if (c.open) {
        for (std::size_t i = 0; i < open_fds.size(); ++i) {
            if (open_fds[i] == fd) {
                open_fds[i] = open_fds.back();
                open_fds.pop_back();
                break;
            }
        }
    }
    ::close(fd);
    c = client{};
}

// Writes as much of the queue as the kernel takes, with one sendmsg of up to max_iov frames at a time.
void flush(int fd) {
    client& c = clients[fd];
    while (c.count > 0) {
        iovec iov[max_iov];
        std::size_t n = 0;
        for (; n < c.count && n < max_iov; ++n) {
            std::uint32_t skip = n == 0 ? c.front_offset : 0;
            iov[n].iov_base = c.at(static_cast<std::uint32_t>(n))->bytes() + skip;
            iov[n].iov_len = c.at(static_cast<std::uint32_t>(n))->size - skip;
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = n;
        ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;  // edge-triggered EPOLLOUT brings us back
            }
            drop(fd);
            return;
        }
        auto left = static_cast<std::size_t>(w);
        while (left > 0) {
            shared_frame* f = c.at(0);
            std::size_t rest = f->size - c.front_offset;
            if (left >= rest) {
                left -= rest;
                c.pop();
                c.front_offset = 0;
                release(f);
            } else {
                c.front_offset += static_cast<std::uint32_t>(left);
                left = 0;
            }
        }
    }
}

void broadcast(int from, std::string_view payload) {
    shared_frame* f = make_frame(payload);
    f->refs = static_cast<std::uint32_t>(open_fds.size());  // every open connection but `from`
    bool sender_open = false;
    for (int fd : open_fds) {
        if (fd == from) {
            sender_open = true;
            continue;
        }
        client& c = clients[fd];
        c.push(f);
        if (!c.dirty) {
            c.dirty = true;
            dirty.push_back(fd);
        }
    }
    if (!sender_open) {
        ++f->refs;
    }
    release(f);  // the reference counted for the sender
}

// Consumes complete client frames from c.in: unmask, then broadcast text/binary payloads.
void on_frames(int fd) {
    client& c = clients[fd];
    std::size_t pos = 0;
    while (c.in.size() - pos >= 2) {
        auto* p = reinterpret_cast<unsigned char*>(c.in.data() + pos);
        std::size_t avail = c.in.size() - pos;
        std::uint64_t len = p[1] & 0x7F;
        std::size_t h = 2;
        if (len == 126) {
            if (avail < 4) {
                break;
            }
            len = (static_cast<std::uint64_t>(p[2]) << 8) | p[3];
            h = 4;
        } else if (len == 127) {
            if (avail < 10) {
                break;
            }
            len = 0;
            for (int i = 0; i < 8; ++i) {
                len = (len << 8) | p[2 + i];
            }
            h = 10;
        }
        bool masked = (p[1] & 0x80) != 0;
        if (avail < h + (masked ? 4 : 0) + len) {
            break;
        }
        unsigned char* key = p + h;
        char* payload = reinterpret_cast<char*>(p + h + (masked ? 4 : 0));
        if (masked) {
            for (std::uint64_t i = 0; i < len; ++i) {
                payload[i] = static_cast<char>(payload[i] ^ key[i & 3]);
            }
        }
        unsigned op = p[0] & 0x0F;
        pos += h + (masked ? 4 : 0) + len;
        if (op == 0x8) {
            drop(fd);
            return;
        }
        if (op == 0x1 || op == 0x2) {
            broadcast(fd, std::string_view(payload, len));
        }
    }
    c.in.erase(0, pos);
}

// Reads until EAGAIN (edge-triggered); returns false when the connection was dropped.
bool read_all(int fd) {
    static char buf[256 * 1024];
    client& c = clients[fd];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            if (static_cast<std::size_t>(n) < sizeof buf) {
                return true;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return true;
        }
        drop(fd);
        return false;
    }
}

void on_readable(int fd) {
    if (!read_all(fd)) {
        return;
    }
    client& c = clients[fd];
    if (!c.open) {
        auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
            return;
        }
        std::string_view head(c.in.data(), end);
        std::string key;
        // Case-insensitive header search for Sec-WebSocket-Key.
        for (std::size_t i = 0; i + 18 < head.size(); ++i) {
            if (strncasecmp(head.data() + i, "sec-websocket-key:", 18) == 0) {
                std::size_t s = i + 18;
                while (s < head.size() && head[s] == ' ') {
                    ++s;
                }
                std::size_t e = head.find("\r\n", s);
                key = std::string(head.substr(s, (e == std::string_view::npos ? head.size() : e) - s));
                break;
            }
        }
        std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Accept: " +
                           accept_key(key) + "\r\n\r\n";
        ::send(fd, resp.data(), resp.size(), MSG_NOSIGNAL);
        c.in.erase(0, end + 4);
        c.open = true;
        open_fds.push_back(fd);
    }
    on_frames(fd);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: parley-limit PORT [HOST]\n");
        return 2;
    }
    int port = std::atoi(argv[1]);
    const char* host = argc > 2 ? argv[2] : "127.0.0.1";
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGTERM, [](int) { stop = 1; });
    std::signal(SIGINT, [](int) { stop = 1; });
    int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host, &addr.sin_addr);
    if (::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 4096) != 0) {
        std::perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &alen);
    std::printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    std::fflush(stdout);
    ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event lev{};
    lev.events = EPOLLIN;
    lev.data.fd = ls;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    epoll_event events[1024];
    while (stop == 0) {
        int n = ::epoll_wait(ep, events, 1024, 200);
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                while (true) {
                    int cfd = ::accept4(ls, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) {
                        break;
                    }
                    ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (static_cast<std::size_t>(cfd) >= clients.size()) {
                        clients.resize(static_cast<std::size_t>(cfd) * 2 + 1);
                    }
                    clients[cfd] = client{};
                    clients[cfd].fd = cfd;
                    // Both directions, edge-triggered, registered once: no epoll_ctl per
                    // blocked write.
                    epoll_event ev{};
                    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
                    ev.data.fd = cfd;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
                }
                continue;
            }
            if (static_cast<std::size_t>(fd) >= clients.size() || clients[fd].fd < 0) {
                continue;
            }
            if ((events[i].events & EPOLLOUT) != 0 && clients[fd].count > 0) {
                flush(fd);
            }
            if (clients[fd].fd >= 0 && (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) != 0) {
                on_readable(fd);
            }
        }
        // One gathered write per dirty connection per loop turn.
        for (int fd : dirty) {
            if (clients[fd].fd >= 0) {
                clients[fd].dirty = false;
                flush(fd);
            }
        }
        dirty.clear();
    }
    return 0;
}
