#!/usr/bin/env bash
# The standard benchmark set (BENCH.md): every scenario against Parley and its peers, started
# with the same pinning, runs alternating A B A B so ratios are taken run by run. Writes
# bench/results/<UTC stamp>/{machine.json,runs.jsonl,idle.jsonl,summary.md,results.csv}.
#
#   bench/scripts/run.sh                 the standard set (make bench)
#   RUNS=3 bench/scripts/run.sh fanout   only some scenarios: fanout channels direct
#                                        presence-churn connect cluster idle micro
# Environment: RUNS (5), WARMUP (0.5 s), DURATION (1.5 s), LATENCY (1.5 s, at LAT_FRACTION 0.5 of
# each server's own max), IDLE_N ("100000"; e.g. "100000 250000 1000000"), OUT (result dir).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-5}
WARMUP=${WARMUP:-0.5}
DURATION=${DURATION:-1.5}
LATENCY=${LATENCY:-1.5}
LAT_FRACTION=${LAT_FRACTION:-0.5}
IDLE_N=${IDLE_N:-100000}
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(fanout channels direct presence-churn connect cluster idle micro)

for f in "$PARLEYD" "$LOAD" "$LIMIT" "$MICRO"; do
  [ -x "$f" ] || { echo "missing $f: run make bench (or cmake --build build/release)" >&2; exit 1; }
done
command -v nats-server >/dev/null || { echo "nats-server missing: run scripts/bootstrap" >&2; exit 1; }
[ -f "$bench/node_modules/peer/package.json" ] || { echo "npm peer missing: run scripts/bootstrap" >&2; exit 1; }

