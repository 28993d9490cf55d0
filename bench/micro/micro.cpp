// Micro-benchmarks (Google Benchmark) of parleyd's hot paths, linked against parley_server:
// WebSocket frame decode + client frame decode, glob matching, JWT verification, fan-out enqueue.
// They report figures only; nothing here fails on speed.
#include <benchmark/benchmark.h>

#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "auth/jwt.hpp"
#include "config/config.hpp"
#include "net/frame.hpp"
#include "net/outbound_queue.hpp"
#include "net/ws_reader.hpp"
#include "proto/channel.hpp"
#include "proto/client_frame.hpp"

namespace {

using namespace parley;

const std::string publish_text =
    R"({"type":"publish","channel":"room-1","requestId":"3f0c2a7e-8d1b-4c55-9e1a-2b3c4d5e6f70",)"
    R"("data":{"t":"00000000001234567890","s":"000000000001","p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}})";

// A masked client text frame carrying `payload` (RFC 6455 §5.2).
std::string client_frame_bytes(const std::string& payload) {
    std::string f;
    f += static_cast<char>(0x81);
    if (payload.size() < 126) {
        f += static_cast<char>(0x80 | payload.size());
    } else {
        f += static_cast<char>(0x80 | 126);
        f += static_cast<char>(payload.size() >> 8);
        f += static_cast<char>(payload.size() & 0xFF);
    }
    const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    f.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f += static_cast<char>(payload[i] ^ key[i & 3]);
    }
    return f;
}

// WebSocket layer only: header checks, unmasking in place, UTF-8 validation. 64 frames per batch
// (the copy that restores the masked bytes is part of the measured time, ~1 ns per 64 bytes).
void bm_ws_frame_decode(benchmark::State& state) {
    std::string one = client_frame_bytes(publish_text);
    std::string pristine;
    for (int i = 0; i < 64; ++i) {
        pristine += one;
    }
    std::string buf = pristine;
    net::ws_reader reader(65536 + 4096);
    for (auto _ : state) {
        std::memcpy(buf.data(), pristine.data(), pristine.size());
        std::size_t off = 0;
        for (int i = 0; i < 64; ++i) {
            std::size_t used = 0;
            auto ev = reader.next(buf.data() + off, buf.size() - off, used);
            benchmark::DoNotOptimize(ev);
            off += used;
        }
    }
    state.SetItemsProcessed(state.iterations() * 64);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(pristine.size()));
}
BENCHMARK(bm_ws_frame_decode);

// JSON scan + envelope validation of a publish (what every client frame goes through).
void bm_client_frame_decode(benchmark::State& state) {
    proto::frame_decoder decoder(65536);
    proto::client_frame out;
    proto::frame_error err;
    for (auto _ : state) {
        bool ok = decoder.decode(publish_text, out, err);
        benchmark::DoNotOptimize(ok);
        benchmark::DoNotOptimize(out.data.data());
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_client_frame_decode);

void bm_glob_match(benchmark::State& state) {
    static const char* patterns[] = {"room-*", "org/*/room/**", "**", "a/*/c/*/e", "chat/\\*/x"};
    auto p = proto::pattern::compile(patterns[state.range(0)]);
    std::vector<std::string> names = {"room-12345", "org/acme/room/lobby/1", "a/b/c/d/e",
                                      "chat/*/x", "org/acme/other/room"};
    std::size_t i = 0;
    for (auto _ : state) {
        bool m = p->matches(names[i++ % names.size()]);
        benchmark::DoNotOptimize(m);
    }
    state.SetLabel(patterns[state.range(0)]);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_glob_match)->DenseRange(0, 4);

void bm_jwt_verify(benchmark::State& state) {
    const std::string kid = "sk_id_bench00000000000000000000000000000000";
    const std::string secret = "sk_secret_bench000000000000000000000000000000";
    auto cfg = config::parse(R"(
[server]
listen = "127.0.0.1:0"
[[apps]]
id = "bench"
[[apps.keys]]
type = "secret"
id = ")" + kid + R"("
secret = ")" + secret + R"("
channels = ["**"]
)",
                             "micro");
    auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::string payload = R"({"sub":"alice","exp":)" + std::to_string(now + 3600) +
                          R"(,"channels":["room-*","org/*/room/**"],"permissions":["subscribe","publish"]})";
    std::string token = auth::sign_token(kid, secret, payload);
    for (auto _ : state) {
        auto r = auth::verify_connection_token(*cfg, token, now);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_jwt_verify);

// Fan-out enqueue: one shared frame appended to N subscribers' queues (a reference each), then
// each queue gathered and consumed as a flush would after a complete write.
void bm_fanout_enqueue(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    std::vector<net::outbound_queue> queues(n);
    std::string text = R"({"type":"message","channel":"room-1","from":"alice","data":)" +
                       std::string(100, ' ') + "}";
    for (auto _ : state) {
        net::frame_ptr f(net::frame::create(net::opcode::text, text));
        for (auto& q : queues) {
            q.push(f, 4u << 20);
        }
        for (auto& q : queues) {
            iovec iov[8];
            std::size_t k = q.gather(iov, 8);
            benchmark::DoNotOptimize(k);
            q.consume(q.bytes());
        }
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(bm_fanout_enqueue)->Arg(100)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
