# Shared by the bench scripts: paths, limits, starting and stopping each server with the same
# pinning (server on core 0, generator on core 1), machine description. Source it, don't run it.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=$root/bench
build=${PARLEY_BENCH_BUILD:-$root/build/release}
PARLEYD=$build/server/parleyd
LOAD=$build/bench/parley-load
LIMIT=$build/bench/parley-limit
MICRO=$build/bench/parley-micro
SERVER_CORE=${SERVER_CORE:-0}
GEN_CORE=${GEN_CORE:-1}
PARLEY_KEY=pk_live_benchfanout000000000000000000000000
PARLEY_PRESENCE_KEY=pk_live_benchpresence0000000000000000000000
PARLEY_KID=sk_id_bench000000000000000000000000000000000
PARLEY_SECRET=sk_secret_bench00000000000000000000000000000000

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Raises the open-file limit as far as this machine lets us: fs.nr_open first (sysctl, root
# only), then the hard and soft RLIMIT_NOFILE. Raising the hard limit needs CAP_SYS_RESOURCE;
# without it the soft limit goes up to the hard one. Prints the limit in force.
raise_limits() {
  local want=${1:-1100000}
  if [ "$(id -u)" -eq 0 ] && [ "$(cat /proc/sys/fs/nr_open)" -lt "$want" ]; then
    sysctl -qw fs.nr_open="$want" 2>/dev/null || true
  fi
  ulimit -Hn "$want" 2>/dev/null || true
  ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
  # Accept backlog for connection bursts; harmless when already higher or not permitted.
  if [ "$(id -u)" -eq 0 ]; then
    [ "$(cat /proc/sys/net/core/somaxconn)" -ge 65535 ] || sysctl -qw net.core.somaxconn=65535 2>/dev/null || true
    [ "$(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)" -ge 65535 ] || sysctl -qw net.ipv4.tcp_max_syn_backlog=65535 2>/dev/null || true
  fi
  ulimit -n
}

# Waits until FILE contains "listening on HOST:PORT" or until the process dies.
wait_listening() {
  local file=$1 pid=$2
  for _ in $(seq 200); do
    grep -q 'listening on' "$file" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; return 1; }
    sleep 0.05
  done
  cat "$file" >&2
  return 1
}

# Waits until something accepts TCP connections on 127.0.0.1:PORT.
wait_port() {
  local port=$1
  for _ in $(seq 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Each start_* prints the server's pid; its output goes to $tmp/<name>.log.
# start_parleyd PORT [NAME] [CONFIG]: CONFIG defaults to parley-bench.toml.
start_parleyd() {
  local port=$1 name=${2:-parleyd} config=${3:-$bench/parley-bench.toml}
  taskset -c "$SERVER_CORE" "$PARLEYD" --config "$config" \
    --listen "127.0.0.1:$port" --threads 1 >"$tmp/$name.log" 2>&1 &
  local pid=$!
  wait_listening "$tmp/$name.log" $pid || { kill -TERM "$pid" 2>/dev/null; return 1; }
  echo $pid
}

# start_parleyd_redis PORT NODE_ID REDIS_PORT [NAME]: parleyd as start_parleyd, one node of a
# cluster sharing the redis-server on REDIS_PORT ([engine] type = "redis", appended to a copy of
# parley-bench.toml in $tmp; every node of a cluster gets its own NODE_ID). Waits until /readyz
# answers 200, i.e. the node is connected to Redis.
start_parleyd_redis() {
  local port=$1 node=$2 redis_port=$3 name=${4:-parleyd-$2}
  { cat "$bench/parley-bench.toml"
    printf '\n[engine]\ntype = "redis"\nurl = "redis://127.0.0.1:%s"\nprefix = "bench"\nnode_id = "%s"\n' \
      "$redis_port" "$node"
  } >"$tmp/$name.toml"
  local pid
  pid=$(start_parleyd "$port" "$name" "$tmp/$name.toml") || return 1
  await_ready "$pid" "$tmp/$name.log" curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"
}

# await_ready PID LOG CHECK...: waits (10 s at most, while PID lives) until the command CHECK
# succeeds, then prints PID. Otherwise shows LOG, stops PID and fails.
await_ready() {
  local pid=$1 log=$2
  shift 2
  for _ in $(seq 200); do
    "$@" && { echo "$pid"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$log" >&2
  kill -TERM "$pid" 2>/dev/null || true
  return 1
}

redis_pong() { [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; }

# redis-server on 127.0.0.1:PORT, nothing saved, on the server core.
start_redis() {
  local port=$1 name=${2:-redis}
  taskset -c "$SERVER_CORE" redis-server --port "$port" --save '' --appendonly no \
    --bind 127.0.0.1 >"$tmp/$name.log" 2>&1 &
  await_ready $! "$tmp/$name.log" redis_pong "$port"
}

# nats-server with its WebSocket listener on PORT (client port PORT+1), one Go thread.
start_nats() {
  local port=$1 name=${2:-nats}
  sed -e "s/\"127.0.0.1:4222\"/\"127.0.0.1:$((port + 1))\"/" \
      -e "s/\"127.0.0.1:8222\"/\"127.0.0.1:$port\"/" "$bench/nats-bench.conf" >"$tmp/$name.conf"
  GOMAXPROCS=1 taskset -c "$SERVER_CORE" nats-server -c "$tmp/$name.conf" >"$tmp/$name.log" 2>&1 &
  local pid=$!
  wait_port "$port" || { cat "$tmp/$name.log" >&2; return 1; }
  echo $pid
}

# The PeerJS server from npm (bench/node_modules), all of node's threads on the server core.
start_peerjs() {
  local port=$1
  taskset -c "$SERVER_CORE" node "$bench/node_modules/peer/dist/bin/peerjs.js" --host 127.0.0.1 \
    --port "$port" --concurrent_limit 1000000 >/dev/null 2>"$tmp/peerjs.log" &
  local pid=$!
  wait_port "$port" || { cat "$tmp/peerjs.log" >&2; return 1; }
  echo $pid
}

start_limit() {
  local port=$1
  taskset -c "$SERVER_CORE" "$LIMIT" "$port" >"$tmp/limit.log" 2>&1 &
  local pid=$!
  wait_listening "$tmp/limit.log" $pid || return 1
  echo $pid
}

# Stops the given pids (SIGTERM, then SIGKILL after 10 s) and waits for them.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# Runs the generator pinned to the generator core; extra arguments are passed through.
gen() {
  taskset -c "$GEN_CORE" "$LOAD" "$@"
}

# Starts the generator in the background; its pid (the generator's own, not a subshell's, so
# that stop_pids really stops it) goes to the variable GEN_PID. Redirect as for any command.
gen_bg() {
  taskset -c "$GEN_CORE" "$LOAD" "$@" &
  GEN_PID=$!
}

# One JSON object describing the machine and the software measured.
machine_json() {
  local cpu kernel mem
  cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
  kernel=$(uname -r)
  mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  printf '{"date":"%s","kernel":"%s","cpu":"%s","cores":%s,"memory":"%s","nofile":%s,' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$kernel" "$cpu" "$(nproc)" "$mem" "$(ulimit -n)"
  printf '"parley_commit":"%s","nats_server":"%s","peer":"%s","node":"%s","load_before":"%s"}\n' \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(nats-server --version 2>/dev/null | awk '{print $2}')" \
    "$(node -p "require('$bench/node_modules/peer/package.json').version" 2>/dev/null)" \
    "$(node --version 2>/dev/null)" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