raise_limits >/dev/null
nofile=$(ulimit -n)
OUT=${OUT:-$bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"; rm -rf "$tmp"; }
trap cleanup EXIT
machine_json >"$OUT/machine.json"
log "results in ${OUT#$root/}; open files limit $nofile; $(cat "$OUT/machine.json")"
runs=$OUT/runs.jsonl
started=$(date +%s)

common=(--warmup "$WARMUP" --duration "$DURATION" --latency-duration "$LATENCY"
        --latency-fraction "$LAT_FRACTION" --json "$runs")

# run_one TARGET PID PORT LABEL ARGS... : one generator run, its table to the log.
run_one() {
  local target=$1 pid=$2 port=$3 label=$4
  shift 4
  local creds=()
  if [ "$target" = parley ]; then
    creds=(--kid "$PARLEY_KID" --secret "$PARLEY_SECRET")
    [[ " $* " == *" --key "* ]] || creds+=(--key "$PARLEY_KEY")
  fi
  gen --target "$target" --port "$port" --server-pid "$pid" --label "$label" "${creds[@]}" \
    "${common[@]}" "$@" 2>&1 | sed 's/^/    /' >&2 || log "run failed: $target $label"
  sleep 0.3  # let the server close the previous run's connections
}

for scenario in "${scenarios[@]}"; do
  case $scenario in
    fanout)
      p=$(start_parleyd 20080); n=$(start_nats 20222); l=$(start_limit 20090)
      pids=("$p" "$n" "$l")
      for s in 100 1000 10000; do
        for i in $(seq "$RUNS"); do
          log "fanout-$s run $i/$RUNS"
          run_one parley "$p" 20080 "fanout-$s run=$i" --scenario fanout --subscribers "$s"
          run_one nats "$n" 20222 "fanout-$s run=$i" --scenario fanout --subscribers "$s"
          run_one limit "$l" 20090 "fanout-$s run=$i" --scenario fanout --subscribers "$s"
        done
      done
      stop_pids "${pids[@]}"; pids=()
      ;;
    channels)
      p=$(start_parleyd 20080); n=$(start_nats 20222)
      pids=("$p" "$n")
      for i in $(seq "$RUNS"); do
        log "channels run $i/$RUNS"
        for t in parley:$p:20080 nats:$n:20222; do
          IFS=: read -r target pid port <<<"$t"
          run_one "$target" "$pid" "$port" "channels run=$i" --scenario channels \
            --connections 10000 --channels 1000 --publishers 100 --batch 8 --latency-fraction 0
        done
      done
      stop_pids "${pids[@]}"; pids=()
      ;;
    direct)
      p=$(start_parleyd 20080); j=$(start_peerjs 20300)
      pids=("$p" "$j")
      for i in $(seq "$RUNS"); do
        log "direct run $i/$RUNS"
        run_one parley "$p" 20080 "direct run=$i" --scenario direct --pairs 1000 --batch 8
        run_one peerjs "$j" 20300 "direct run=$i" --scenario direct --pairs 1000 --batch 8
      done
      stop_pids "${pids[@]}"; pids=()
      ;;
    presence-churn)
      p=$(start_parleyd 20080)
      pids=("$p")
      for i in $(seq "$RUNS"); do
        log "presence-churn run $i/$RUNS"
        run_one parley "$p" 20080 "presence-churn run=$i" --scenario presence-churn \
          --members 1000 --churners 16 --key "$PARLEY_PRESENCE_KEY"
      done
      stop_pids "${pids[@]}"; pids=()
      ;;
    connect)
      p=$(start_parleyd 20080)
      pids=("$p")
      for i in $(seq "$RUNS"); do
        log "connect run $i/$RUNS"
        run_one parley "$p" 20080 "connect run=$i" --scenario connect --concurrency 64
      done
      stop_pids "${pids[@]}"; pids=()
      ;;
    cluster)
      # fanout-100 on one node (memory engine) against two nodes sharing one redis-server, the
      # publisher on node A and the subscribers on node B, so every message goes A -> Redis -> B;
      # the generator waits until probes published on A reach every subscriber on B before
      # measuring. Runs alternate single, two nodes; both are target parley in the generator, told
      # apart in runs.jsonl by --target-name (parley-single, parley-redis). Every server is pinned
      # to the one server core, as for the other scenarios: the two-node figure therefore includes
      # Redis's and both nodes' CPU on that one core, and its srv% is A + B + redis-server.
      command -v redis-server >/dev/null || { echo "redis-server missing: run scripts/bootstrap" >&2; exit 1; }
      p=$(start_parleyd 20080); pids=("$p")
      r=$(start_redis 20379); pids+=("$r")
      a=$(start_parleyd_redis 20081 bench-a 20379); pids+=("$a")
      b=$(start_parleyd_redis 20082 bench-b 20379); pids+=("$b")
      for i in $(seq "$RUNS"); do
        log "cluster run $i/$RUNS"
        run_one parley "$p" 20080 "cluster run=$i" --scenario fanout --subscribers 100 \
          --target-name parley-single
        run_one parley "$b" 20082 "cluster run=$i" --scenario fanout --subscribers 100 \
          --publish-port 20081 --more-server-pids "$a,$r" --target-name parley-redis
      done
      stop_pids "$p" "$a" "$b"; stop_pids "$r"; pids=()  # the nodes before their Redis
      ;;
    idle)
      for n in $IDLE_N; do
        OUT=$OUT "$bench/scripts/idle.sh" "$n" parley nats || log "idle $n failed"
      done
      ;;
    micro)
      # The hot-path micro-benchmarks (Google Benchmark), on the server core.
      log "micro-benchmarks"
      taskset -c "$SERVER_CORE" "$MICRO" --benchmark_min_time=0.3 --benchmark_out="$OUT/micro.json" \
        --benchmark_out_format=json 2>&1 | grep -E '^bm_' | sed 's/^/    /' >&2 || log "micro-benchmarks failed"
      ;;
    *)
      echo "unknown scenario $scenario" >&2; exit 2 ;;
  esac
done

node "$bench/scripts/summarize.mjs" "$OUT" >"$OUT/summary.md"
log "done in $(( $(date +%s) - started )) s: ${OUT#$root/}/summary.md"
cat "$OUT/summary.md"
