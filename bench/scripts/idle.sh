#!/usr/bin/env bash
# Idle density (BENCH.md "idle"): N idle authenticated connections, each subscribed to its own
# channel, held open; reports user-space bytes per connection (server RSS delta / N) and
# whole-machine memory per connection (MemTotal - MemAvailable delta / N), for each target.
#
#   bench/scripts/idle.sh N [parley] [nats]
#
# When RLIMIT_NOFILE is below N (a container without CAP_SYS_RESOURCE), the N connections are
# split over K = ceil(N / per-process capacity) server processes and K generators, all servers on
# the server core; the per-connection figures then sum RSS over the K servers and subtract K
# baselines. The JSON line records K.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N=${1:?usage: idle.sh N [targets...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parley)
raise_limits >/dev/null
nofile=$(ulimit -n)
OUT=${OUT:-$bench/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"; rm -rf "$tmp"; }
trap cleanup EXIT

# Connections one process may hold: its fd limit less room for listeners, logs, epoll, etc.
per_proc=$(( nofile - 256 ))
K=$(( (N + per_proc - 1) / per_proc ))
chunk=$(( (N + K - 1) / K ))

used_kb() { awk '/MemTotal/ {t=$2} /MemAvailable/ {a=$2} END {print t - a}' /proc/meminfo; }
rss_kb() { local s=0 p; for p in "$@"; do s=$(( s + $(awk '/VmRSS/ {print $2}' /proc/$p/status) )); done; echo $s; }
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }

for target in "${targets[@]}"; do
  log "idle N=$N target=$target: $K server(s) x $chunk connections (open files limit $nofile)"
  rm -f "$tmp"/ready-*
  used0=$(used_kb); slab0=$(slab_kb)
  servers=()
  for k in $(seq 0 $((K - 1))); do
    port=$(( 21000 + 2 * k ))
    case $target in
      parley) servers+=("$(start_parleyd $port "parleyd-$k")") ;;
      nats) servers+=("$(start_nats $port "nats-$k")") ;;
      *) echo "idle: unknown target $target" >&2; exit 2 ;;
    esac
  done
  pids=("${servers[@]}")
  sleep 1
  rss0=$(rss_kb "${servers[@]}")
  gens=()
  t0=$(date +%s.%N)
  for k in $(seq 0 $((K - 1))); do
    port=$(( 21000 + 2 * k ))
    first=$(( k * chunk ))
    count=$(( N - first < chunk ? N - first : chunk ))
    creds=()
    [ "$target" = parley ] && creds=(--kid "$PARLEY_KID" --secret "$PARLEY_SECRET")
    # Small socket buffers on the generator side so idle sockets don't autotune upward.
    gen_bg --target "$target" --scenario idle --port "$port" --idle "$count" --idle-first "$first" \
      --sockbuf 4096 --connect-parallel 256 --setup-timeout 600 --ready-file "$tmp/ready-$k" \
      "${creds[@]}" >"$tmp/gen-$k.log" 2>&1
    gens+=("$GEN_PID")
  done
  pids+=("${gens[@]}")
  ok=1
  for k in $(seq 0 $((K - 1))); do
    while [ ! -f "$tmp/ready-$k" ]; do
      if ! kill -0 "${gens[$k]}" 2>/dev/null; then ok=0; cat "$tmp/gen-$k.log" >&2; break; fi
      sleep 0.2
    done
  done
  t1=$(date +%s.%N)
  sleep 3  # let allocations settle (and Go's GC run once)
  rss1=$(rss_kb "${servers[@]}")
  used1=$(used_kb); slab1=$(slab_kb)
  genrss=$(rss_kb "${gens[@]}")
  sockstat=$(tr '\n' ' ' </proc/net/sockstat)
  stop_pids "${gens[@]}"
  stop_pids "${servers[@]}"
  pids=()
  awk -v n="$N" -v k="$K" -v t="$target" -v ok="$ok" -v rss0="$rss0" -v rss1="$rss1" \
      -v u0="$used0" -v u1="$used1" -v s0="$slab0" -v s1="$slab1" -v g="$genrss" \
      -v t0="$t0" -v t1="$t1" -v ss="$sockstat" 'BEGIN {
    secs = t1 - t0
    printf "{\"scenario\":\"idle\",\"target\":\"%s\",\"n\":%d,\"processes\":%d,\"ok\":%s,", t, n, k, ok ? "true" : "false"
    printf "\"setup_s\":%.2f,\"server_rss_kb_before\":%d,\"server_rss_kb_after\":%d,", secs, rss0, rss1
    printf "\"server_bytes_per_conn\":%.0f,\"machine_bytes_per_conn\":%.0f,", (rss1 - rss0) * 1024 / n, (u1 - u0) * 1024 / n
    printf "\"slab_bytes_per_conn\":%.0f,\"generator_bytes_per_conn\":%.0f,", (s1 - s0) * 1024 / n, g * 1024 / n
    printf "\"machine_minus_generator_bytes_per_conn\":%.0f,\"sockstat\":\"%s\"}\n", ((u1 - u0) - g) * 1024 / n, ss
  }' | tee -a "$OUT/idle.jsonl" >&2
done
