// Builds parleyd TOML configurations from objects, for tests that need [server] or per-app
// settings the defaultConfig() of parleyd.mjs fixes (e.g. drain_window).
import { before, after } from 'node:test';
import { startParleyd, defaultKeys } from './parleyd.mjs';
import { RawWs } from './rawws.mjs';

function tomlValue(v) {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tomlValue).join(', ')}]`;
  return String(v);
}

function table(obj) {
  return Object.entries(obj).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} = ${tomlValue(v)}`).join('\n');
}

/**
 * server: [server] options (merged over listen = 127.0.0.1:0, threads, drain_window = 1);
 * app: options of the single app "test" (its keys are defaultKeys, the publishable one with all
 * four actions).
 */
export function buildConfig({ server = {}, app = {} } = {}) {
  const s = { listen: '127.0.0.1:0', threads: Number(process.env.PARLEY_TEST_THREADS || 2), drain_window: 1, ...server };
  const a = { id: 'test', ...app };
  return `[server]
${table(s)}

[[apps]]
${table(a)}
[[apps.keys]]
type = "publishable"
id = "${defaultKeys.pk}"
channels = ["**"]
actions = ["subscribe", "publish", "presence", "send"]
[[apps.keys]]
type = "secret"
id = "${defaultKeys.skId}"
secret = "${defaultKeys.skSecret}"
channels = ["**"]
`;
}

/**
 * One parleyd shared by every test of a file that opens many raw connections: registers the
 * file's before/after hooks, starts buildConfig({ server, app }) with a generous per-IP connect
 * bucket under `server`, and calls started(srv) once it listens. Returns open(opts): a RawWs
 * welcomed with the publishable key (opts add to or override it), destroyed by `after`.
 */
export function sharedRawServer({ server = {}, app = {} } = {}, started) {
  let srv;
  const opened = [];
  before(async () => {
    srv = await startParleyd({
      config: buildConfig({ server: { connect_burst_per_ip: 10000, connect_rate_per_ip: 1000, ...server }, app }),
    });
    started(srv);
  });
  after(async () => {
    for (const c of opened) c.destroy();
    await srv?.stop();
  });
  return async function open(opts = {}) {
    const c = await RawWs.open(srv, { key: defaultKeys.pk, ...opts });
    opened.push(c);
    return c;
  };
}
