// Parses the Prometheus text exposition format (0.0.4) that /metrics returns.
import { httpGet } from './rawhttp.mjs';

function parseLabels(s) {
  const out = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
  let m;
  while ((m = re.exec(s))) out[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
  return out;
}

/** Returns { samples: [{name, labels, value}], types: {name: type} }. */
export function parseMetrics(text) {
  const samples = [];
  const types = {};
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)/.exec(line);
      if (m) types[m[1]] = m[2];
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${JSON.stringify(line)}`);
    const v = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    samples.push({ name: m[1], labels: m[3] ? parseLabels(m[3]) : {}, value: v });
  }
  return { samples, types };
}

/** The value of the sample `name` whose labels equal `labels` exactly; undefined when absent. */
export function metricValue(parsed, name, labels = {}) {
  const want = Object.entries(labels);
  const s = parsed.samples.find((x) => x.name === name
    && Object.keys(x.labels).length === want.length
    && want.every(([k, v]) => x.labels[k] === String(v)));
  return s?.value;
}

export async function scrape(srv) {
  const res = await httpGet(srv, '/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.body}`);
  return Object.assign(parseMetrics(res.body), { response: res });
}
