// Summarizes a results directory of bench/scripts/run.sh: per scenario and target the median,
// min and max of each figure over the runs, and the ratios Parley / peer taken run by run.
// Usage: node bench/scripts/summarize.mjs bench/results/<stamp>  (markdown to stdout,
// results.csv written beside runs.jsonl).
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
const lines = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);
const runs = lines('runs.jsonl');
const idle = lines('idle.jsonl');
const machine = existsSync(join(dir, 'machine.json')) ? JSON.parse(readFileSync(join(dir, 'machine.json'), 'utf8')) : {};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v, digits = 0) => {
  if (v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)} k`;
  return v.toFixed(digits);
};
const stat = (xs, digits = 0) => (xs.length ? `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})` : '–');

const phase = (r, name) => r.phases.find((p) => p.phase === name);
const scenarioKey = (r) => r.label.replace(/ run=\d+$/, '');
const runIndex = (r) => Number((/run=(\d+)/.exec(r.label) || [])[1] || 0);

// The headline figure of each scenario: [column title, extractor].
const figures = {
  fanout: [
    ['delivered msgs/s (max)', (r) => phase(r, 'max')?.delivered_per_s],
    ['p50 µs @50%', (r) => phase(r, 'latency')?.p50_us],
    ['p99 µs @50%', (r) => phase(r, 'latency')?.p99_us],
    ['p999 µs @50%', (r) => phase(r, 'latency')?.p999_us],
  ],
  channels: [['delivered msgs/s (max)', (r) => phase(r, 'max')?.delivered_per_s]],
  direct: [
    ['directs/s (max)', (r) => phase(r, 'max')?.delivered_per_s],
    ['p50 µs @50%', (r) => phase(r, 'latency')?.p50_us],
    ['p99 µs @50%', (r) => phase(r, 'latency')?.p99_us],
  ],
  'presence-churn': [
    ['joins+leaves/s', (r) => phase(r, 'max')?.joins_leaves_per_s],
    ['presence frames/s', (r) => phase(r, 'max')?.presence_per_s],
    ['p99 µs leave→rejoin snapshot', (r) => phase(r, 'max')?.p99_us],
  ],
  connect: [
    ['handshakes/s', (r) => phase(r, 'max')?.handshakes_per_s],
    ['p99 µs handshake', (r) => phase(r, 'max')?.p99_us],
  ],
};

// The cluster scenario: fanout runs labelled "cluster run=N" against one node and against two
// nodes through Redis, told apart by the target the generator wrote (--target-name). Row titles,
// and its ratio is taken two nodes over one node.
const titles = { 'parley-single': 'single node', 'parley-redis': 'two nodes via Redis' };
const notes = {
  cluster: 'Publisher on node A, subscribers on node B. Targets (BENCH.md): two nodes ≥ 0.50 of single node; p99 ≤ 5 ms through Redis at 50 % load. ' +
    'Every server runs on the one server core: the two-node srv% is node A + node B + redis-server together.',
};

const out = [];
const csv = ['scenario,target,run,figure,value'];
out.push(`# Benchmark results ${machine.date ?? ''}`);
out.push('');
out.push(`Machine: ${machine.cpu ?? '?'}, ${machine.cores ?? '?'} cores, ${machine.memory ?? '?'}; kernel ${machine.kernel ?? '?'}; ` +
  `parley ${machine.parley_commit ?? '?'}, nats-server ${machine.nats_server ?? '?'}, peer ${machine.peer ?? '?'} on node ${machine.node ?? '?'}; ` +
  `open files ${machine.nofile ?? '?'}; load average before: ${machine.load_before ?? '?'}.`);
out.push('');
out.push('Each cell: median (min–max) over the runs. gen% / srv%: highest CPU use of the generator / server core during the max phase (the generator is not the bottleneck while gen% < 90).');
out.push('');

