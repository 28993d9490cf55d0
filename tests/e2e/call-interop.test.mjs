// A mixed room: tabs with Parley's SDK and tabs with the official @metered-ca/realtime 1.2.0 call
// each other through a real parleyd. Stable peer ids (JWT `sub`) make both negotiation roles
// happen across SDKs: "a-parley" < "b-official" (Parley is polite), "b-official" < "c-parley"
// (the official SDK is polite). Every tab decodes video from every other (getStats), and Parley's
// tabs read the senders' names from the track metadata the official SDK sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, defaultKeys, startParleyd } from '../lib/parleyd.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { launchBrowser, makeWebRoot, openPeer, summaryOf, waitForVideoEverywhere } from '../lib/browser.mjs';

const token = (sub) => mintToken({ kid: defaultKeys.skId, secret: defaultKeys.skSecret, claims: { sub } });

test('Parley and official SDK tabs call each other in both directions', { timeout: 240000 }, async (t) => {
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const server = await startParleyd({ config: defaultConfig({ server: `web_root = "${web.dir}"` }) });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();

  const tabs = [];
  // Joined in an order that makes each SDK both the newcomer (it learns the others from the
  // snapshot) and the member already present (it learns the newcomer from a delta).
  for (const [name, sdk] of [['b-official', 'official'], ['a-parley', 'parley'], ['c-parley', 'parley']]) {
    const { page, peerId } = await openPeer(context, server, { sdk, token: token(name), channel: 'mixed-room', name });
    assert.equal(peerId, name);
    tabs.push({ name, sdk, page, peerId });
  }
  await waitForVideoEverywhere(tabs);

  const all = {};
  for (const tab of tabs) all[tab.name] = await summaryOf(tab.page);
  for (const tab of tabs) {
    const s = all[tab.name];
    assert.equal(s.state, 'joined', tab.name);
    for (const o of tabs.filter((x) => x !== tab)) {
      const r = s.remotes[o.peerId];
      assert.ok(r, `${tab.name} knows ${o.name}`);
      assert.equal(r.state, 'connected', `${tab.name} → ${o.name}`);
      // Parley's receiver resolves metadata through the SDP's msid, so it gets the names from
      // both SDKs (the official receiver misses them when its own transceiver was reused).
      if (tab.sdk === 'parley') assert.deepEqual(r.names, [o.name], `${tab.name} got ${o.name}'s name: ${JSON.stringify(all)}`);
    }
  }
});
