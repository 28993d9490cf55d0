// The load generator: one thread, one epoll loop, many WebSocket client connections to Parley,
// nats-server (NATS text protocol over WebSocket), the PeerJS server or the limit program, and the
// drivers of BENCH.md's scenarios on top of them.
#pragma once
#include <csignal>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"

namespace parley::bench {

enum class target_kind : std::uint8_t { parley, nats, peerjs, raw };
enum class scenario_kind : std::uint8_t { fanout, channels, direct, presence, connect, idle };

struct options {
    target_kind target = target_kind::parley;
    scenario_kind scenario = scenario_kind::fanout;
    std::string host = "127.0.0.1";
    int port = 0;
    // fanout: the publisher connects to this port, the subscribers to `port` (0: `port` too); the
    // cluster scenario publishes on one node and subscribes on another.
    int publish_port = 0;
    // Source addresses 127.0.0.<src_first> .. 127.0.0.<src_last>, round-robin per connection.
    int src_first = 2;
    int src_last = 254;
    // fanout
    int subscribers = 1000;
    // channels
    int connections = 10000;
    int channels = 1000;
    int publishers = 100;
    // direct
    int pairs = 1000;
    // presence-churn
    int members = 1000;
    int churners = 16;
    // connect
    int concurrency = 64;
    // idle
    int idle = 1000;
    int idle_first = 0;  // index of the first connection (channel / sub names), for sharding
    double hold = 0;     // idle: seconds to hold after READY (0: until SIGTERM / SIGINT)
    std::string ready_file;
    // payload: bytes of the `data` JSON text
    int payload = 100;
    // phases (seconds)
    double warmup = 1;
    double duration = 3;
    double latency_duration = 3;
    // latency phase: offered load as a fraction of the measured maximum (0 disables it), or an
    // absolute rate of sends per second
    double latency_fraction = 0.5;
    double rate = 0;
    // deliveries allowed in flight in the max-rate phase (0: scenario default)
    long window = 0;
    // max-rate phase: consecutive sends given to one sender before the next (direct, channels)
    int batch = 1;
    int connect_parallel = 512;
    double setup_timeout = 120;
    int sockbuf = 0;  // SO_RCVBUF / SO_SNDBUF on every socket (0: kernel default)
    // credentials for Parley
    std::string key;  // publishable key (fanout, channels, presence)
    std::string kid;  // secret key id and secret (JWT for direct, connect, idle)
    std::string secret;
    std::string label;
    // Written as the JSON line's target instead of the protocol's name (the cluster scenario
    // tells its single-node and two-node runs apart by it); empty: the protocol's name.
    std::string target_name;
    std::string json_out;  // append one JSON line per run here
    int server_pid = 0;    // to report the server's CPU use per phase
    // More processes whose CPU use is added to server_pid's (comma-separated pids): the cluster
    // scenario's nodes and redis-server, which share the server core.
    std::string more_server_pids;
    // Deliveries: one in this many gets the full JSON syntax check (1: all of them); the others
    // are checked by position and byte-exact payload only.
    int validate_every = 64;
    bool verbose = false;
};

enum class cstate : std::uint8_t { free, connecting, upgrading, opening, ready, closing };

enum class role : std::uint8_t { none, subscriber, publisher, sender, member, connector, idle };

struct conn {
    int fd = -1;
    cstate state = cstate::free;
    role r = role::none;
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // in the dirty list (has bytes in `out` to flush)
    std::uint8_t churn = 0;   // presence-churn step
    std::uint8_t handshake = 0;
    std::uint32_t group = 0;  // channel index, partner index, connect slot
    std::uint64_t last_seq = 0;
    std::int64_t started_ns = 0;
    std::string in;    // bytes received and not yet consumed
    std::string frag;  // fragmented WebSocket message being reassembled
    std::string nats;  // NATS protocol stream (spans WebSocket frames)
    std::string out;   // bytes to write
};

// Counters of one phase.
struct counters {
    std::uint64_t sent = 0;
    std::uint64_t delivered = 0;
    std::uint64_t acks = 0;
    std::uint64_t presence = 0;
    std::uint64_t snapshots = 0;
    std::uint64_t joins = 0;
    std::uint64_t leaves = 0;
    std::uint64_t handshakes = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t frames_in = 0;
};

struct phase_result {
    std::string name;
    double seconds = 0;
    counters c;
    std::uint64_t p50 = 0, p99 = 0, p999 = 0, pmax = 0, samples = 0;
    double offered_per_s = 0;
    double gen_cpu = 0;     // fraction of one core used by the generator
    double server_cpu = -1; // fraction of one core used by the server (-1: unknown)
};

class generator {
public:
    explicit generator(options opt);
    ~generator();
    // Runs the scenario to its end. Returns the process exit code.
    int run();
    const std::vector<phase_result>& results() const { return results_; }
    const std::map<std::string, std::uint64_t>& errors() const { return errors_; }
    std::uint64_t order_violations() const { return order_violations_; }

private:
    enum class mode : std::uint8_t { idle, max, paced };

