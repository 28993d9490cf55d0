// Builds parleyd TOML configurations from objects, for tests that need [server] or per-app
// settings the defaultConfig() of parleyd.mjs fixes (e.g. drain_window).
import { defaultKeys } from './parleyd.mjs';

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
