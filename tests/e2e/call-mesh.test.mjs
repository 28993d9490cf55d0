// Three browser tabs with Parley's SDK (the built bundle) join one room of a real parleyd with a
// publishable key: they find each other through presence, negotiate by themselves, and every tab
// decodes video from the other two (framesDecoded from getStats, growing), with the senders'
// names delivered as stream metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, defaultKeys, startParleyd } from '../lib/parleyd.mjs';
import { launchBrowser, makeWebRoot, openPeer, summaryOf, waitForVideoEverywhere } from '../lib/browser.mjs';

test('three Parley tabs in one room all see and decode each other', { timeout: 240000 }, async (t) => {
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const server = await startParleyd({ config: defaultConfig({ server: `web_root = "${web.dir}"` }) });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();

  const tabs = [];
  for (const name of ['ana', 'ben', 'cleo']) {
    const { page, peerId } = await openPeer(context, server, { apiKey: defaultKeys.pk, channel: 'mesh-room', name });
    tabs.push({ name, page, peerId });
  }
  await waitForVideoEverywhere(tabs);

  for (const tab of tabs) {
    const s = await summaryOf(tab.page);
    assert.equal(s.state, 'joined');
    const others = tabs.filter((o) => o !== tab);
    assert.deepEqual(Object.keys(s.remotes).sort(), others.map((o) => o.peerId).sort(), `${tab.name} knows exactly the other two`);
    for (const o of others) {
      const r = s.remotes[o.peerId];
      assert.equal(r.state, 'connected', `${tab.name} → ${o.name}`);
      assert.deepEqual(r.names, [o.name], `${tab.name} got ${o.name}'s name once, with the stream`);
      assert.deepEqual(r.negotiationErrors, [], `${tab.name} → ${o.name}: no negotiation error`);
    }
  }
});