    // ---- connections (generator.cpp)
    std::uint32_t open_conn(role r, std::uint32_t group);
    void start_connect(std::uint32_t id);
    void close_conn(std::uint32_t id);
    void fail(std::uint32_t id, const std::string& why);
    void on_writable(std::uint32_t id);
    void on_readable(std::uint32_t id);
    void consume(std::uint32_t id, char* data, std::size_t len, std::size_t& used);
    void on_http_response(std::uint32_t id);
    void on_message(std::uint32_t id, std::uint8_t opcode, std::string_view payload);
    void on_json(std::uint32_t id, std::string_view text);
    void on_nats(std::uint32_t id, std::string_view chunk);
    void send_frame(std::uint32_t id, std::uint8_t opcode, std::string_view payload);
    void flush(std::uint32_t id);
    void flush_dirty();
    void update_epoll(std::uint32_t id);
    std::string upgrade_request(std::uint32_t id) const;
    void poll_once(std::int64_t timeout_ns);

    // ---- protocol steps (generator.cpp)
    void on_open(std::uint32_t id);  // after the 101 (raw) or the server's hello
    void subscribe(std::uint32_t id, std::string_view channel, std::string_view request_id);
    void became_ready(std::uint32_t id);
    void on_delivery(std::uint32_t id, std::string_view data);
    int port_of(const conn& c) const;

    // ---- drivers (drivers.cpp)
    int run_traffic();
    int run_presence();
    int run_connect();
    int run_idle();
    bool setup(const std::vector<std::pair<role, std::uint32_t>>& plan);
    bool await_cross_node();
    double server_cpu_seconds() const;
    // Sends one message from the next sender (the same one again when `stay`).
    void send_one(std::int64_t stamp_ns, bool stay = false);
    void drive(std::int64_t now);
    void churn_step(std::uint32_t id);
    void connect_slot(std::uint32_t slot);
    phase_result measure(const std::string& name, double seconds, bool record_after_settle);
    std::string channel_name(std::uint32_t index) const;
    std::string peer_name(std::uint32_t index) const;
    void fill_payload(std::int64_t stamp_ns);
    long deliveries_per_send() const;

    options opt_;
    int ep_ = -1;
    std::vector<std::unique_ptr<conn>> conns_;
    std::vector<std::uint32_t> dirty_;
    std::vector<std::uint32_t> senders_;
    std::vector<std::uint32_t> pending_connects_;
    std::vector<std::uint32_t> slot_queue_;  // connect scenario: slots to (re)start
    std::size_t next_sender_ = 0;
    std::uint32_t connecting_ = 0;
    std::uint32_t ready_ = 0;
    std::uint32_t src_next_ = 0;
    counters c_;
    histogram hist_;
    bool record_ = false;
    mode mode_ = mode::idle;
    long window_ = 0;
    std::uint64_t inflight_base_ = 0;  // deliveries expected so far minus delivered (at phase start)
    std::uint64_t expected_ = 0;       // deliveries expected from all sends so far
    std::uint64_t delivered_total_ = 0;
    std::uint64_t seq_ = 0;
    std::int64_t next_send_ns_ = 0;
    std::int64_t interval_ns_ = 0;
    std::string payload_;  // the data JSON text, stamp and seq patched in place
    std::size_t stamp_at_ = 0;
    std::size_t seq_at_ = 0;
    std::string scratch_;
    std::vector<std::string> tokens_;
    std::map<std::string, std::uint64_t> errors_;
    std::uint64_t order_violations_ = 0;
    std::vector<phase_result> results_;
    std::uint64_t request_seq_ = 0;
    long validate_tick_ = 0;  // deliveries until the next full JSON check
    std::uint32_t churn_next_ = 0;
    std::uint32_t churn_active_ = 0;
};

std::int64_t now_ns();

// Set by SIGINT / SIGTERM: every loop of the generator ends at its next turn.
extern volatile std::sig_atomic_t g_stop;

}  // namespace parley::bench
