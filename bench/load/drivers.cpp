// The scenario drivers of the load generator (BENCH.md "Standard scenarios"): set-up of the
// connections, the max-rate phase (a window of deliveries in flight), the latency phase (open
// loop at a fixed rate, stamped with the intended send time), presence churn, connect and idle.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "generator.hpp"

namespace parley::bench {

volatile std::sig_atomic_t g_stop = 0;

namespace {

double cpu_seconds_self() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// utime + stime of process `pid` in seconds, or -1.
double cpu_seconds_of(int pid) {
    if (pid <= 0) {
        return -1;
    }
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    if (close == std::string::npos) {
        return -1;
    }
    std::istringstream rest(text.substr(close + 2));
    std::string field;
    double ticks = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14 || i == 15) {
            ticks += std::stod(field);
        }
    }
    return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void write_digits(char* at, std::uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

}  // namespace

int generator::run() {
    switch (opt_.scenario) {
        case scenario_kind::fanout:
        case scenario_kind::channels:
        case scenario_kind::direct:
            return run_traffic();
        case scenario_kind::presence:
            return run_presence();
        case scenario_kind::connect:
            return run_connect();
        case scenario_kind::idle:
            return run_idle();
    }
    return 2;
}

long generator::deliveries_per_send() const {
    switch (opt_.scenario) {
        case scenario_kind::fanout:
            return opt_.subscribers;
        case scenario_kind::channels:
            return opt_.connections / opt_.channels;
        default:
            return 1;
    }
}

bool generator::setup(const std::vector<std::pair<role, std::uint32_t>>& plan) {
    for (const auto& [r, g] : plan) {
        pending_connects_.push_back(open_conn(r, g));
    }
    std::reverse(pending_connects_.begin(), pending_connects_.end());
    std::int64_t start = now_ns();
    std::int64_t deadline = start + static_cast<std::int64_t>(opt_.setup_timeout * 1e9);
    std::int64_t next_note = start + 5000000000LL;
    while (ready_ < plan.size() && g_stop == 0) {
        if (pending_connects_.empty() && connecting_ == 0) {
            break;
        }
        poll_once(10000000);
        std::int64_t now = now_ns();
        if (now > deadline) {
            break;
        }
        if (opt_.verbose && now > next_note) {
            std::fprintf(stderr, "setup: %u/%zu ready\n", ready_, plan.size());
            next_note = now + 5000000000LL;
        }
    }
    double secs = static_cast<double>(now_ns() - start) / 1e9;
    if (ready_ < plan.size()) {
        std::fprintf(stderr, "setup failed: %u of %zu connections ready after %.1f s\n", ready_,
                     plan.size(), secs);
        for (const auto& [why, n] : errors_) {
            std::fprintf(stderr, "  %8llu  %s\n", static_cast<unsigned long long>(n), why.c_str());
        }
        return false;
    }
    if (opt_.verbose) {
        std::fprintf(stderr, "setup: %zu connections ready in %.2f s\n", plan.size(), secs);
    }
    return true;
}

// Cross-node fanout (--publish-port): a subscriber's ack says that its node has the subscription,
// not that a publish on the other node reaches it. The Redis engine acks a subscribe once the
// node's Redis SUBSCRIBE is confirmed, but a node not (yet) connected to Redis acks it locally and
// resubscribes later, and the publishing node drops publishes while it is not connected. So
// before measuring: one probe publish every 50 ms until every subscriber has received one (as
// tests/cluster/throughput.mjs does), then up to 200 ms for the probes still in flight; probes
// that were lost are written off, so that neither the window nor the drain waits for them. No
// probe is counted in any phase: each phase starts from zeroed counters.
bool generator::await_cross_node() {
    const std::int64_t start = now_ns();
    const std::int64_t deadline = start + static_cast<std::int64_t>(opt_.setup_timeout * 1e9);
    std::int64_t next_probe = start;
    std::uint64_t probes = 0;
    for (;;) {
        std::size_t waiting = 0;
        for (const auto& c : conns_) {
            if (c->r == role::subscriber && (c->state != cstate::ready || c->last_seq == 0)) {
                ++waiting;
            }
        }
        if (waiting == 0) {
            break;
        }
        std::int64_t now = now_ns();
        if (g_stop != 0 || now > deadline) {
            std::fprintf(stderr,
                         "setup failed: %zu subscribers received no cross-node probe "
                         "after %.1f s (%llu probes)\n",
                         waiting, static_cast<double>(now - start) / 1e9,
                         static_cast<unsigned long long>(probes));
            return false;
        }
        if (now >= next_probe) {
            send_one(now);
            ++probes;
            next_probe = now + 50000000LL;
        }
        poll_once(std::min<std::int64_t>(next_probe - now, 10000000));
    }
    const std::int64_t settle_end = now_ns() + 200000000LL;
    while (expected_ > delivered_total_ && now_ns() < settle_end && g_stop == 0) {
        poll_once(10000000);
    }
    expected_ = delivered_total_;
    if (opt_.verbose) {
        std::fprintf(stderr, "setup: cross-node delivery effective after %.2f s, %llu probes\n",
                     static_cast<double>(now_ns() - start) / 1e9,
                     static_cast<unsigned long long>(probes));
    }
    return true;
}

// CPU seconds of the server process and of --more-server-pids together, or -1 when one is unknown.
double generator::server_cpu_seconds() const {
    double total = cpu_seconds_of(opt_.server_pid);
    std::istringstream more(opt_.more_server_pids);
    std::string pid;
    while (total >= 0 && std::getline(more, pid, ',')) {
        if (pid.empty()) {
            continue;
        }
        double s = cpu_seconds_of(std::atoi(pid.c_str()));
        total = s < 0 ? -1 : total + s;
    }
    return total;
}

void generator::fill_payload(std::int64_t stamp_ns) {
    ++seq_;
    write_digits(payload_.data() + stamp_at_, static_cast<std::uint64_t>(stamp_ns), 20);
    write_digits(payload_.data() + seq_at_, seq_, 12);
}

void generator::send_one(std::int64_t stamp_ns, bool stay) {
    std::uint32_t id = 0;
    bool found = false;
    for (std::size_t tries = 0; tries < senders_.size(); ++tries) {
        id = senders_[(stay ? next_sender_ : next_sender_++) % senders_.size()];
        if (conns_[id]->state == cstate::ready) {
            found = true;
            break;
        }
    }
    if (!found) {
        return;
    }
    fill_payload(stamp_ns);
    std::string& m = scratch_;
    m.clear();
    std::uint8_t opcode = 0x1;
    const bool direct = opt_.scenario == scenario_kind::direct;
    std::string target = direct ? peer_name(conns_[id]->group)
                                : channel_name(opt_.scenario == scenario_kind::channels
                                                   ? static_cast<std::uint32_t>(
                                                         seq_ % static_cast<std::uint64_t>(
                                                                    opt_.channels))
                                                   : 0);
    switch (opt_.target) {
        case target_kind::parley:
            if (direct) {
                m += R"({"type":"send","to":")";
            } else {
                m += R"({"type":"publish","channel":")";
            }
            m += target;
            m += R"(","requestId":")";
            m += direct ? "d" : "p";
            m += R"(","data":)";
            m += payload_;
            m += '}';
            break;
        case target_kind::raw:
            m += R"({"type":"message","channel":"bench","from":"limit","data":)";
            m += payload_;
            m += '}';
            break;
        case target_kind::nats:
            opcode = 0x2;
            m += "PUB ";
            m += target;
            m += ' ';
            m += std::to_string(payload_.size());
            m += "\r\n";
            m += payload_;
            m += "\r\n";
            break;
        case target_kind::peerjs:
            m += R"({"type":"OFFER","dst":")";
            m += target;
            m += R"(","payload":)";
            m += payload_;
            m += '}';
            break;
    }
    send_frame(id, opcode, m);
    ++c_.sent;
    expected_ += static_cast<std::uint64_t>(deliveries_per_send());
}

