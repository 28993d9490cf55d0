// parleyd killed (SIGKILL) and restarted on the same port in the middle of a three-tab call with
// Parley's SDK. Peer ids are stable (JWT `sub`), so after every tab has reconnected and reconciled:
// each RemotePeer is the very object it was before, it went through `connection-reset` and fired
// `stream-added` again, video flows again on the new connections (framesDecoded growing in
// getStats of remote.pc), and the data channels the page re-creates on `connection-reset` carry
// messages again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, defaultKeys, startParleyd } from '../lib/parleyd.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { launchBrowser, makeWebRoot, openPeer, statsOf, summaryOf, waitForVideoEverywhere, waitUntil } from '../lib/browser.mjs';

const token = (sub) => mintToken({ kid: defaultKeys.skId, secret: defaultKeys.skSecret, claims: { sub } });

/** Each tab sends `text` on its data channel to every other tab; waits until all arrived. */
async function exchangeOnChannels(tabs, label) {
  for (const a of tabs) {
    for (const b of tabs.filter((x) => x !== a)) {
      const text = `${label}:${a.name}->${b.name}`;
      await waitUntil(() => a.page.evaluate(([id, t]) => window.h.sendOnChannel(id, t), [b.peerId, text]), {
        timeoutMs: 60000,
        what: `an open data channel ${a.name} → ${b.name} (${label})`,
        detail: () => summaryOf(a.page),
      });
      await waitUntil(async () => (await summaryOf(b.page)).remotes[a.peerId]?.received.includes(text), {
        timeoutMs: 30000,
        what: `${b.name} receiving "${text}"`,
        detail: () => summaryOf(b.page),
      });
    }
  }
}

test('a call heals after parleyd is killed and restarted, keeping every RemotePeer', { timeout: 300000 }, async (t) => {
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const config = defaultConfig({ server: `web_root = "${web.dir}"` });
  let server = await startParleyd({ config });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();

  const tabs = [];
  for (const name of ['ana', 'ben', 'cleo']) {
    const { page, peerId } = await openPeer(context, server, { token: token(name), channel: 'restart-room', name, dataChannels: true });
    tabs.push({ name, page, peerId });
  }
  await waitForVideoEverywhere(tabs);
  await exchangeOnChannels(tabs, 'before');
  for (const tab of tabs) assert.deepEqual((await tab.page.evaluate(() => window.h.keepRefs())).sort(), tabs.filter((x) => x !== tab).map((x) => x.peerId).sort());

  // Kill the server; every tab notices and goes reconnecting.
  const { port } = server;
  await server.kill('SIGKILL');
  for (const tab of tabs) {
    await waitUntil(async () => (await summaryOf(tab.page)).state === 'reconnecting', { timeoutMs: 30000, what: `${tab.name} reconnecting` });
  }
  server = await startParleyd({ config: config.replace('listen = "127.0.0.1:0"', `listen = "127.0.0.1:${port}"`) });

  // Everyone reconciles: same objects, a connection reset each, stream-added again.
  for (const tab of tabs) {
    await waitUntil(async () => {
      const s = await summaryOf(tab.page);
      return s.state === 'joined' && Object.values(s.remotes).every((r) => r.resets >= 1 && r.streamAdded >= 2 && r.state === 'connected');
    }, { timeoutMs: 90000, what: `${tab.name} reconciled`, detail: () => summaryOf(tab.page) });
    const same = await tab.page.evaluate(() => window.h.sameRefs());
    assert.deepEqual(Object.values(same), [true, true], `${tab.name}: RemotePeer objects kept (${JSON.stringify(same)})`);
    const s = await summaryOf(tab.page);
    assert.ok(!s.log.some(([k]) => k === 'peer-left'), `${tab.name}: no peer-left (${JSON.stringify(s.log)})`);
    for (const r of Object.values(s.remotes)) assert.equal(r.streamRemoved, 0, `${tab.name}: no stream-removed across the reset`);
  }

  // Video flows again on the new connections (remote.pc is the new RTCPeerConnection).
  await waitForVideoEverywhere(tabs);
  for (const a of tabs) {
    for (const b of tabs.filter((x) => x !== a)) assert.equal((await statsOf(a.page, b.peerId)).connectionState, 'connected');
  }
  // And the data channels re-created on connection-reset carry messages.
  await exchangeOnChannels(tabs, 'after');
});
