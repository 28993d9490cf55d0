// Browser tests: headless Chromium (Debian's, driven by playwright-core) with a fake camera and
// microphone, and the web root a test's parleyd serves: the demo pages of web/, the test pages of
// tests/e2e/pages/, Parley's SDK built from sdk/js by its own build code (sdk/parley.js) and the
// official @metered-ca/realtime 1.2.0 (sdk/metered.mjs).
import { copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Launches one headless Chromium for a test file (close it in t.after / after()). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // Several tabs run calls at once: none of them may be throttled as a background tab.
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
}

/**
 * Makes a temporary web root (see the file header). The SDK is built with the same esbuild
 * options as sdk/js/dist (scripts/browser-bundle.mjs) into this directory, so a concurrent
 * `npm run build` rewriting dist/ cannot disturb the test. Returns { dir, remove() }.
 */
export async function makeWebRoot() {
  const dir = mkdtempSync(join(tmpdir(), 'parley-web-'));
  cpSync(join(repo, 'web'), dir, { recursive: true, filter: (src) => !src.startsWith(join(repo, 'web', 'sdk')) });
  cpSync(join(repo, 'tests/e2e/pages'), dir, { recursive: true });
  const { buildBrowserBundle } = await import(join(repo, 'sdk/js/scripts/browser-bundle.mjs'));
  await buildBrowserBundle(join(dir, 'sdk/parley.js'));
  copyFileSync(join(repo, 'tests/node_modules/@metered-ca/realtime/dist/index.mjs'), join(dir, 'sdk/metered.mjs'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `fn` (async allowed) until it returns a truthy value, which is returned. On timeout,
 * throws with `what` and the last value or error (and `detail()` if given) in the message.
 */
export async function waitUntil(fn, { timeoutMs = 60000, intervalMs = 250, what = 'condition', detail } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const extra = detail ? `\n${JSON.stringify(await detail().catch((e) => String(e)), null, 1)}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}${extra}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Opens the harness page (tests/e2e/pages/harness.html) served by `server` in a new tab and
 * starts a MeteredPeer there with `opts` (see the page). Resolves { page, peerId }.
 */
export async function openPeer(context, server, opts) {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[tab ${opts.name ?? ''}] page error:`, err.message));
  await page.goto(`${server.url}/harness.html`);
  await page.waitForFunction(() => window.harnessReady === true);
  const peerId = await page.evaluate((o) => window.h.start(o), { url: server.ws, ...opts });
  return { page, peerId };
}

/** Frames decoded (and the selected candidate types) on `page`'s connection to `remoteId`. */
export function statsOf(page, remoteId) {
  return page.evaluate((id) => window.h.stats(id), remoteId);
}

export function summaryOf(page) {
  return page.evaluate(() => window.h.summary());
}

/**
 * Waits until every tab decodes video from every other tab: framesDecoded > 0 in getStats of each
 * connection, read twice at least a second apart to see it grow (video flows, not just started).
 */
export async function waitForVideoEverywhere(tabs, { timeoutMs = 90000 } = {}) {
  const pairs = tabs.flatMap((a) => tabs.filter((b) => b !== a).map((b) => [a, b]));
  for (const [a, b] of pairs) {
    const first = await waitUntil(async () => {
      const s = await statsOf(a.page, b.peerId);
      return s && s.framesDecoded > 0 ? s : null;
    }, {
      timeoutMs,
      what: `${a.name} decoding video from ${b.name}`,
      detail: async () => ({ [a.name]: await summaryOf(a.page), [b.name]: await summaryOf(b.page) }),
    });
    await waitUntil(async () => (await statsOf(a.page, b.peerId))?.framesDecoded > first.framesDecoded, {
      timeoutMs: 30000,
      what: `${a.name}: framesDecoded from ${b.name} growing`,
    });
  }
}