void generator::connect_slot(std::uint32_t slot) {
    if (opt_.scenario == scenario_kind::connect) {
        slot_queue_.push_back(slot);
    }
}

void generator::churn_step(std::uint32_t id) {
    conn& c = *conns_[id];
    c.started_ns = now_ns();
    c.churn = 1;
    ++churn_active_;
    send_frame(id, 0x1, R"({"type":"unsubscribe","channel":"churn","requestId":"u"})");
}

void generator::drive(std::int64_t now) {
    if (mode_ == mode::idle) {
        return;
    }
    switch (opt_.scenario) {
        case scenario_kind::presence: {
            std::size_t scanned = 0;
            while (churn_active_ < static_cast<std::uint32_t>(opt_.churners) &&
                   scanned < conns_.size()) {
                std::uint32_t id = churn_next_++ % static_cast<std::uint32_t>(conns_.size());
                ++scanned;
                if (conns_[id]->state == cstate::ready && conns_[id]->churn == 0) {
                    churn_step(id);
                }
            }
            return;
        }
        case scenario_kind::connect:
            while (!slot_queue_.empty()) {
                std::uint32_t slot = slot_queue_.back();
                slot_queue_.pop_back();
                start_connect(slot);
            }
            return;
        case scenario_kind::idle:
            return;
        default:
            break;
    }
    const auto dps = static_cast<std::uint64_t>(deliveries_per_send());
    int budget = 4096;  // sends per loop turn, so reading is never starved
    if (mode_ == mode::max) {
        // `batch` sends go to one sender before moving on, so that a connection writes (and the
        // server reads) several frames per system call, as a loaded client does.
        const auto batch = static_cast<std::uint64_t>(std::max(1, opt_.batch));
        while (budget > 0 &&
               expected_ - delivered_total_ + batch * dps <= static_cast<std::uint64_t>(window_)) {
            for (std::uint64_t i = 0; i < batch; ++i) {
                send_one(now, i + 1 < batch);
            }
            budget -= static_cast<int>(batch);
        }
        return;
    }
    while (budget-- > 0 && now >= next_send_ns_) {
        if (expected_ - delivered_total_ < 4 * static_cast<std::uint64_t>(window_)) {
            send_one(next_send_ns_);
        } else {
            ++errors_["paced send skipped: too many deliveries outstanding"];
        }
        next_send_ns_ += interval_ns_;
    }
}

