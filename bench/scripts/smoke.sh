#!/usr/bin/env bash
# Smoke run of the bench tools (ctest label `bench`): parley-load drives a 1-second fan-out
# through parley-limit. Checks that both execute and messages arrive; asserts nothing on speed.
set -euo pipefail
load=$1 limit=$2
out=$(mktemp)
"$limit" 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
port=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$out")
"$load" --target limit --scenario fanout --port "$port" --subscribers 10 \
  --warmup 0.2 --duration 0.5 --latency-duration 0.5 | tee /dev/stderr | awk '
  $1 == "max" && $4 > 0 { ok = 1 } END { exit ok ? 0 : 1 }'