const keys = [...new Set(runs.map(scenarioKey))];
for (const key of keys) {
  const rs = runs.filter((r) => scenarioKey(r) === key);
  const figs = figures[rs[0].scenario] ?? [];
  const targets = [...new Set(rs.map((r) => r.target))];
  out.push(`## ${key}`);
  out.push('');
  if (notes[key]) {
    out.push(notes[key]);
    out.push('');
  }
  out.push(`| target | ${figs.map((f) => f[0]).join(' | ')} | gen% | srv% | errors |`);
  out.push(`|---|${figs.map(() => '---:').join('|')}|---:|---:|---|`);
  for (const t of targets) {
    const tr = rs.filter((r) => r.target === t);
    const cells = figs.map(([, get]) => stat(tr.map(get).filter((v) => v !== undefined)));
    const gen = Math.max(...tr.map((r) => phase(r, 'max')?.gen_cpu ?? 0)) * 100;
    const srv = Math.max(...tr.map((r) => phase(r, 'max')?.server_cpu ?? -1)) * 100;
    const errs = {};
    for (const r of tr) for (const [k, v] of Object.entries(r.errors)) errs[k] = (errs[k] ?? 0) + v;
    const bad = tr.filter((r) => r.rc !== 0).length;
    const errText = [bad ? `${bad} run(s) failed` : '', ...Object.entries(errs).map(([k, v]) => `${k}: ${v}`)].filter(Boolean).join('; ') || '';
    out.push(`| ${titles[t] ?? t} | ${cells.join(' | ')} | ${gen.toFixed(0)} | ${srv.toFixed(0)} | ${errText} |`);
    for (const r of tr) {
      figs.forEach(([name, get]) => { const v = get(r); if (v !== undefined) csv.push(`${key},${t},${runIndex(r)},${name},${v}`); });
    }
  }
  // Ratios run by run: Parley's figure over each peer's in the same round (cluster: two nodes
  // over one node).
  const head = figs[0];
  const pairs = key === 'cluster' ? [['parley-redis', 'parley-single']]
    : targets.includes('parley') ? targets.filter((t) => t !== 'parley').map((peer) => ['parley', peer]) : [];
  if (head) {
    for (const [num, den] of pairs) {
      const ratios = [];
      for (const r of rs.filter((x) => x.target === num)) {
        const other = rs.find((x) => x.target === den && runIndex(x) === runIndex(r));
        const a = head[1](r);
        const b = other && head[1](other);
        if (a && b) ratios.push(a / b);
      }
      if (ratios.length) {
        out.push('');
        out.push(`${num === 'parley' ? 'Parley' : titles[num] ?? num} / ${titles[den] ?? den} (${head[0]}), run by run: ${ratios.map((x) => x.toFixed(2)).join(', ')} — median ${median(ratios).toFixed(2)}`);
        ratios.forEach((x, i) => csv.push(`${key},${num}/${den},${i + 1},ratio ${head[0]},${x}`));
      }
    }
  }
  out.push('');
}

if (idle.length) {
  out.push('## idle');
  out.push('');
  out.push('| target | N | server processes | set-up s | server user-space bytes/conn (RSS Δ / N) | machine bytes/conn (used Δ / N) | of which generator | machine − generator | slab bytes/conn |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of idle) {
    out.push(`| ${r.target} | ${r.n} | ${r.processes} | ${r.setup_s.toFixed(1)} | ${r.server_bytes_per_conn} | ${r.machine_bytes_per_conn} | ${r.generator_bytes_per_conn} | ${r.machine_minus_generator_bytes_per_conn} | ${r.slab_bytes_per_conn} |${r.ok ? '' : ' (set-up incomplete)'}`);
    csv.push(`idle-${r.n},${r.target},1,server bytes per connection,${r.server_bytes_per_conn}`);
    csv.push(`idle-${r.n},${r.target},1,machine bytes per connection,${r.machine_bytes_per_conn}`);
  }
  out.push('');
}

const microFile = join(dir, 'micro.json');
if (existsSync(microFile)) {
  const micro = JSON.parse(readFileSync(microFile, 'utf8'));
  out.push('## micro-benchmarks');
  out.push('');
  out.push('| benchmark | ns per iteration (CPU) | items/s |');
  out.push('|---|---:|---:|');
  for (const b of micro.benchmarks ?? []) {
    const ns = b.time_unit === 'ns' ? b.cpu_time : b.time_unit === 'us' ? b.cpu_time * 1e3 : b.cpu_time * 1e6;
    out.push(`| ${b.name}${b.label ? ` (${b.label})` : ''} | ${ns.toFixed(0)} | ${b.items_per_second ? fmt(b.items_per_second) : '–'} |`);
    csv.push(`micro,${b.name},1,ns per iteration,${ns}`);
  }
  out.push('');
}

writeFileSync(join(dir, 'results.csv'), csv.join('\n') + '\n');
console.log(out.join('\n'));