phase_result generator::measure(const std::string& name, double seconds, bool settle) {
    phase_result r;
    r.name = name;
    c_ = counters{};
    hist_.reset();
    record_ = !settle;
    std::int64_t t0 = now_ns();
    std::int64_t end = t0 + static_cast<std::int64_t>(seconds * 1e9);
    std::int64_t settle_end = t0 + 500000000LL;
    if (settle) {
        end += 500000000LL;
    }
    double cpu0 = cpu_seconds_self();
    double srv0 = server_cpu_seconds();
    std::int64_t last_progress = t0;
    std::uint64_t last_bytes = 0;
    std::int64_t now = t0;
    while (now < end && g_stop == 0) {
        std::int64_t timeout = std::min<std::int64_t>(end - now, 50000000);
        if (mode_ == mode::paced) {
            timeout = std::min<std::int64_t>(timeout, next_send_ns_ - now);
        }
        poll_once(timeout);
        now = now_ns();
        if (!record_ && now >= settle_end) {
            record_ = true;
            c_ = counters{};
            hist_.reset();
            t0 = now;
            cpu0 = cpu_seconds_self();
            srv0 = server_cpu_seconds();
        }
        if (c_.bytes_in != last_bytes) {
            last_bytes = c_.bytes_in;
            last_progress = now;
        } else if (now - last_progress > 3000000000LL) {
            ++errors_["stalled: nothing received for 3 s in phase " + name];
            break;
        }
    }
    r.seconds = static_cast<double>(now - t0) / 1e9;
    r.c = c_;
    r.samples = hist_.count();
    r.p50 = hist_.quantile(0.5);
    r.p99 = hist_.quantile(0.99);
    r.p999 = hist_.quantile(0.999);
    r.pmax = hist_.max();
    r.gen_cpu = (cpu_seconds_self() - cpu0) / r.seconds;
    double srv1 = server_cpu_seconds();
    if (srv0 >= 0 && srv1 >= 0) {
        r.server_cpu = (srv1 - srv0) / r.seconds;
    }
    if (mode_ == mode::paced && interval_ns_ > 0) {
        r.offered_per_s = 1e9 / static_cast<double>(interval_ns_);
    }
    record_ = false;
    return r;
}

