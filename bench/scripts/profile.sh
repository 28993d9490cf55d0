#!/usr/bin/env bash
# Profiles of parleyd in the top scenarios, for whoever optimizes the server:
#  - perf (cpu-clock sampling, kernel + user; works where hardware counters are not exposed, as
#    in this VM where `perf stat -e instructions` reports <not supported>), flat by symbol;
#  - valgrind --tool=callgrind on a short, light run: user-space instruction counts.
# Writes bench/results/profiles-<stamp>/<scenario>.{perf,callgrind}.txt.
#
#   bench/scripts/profile.sh [fanout-1000 channels direct connect presence-churn]
#   PROFILERS="perf" bench/scripts/profile.sh fanout-1000
set -euo pipefail
source "$(dirname "$0")/lib.sh"

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(fanout-1000 channels direct connect presence-churn)
PROFILERS=${PROFILERS:-perf callgrind}
raise_limits >/dev/null
OUT=${OUT:-$bench/results/profiles-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
tmp=$(mktemp -d)
pids=()
cleanup() { [ ${#pids[@]} -eq 0 ] || stop_pids "${pids[@]}"; rm -rf "$tmp"; }
trap cleanup EXIT
creds=(--key "$PARLEY_KEY" --kid "$PARLEY_KID" --secret "$PARLEY_SECRET")

# Generator arguments of each scenario (max-rate phase only).
args_of() {
  case $1 in
    fanout-*) echo "--scenario fanout --subscribers ${1#fanout-}" ;;
    channels) echo "--scenario channels --connections 10000 --channels 1000 --publishers 100 --batch 8" ;;
    direct) echo "--scenario direct --pairs 1000 --batch 8" ;;
    connect) echo "--scenario connect --concurrency 64" ;;
    presence-churn) echo "--scenario presence-churn --members 1000 --churners 16 --key $PARLEY_PRESENCE_KEY" ;;
    *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
}

for s in "${scenarios[@]}"; do
  read -ra a <<<"$(args_of "$s")"
  if [[ " $PROFILERS " == *" perf "* ]]; then
    log "perf: $s"
    p=$(start_parleyd 22080); pids=("$p")
    gen_bg --target parley --port 22080 "${creds[@]}" "${a[@]}" --warmup 1 --duration 6 \
      --latency-duration 0 --server-pid "$p" >"$tmp/gen.log" 2>&1
    g=$GEN_PID
    sleep 2.5  # set-up and warm-up
    perf record -q -e cpu-clock -F 2000 -g -p "$p" -o "$tmp/perf.data" -- sleep 4 2>/dev/null
    wait $g || true
    {
      echo "# parleyd, scenario $s, perf record -e cpu-clock (4 s of the max-rate phase)"
      sed 's/^/# /' "$tmp/gen.log"
      echo "## by object"
      perf report -i "$tmp/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]'
      echo "## flat, by symbol (self time)"
      perf report -i "$tmp/perf.data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40
      echo "## user-space symbols of parleyd only (self time, % of all samples)"
      perf report -i "$tmp/perf.data" --no-children --dsos parleyd --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25
      echo "## inclusive (children), top entries"
      perf report -i "$tmp/perf.data" --children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40
    } >"$OUT/$s.perf.txt"
    stop_pids "$p"; pids=()
  fi
  if [[ " $PROFILERS " == *" callgrind "* ]]; then
    log "callgrind: $s"
    taskset -c "$SERVER_CORE" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
      "$PARLEYD" --config "$bench/parley-bench.toml" --listen 127.0.0.1:22081 --threads 1 \
      >"$tmp/cg.log" 2>&1 &
    p=$!; pids=("$p")
    wait_listening "$tmp/cg.log" "$p"
    # Under valgrind parleyd runs ~50x slower: a smaller, shorter run, same code paths.
    case $s in
      fanout-*) small=(--scenario fanout --subscribers 200) ;;
      channels) small=(--scenario channels --connections 2000 --channels 200 --publishers 20 --batch 8) ;;
      direct) small=(--scenario direct --pairs 200 --batch 8) ;;
      *) small=("${a[@]}") ;;
    esac
    gen --target parley --port 22081 "${creds[@]}" "${small[@]}" --warmup 0.5 --duration 4 \
      --latency-duration 0 --setup-timeout 120 >"$tmp/gen.log" 2>&1 || true
    stop_pids "$p"; pids=()
    {
      echo "# parleyd under callgrind, scenario $s (reduced: ${small[*]})"
      sed 's/^/# /' "$tmp/gen.log"
      callgrind_annotate --inclusive=no "$tmp/cg.out" 2>/dev/null | head -45
      echo "## inclusive"
      callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null | sed -n '1,60p' | tail -40
    } >"$OUT/$s.callgrind.txt"
  fi
done
log "profiles in ${OUT#$root/}"
