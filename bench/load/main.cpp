// parley-load: command line of the load generator. Runs one scenario against one server, prints
// a table and appends one JSON line per run (BENCH.md: delivered msgs/s, p50/p99/p999).
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "generator.hpp"

namespace {

using namespace parley::bench;

std::string json_escape(const std::string& s) {
    std::string out;
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (static_cast<unsigned char>(ch) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", ch);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out;
}

const char* name_of(target_kind t) {
    switch (t) {
        case target_kind::parley: return "parley";
        case target_kind::nats: return "nats";
        case target_kind::peerjs: return "peerjs";
        case target_kind::raw: return "limit";
    }
    return "?";
}

const char* name_of(scenario_kind s) {
    switch (s) {
        case scenario_kind::fanout: return "fanout";
        case scenario_kind::channels: return "channels";
        case scenario_kind::direct: return "direct";
        case scenario_kind::presence: return "presence-churn";
        case scenario_kind::connect: return "connect";
        case scenario_kind::idle: return "idle";
    }
    return "?";
}

double per_s(std::uint64_t n, double secs) { return secs > 0 ? static_cast<double>(n) / secs : 0; }

std::string phase_json(const phase_result& r) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(3);
    o << "{\"phase\":\"" << r.name << "\",\"seconds\":" << r.seconds
      << ",\"sent\":" << r.c.sent << ",\"delivered\":" << r.c.delivered
      << ",\"acks\":" << r.c.acks << ",\"presence\":" << r.c.presence
      << ",\"snapshots\":" << r.c.snapshots << ",\"joins\":" << r.c.joins
      << ",\"leaves\":" << r.c.leaves << ",\"handshakes\":" << r.c.handshakes
      << ",\"bytes_in\":" << r.c.bytes_in << ",\"frames_in\":" << r.c.frames_in
      << ",\"sent_per_s\":" << per_s(r.c.sent, r.seconds)
      << ",\"delivered_per_s\":" << per_s(r.c.delivered, r.seconds)
      << ",\"presence_per_s\":" << per_s(r.c.presence, r.seconds)
      << ",\"joins_leaves_per_s\":" << per_s(r.c.joins + r.c.leaves, r.seconds)
      << ",\"handshakes_per_s\":" << per_s(r.c.handshakes, r.seconds)
      << ",\"offered_per_s\":" << r.offered_per_s << ",\"samples\":" << r.samples
      << ",\"p50_us\":" << static_cast<double>(r.p50) / 1e3
      << ",\"p99_us\":" << static_cast<double>(r.p99) / 1e3
      << ",\"p999_us\":" << static_cast<double>(r.p999) / 1e3
      << ",\"max_us\":" << static_cast<double>(r.pmax) / 1e3 << ",\"gen_cpu\":" << r.gen_cpu
      << ",\"server_cpu\":" << r.server_cpu << "}";
    return o.str();
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    CLI::App app{"parley-load: load generator for Parley and its peers (bench/README.md)"};
    // A later occurrence of an option overrides an earlier one (the scripts pass common
    // arguments first, then a scenario's own).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    std::map<std::string, target_kind> targets{{"parley", target_kind::parley},
                                               {"nats", target_kind::nats},
                                               {"peerjs", target_kind::peerjs},
                                               {"limit", target_kind::raw}};
    std::map<std::string, scenario_kind> scenarios{{"fanout", scenario_kind::fanout},
                                                   {"channels", scenario_kind::channels},
                                                   {"direct", scenario_kind::direct},
                                                   {"presence-churn", scenario_kind::presence},
                                                   {"connect", scenario_kind::connect},
                                                   {"idle", scenario_kind::idle}};
    app.add_option("--target", opt.target, "parley | nats | peerjs | limit")
        ->required()
        ->transform(CLI::CheckedTransformer(targets, CLI::ignore_case));
    app.add_option("--scenario", opt.scenario,
                   "fanout | channels | direct | presence-churn | connect | idle")
        ->required()
        ->transform(CLI::CheckedTransformer(scenarios, CLI::ignore_case));
    app.add_option("--host", opt.host, "server address");
    app.add_option("--port", opt.port, "server port")->required();
    app.add_option("--publish-port", opt.publish_port,
                   "fanout: port of the publisher's server (default: --port, the subscribers')");
    app.add_option("--src-first", opt.src_first, "first source address 127.0.0.N");
    app.add_option("--src-last", opt.src_last, "last source address 127.0.0.N");
    app.add_option("--subscribers", opt.subscribers, "fanout: subscribers of the one channel");
    app.add_option("--connections", opt.connections, "channels: subscriber connections");
    app.add_option("--channels", opt.channels, "channels: channels (connections spread evenly)");
    app.add_option("--publishers", opt.publishers, "channels: publishing connections");
    app.add_option("--pairs", opt.pairs, "direct: pairs of peers");
    app.add_option("--members", opt.members, "presence-churn: members of the channel");
    app.add_option("--churners", opt.churners, "presence-churn: leave/rejoin cycles in flight");
    app.add_option("--concurrency", opt.concurrency, "connect: handshakes in flight");
    app.add_option("--idle", opt.idle, "idle: connections to open and hold");
    app.add_option("--idle-first", opt.idle_first, "idle: index of the first connection");
    app.add_option("--hold", opt.hold, "idle: seconds to hold after READY (0: until SIGTERM)");
    app.add_option("--ready-file", opt.ready_file, "idle: file written when all are ready");
    app.add_option("--payload", opt.payload, "bytes of the data JSON text");
    app.add_option("--warmup", opt.warmup, "seconds of warm-up at max rate");
    app.add_option("--duration", opt.duration, "seconds of the max-rate phase");
    app.add_option("--latency-duration", opt.latency_duration, "seconds of the latency phase");
    app.add_option("--latency-fraction", opt.latency_fraction,
                   "latency phase offered load as a fraction of the measured max (0: none)");
    app.add_option("--rate", opt.rate, "latency phase: absolute sends per second");
    app.add_option("--window", opt.window, "deliveries in flight at max rate (0: default)");
    app.add_option("--batch", opt.batch, "max rate: consecutive sends per sender turn");
    app.add_option("--connect-parallel", opt.connect_parallel, "set-up: connects in flight");
    app.add_option("--setup-timeout", opt.setup_timeout, "set-up: seconds before giving up");
    app.add_option("--sockbuf", opt.sockbuf, "SO_RCVBUF/SO_SNDBUF of every socket (0: default)");
    app.add_option("--key", opt.key, "Parley publishable key");
    app.add_option("--kid", opt.kid, "Parley secret key id (JWT kid)");
    app.add_option("--secret", opt.secret, "Parley secret key (JWT HS256 key)");
    app.add_option("--label", opt.label, "free text recorded in the JSON line");
    app.add_option("--target-name", opt.target_name,
                   "target recorded in the JSON line (default: the --target protocol's name)");
    app.add_option("--json", opt.json_out, "append the result as one JSON line to this file");
    app.add_option("--server-pid", opt.server_pid, "report this process's CPU use per phase");
    app.add_option("--more-server-pids", opt.more_server_pids,
                   "comma-separated pids whose CPU use is added to --server-pid's");
    app.add_option("--validate-every", opt.validate_every,
                   "full JSON check of one delivery in N (1: every delivery)");
    app.add_flag("--verbose", opt.verbose, "log set-up progress and failures");
    CLI11_PARSE(app, argc, argv);

    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });

    int rc = 0;
    generator gen(opt);
    rc = gen.run();

    const std::string target_name = opt.target_name.empty() ? name_of(opt.target) : opt.target_name;
    std::printf("%-9s %-6s %-14s", name_of(opt.scenario), target_name.c_str(), opt.label.c_str());
    std::printf("\n%-8s %6s %11s %12s %9s %9s %9s %9s %6s %6s\n", "phase", "secs", "sent/s",
                "delivered/s", "p50_us", "p99_us", "p999_us", "max_us", "gen%", "srv%");
    for (const auto& r : gen.results()) {
        double secs = r.seconds;
        std::uint64_t events = r.c.delivered;
        if (opt.scenario == scenario_kind::presence) {
            events = r.c.presence;
        } else if (opt.scenario == scenario_kind::connect || opt.scenario == scenario_kind::idle) {
            events = r.c.handshakes;
        }
        std::printf("%-8s %6.2f %11.0f %12.0f %9.1f %9.1f %9.1f %9.1f %6.1f %6.1f\n",
                    r.name.c_str(), secs, per_s(r.c.sent, secs), per_s(events, secs),
                    static_cast<double>(r.p50) / 1e3, static_cast<double>(r.p99) / 1e3,
                    static_cast<double>(r.p999) / 1e3, static_cast<double>(r.pmax) / 1e3,
                    r.gen_cpu * 100, r.server_cpu * 100);
        if (opt.scenario == scenario_kind::presence) {
            std::printf("         joins+leaves/s %.0f, snapshots/s %.0f\n",
                        per_s(r.c.joins + r.c.leaves, secs), per_s(r.c.snapshots, secs));
        }
    }
    if (!gen.errors().empty() || gen.order_violations() != 0) {
        std::printf("errors:\n");
        for (const auto& [why, n] : gen.errors()) {
            std::printf("  %8llu  %s\n", static_cast<unsigned long long>(n), why.c_str());
        }
        if (gen.order_violations() != 0) {
            std::printf("  %8llu  order violations\n",
                        static_cast<unsigned long long>(gen.order_violations()));
        }
    }

    if (!opt.json_out.empty()) {
        std::ostringstream o;
        std::time_t t = std::time(nullptr);
        char when[32];
        std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
        o << "{\"time\":\"" << when << "\",\"scenario\":\"" << name_of(opt.scenario)
          << "\",\"target\":\"" << json_escape(target_name) << "\",\"label\":\""
          << json_escape(opt.label) << "\",\"subscribers\":" << opt.subscribers
          << ",\"connections\":" << opt.connections << ",\"channels\":" << opt.channels
          << ",\"publishers\":" << opt.publishers << ",\"pairs\":" << opt.pairs
          << ",\"members\":" << opt.members << ",\"churners\":" << opt.churners
          << ",\"concurrency\":" << opt.concurrency << ",\"idle\":" << opt.idle
          << ",\"payload\":" << opt.payload << ",\"rc\":" << rc << ",\"phases\":[";
        bool first = true;
        for (const auto& r : gen.results()) {
            o << (first ? "" : ",") << phase_json(r);
            first = false;
        }
        o << "],\"errors\":{";
        first = true;
        for (const auto& [why, n] : gen.errors()) {
            o << (first ? "" : ",") << "\"" << json_escape(why) << "\":" << n;
            first = false;
        }
        o << "},\"order_violations\":" << gen.order_violations() << "}\n";
        std::ofstream(opt.json_out, std::ios::app) << o.str();
    }
    return rc;
}