int generator::run_traffic() {
    std::vector<std::pair<role, std::uint32_t>> plan;
    switch (opt_.scenario) {
        case scenario_kind::fanout:
            for (int i = 0; i < opt_.subscribers; ++i) {
                plan.emplace_back(role::subscriber, 0);
            }
            plan.emplace_back(role::publisher, 0);
            window_ = opt_.window > 0 ? opt_.window : std::max<long>(64L * opt_.subscribers, 200000);
            break;
        case scenario_kind::channels:
            for (int i = 0; i < opt_.connections; ++i) {
                plan.emplace_back(role::subscriber, static_cast<std::uint32_t>(i % opt_.channels));
            }
            for (int i = 0; i < opt_.publishers; ++i) {
                plan.emplace_back(role::publisher, 0);
            }
            window_ = opt_.window > 0 ? opt_.window : 50000;
            break;
        default:  // direct: connection i talks to i ^ 1
            for (int i = 0; i < 2 * opt_.pairs; ++i) {
                plan.emplace_back(role::sender, static_cast<std::uint32_t>(i ^ 1));
            }
            window_ = opt_.window > 0 ? opt_.window : 16L * opt_.pairs;
            break;
    }
    if (!setup(plan)) {
        return 1;
    }
    for (std::uint32_t id = 0; id < conns_.size(); ++id) {
        role r = conns_[id]->r;
        if (r == role::publisher || r == role::sender) {
            senders_.push_back(id);
        }
    }
    if (opt_.scenario == scenario_kind::fanout && opt_.publish_port > 0 &&
        opt_.publish_port != opt_.port && !await_cross_node()) {
        return 1;
    }
    auto drain = [&](double seconds) {
        mode_ = mode::idle;
        std::int64_t end = now_ns() + static_cast<std::int64_t>(seconds * 1e9);
        while (expected_ > delivered_total_ && now_ns() < end && g_stop == 0) {
            poll_once(10000000);
        }
        if (expected_ > delivered_total_) {
            ++errors_["deliveries missing after drain: " +
                      std::to_string(expected_ - delivered_total_)];
            delivered_total_ = expected_;
        }
    };
    mode_ = mode::max;
    if (opt_.warmup > 0) {
        measure("warmup", opt_.warmup, false);
    }
    phase_result max = measure("max", opt_.duration, false);
    results_.push_back(max);
    drain(5);
    double rate = opt_.rate;
    if (rate <= 0 && opt_.latency_fraction > 0 && max.seconds > 0) {
        rate = opt_.latency_fraction * static_cast<double>(max.c.sent) / max.seconds;
    }
    if (rate > 0 && opt_.latency_duration > 0 && g_stop == 0) {
        interval_ns_ = static_cast<std::int64_t>(1e9 / rate);
        if (interval_ns_ < 1) {
            interval_ns_ = 1;
        }
        next_send_ns_ = now_ns();
        mode_ = mode::paced;
        results_.push_back(measure("latency", opt_.latency_duration, true));
        drain(5);
    }
    mode_ = mode::idle;
    return 0;
}

int generator::run_presence() {
    std::vector<std::pair<role, std::uint32_t>> plan;
    for (int i = 0; i < opt_.members; ++i) {
        plan.emplace_back(role::member, 0);
    }
    if (!setup(plan)) {
        return 1;
    }
    // Let the joined deltas of the set-up reach everyone before measuring.
    std::uint64_t last = ~0ULL;
    while (c_.bytes_in != last && g_stop == 0) {
        last = c_.bytes_in;
        for (int i = 0; i < 20; ++i) {
            poll_once(10000000);
        }
    }
    mode_ = mode::max;
    if (opt_.warmup > 0) {
        measure("warmup", opt_.warmup, false);
    }
    results_.push_back(measure("max", opt_.duration, false));
    mode_ = mode::idle;
    return 0;
}

int generator::run_connect() {
    for (int i = 0; i < opt_.concurrency; ++i) {
        std::uint32_t id = open_conn(role::connector, static_cast<std::uint32_t>(i));
        slot_queue_.push_back(id);
    }
    mode_ = mode::max;
    if (opt_.warmup > 0) {
        measure("warmup", opt_.warmup, false);
    }
    results_.push_back(measure("max", opt_.duration, false));
    mode_ = mode::idle;
    return 0;
}

int generator::run_idle() {
    std::vector<std::pair<role, std::uint32_t>> plan;
    for (int i = 0; i < opt_.idle; ++i) {
        plan.emplace_back(role::idle, static_cast<std::uint32_t>(opt_.idle_first + i));
    }
    std::int64_t t0 = now_ns();
    if (!setup(plan)) {
        return 1;
    }
    phase_result r;
    r.name = "setup";
    r.seconds = static_cast<double>(now_ns() - t0) / 1e9;
    r.c.handshakes = ready_;
    results_.push_back(r);
    for (auto& c : conns_) {
        c->in.shrink_to_fit();
        c->out.shrink_to_fit();
        c->nats.shrink_to_fit();
    }
    if (!opt_.ready_file.empty()) {
        std::ofstream(opt_.ready_file) << "READY " << ready_ << "\n";
    }
    std::printf("READY %u\n", ready_);
    std::fflush(stdout);
    std::int64_t end = opt_.hold > 0 ? now_ns() + static_cast<std::int64_t>(opt_.hold * 1e9)
                                     : INT64_MAX;
    while (g_stop == 0 && now_ns() < end) {
        poll_once(100000000);
    }
    phase_result h;
    h.name = "hold";
    h.c.handshakes = ready_;
    results_.push_back(h);
    return ready_ == plan.size() ? 0 : 1;
}

}  // namespace parley::bench
