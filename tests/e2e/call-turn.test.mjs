// A relay-only call (iceTransportPolicy "relay") through a real coturn, using only the TURN
// credentials parleyd put in the welcome (PROTOCOL.md §16): MeteredPeer hands welcome
// metadata.iceServers to every RTCPeerConnection it builds, the page only adds the relay policy.
// Video is decoded on both sides and the selected candidate pair is relay on both ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startCoturn } from '../lib/coturn.mjs';
import { defaultConfig, defaultKeys, startParleyd } from '../lib/parleyd.mjs';
import { launchBrowser, makeWebRoot, openPeer, statsOf, summaryOf, waitForVideoEverywhere } from '../lib/browser.mjs';

test('a relay-only call goes through coturn with the TURN credentials from the welcome', { timeout: 240000 }, async (t) => {
  const secret = randomBytes(16).toString('hex');
  const turn = await startCoturn({ secret });
  t.after(() => turn.stop());
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const url = `turn:127.0.0.1:${turn.port}?transport=udp`;
  const server = await startParleyd({
    config: defaultConfig({
      server: `web_root = "${web.dir}"`,
      apps: `
[[apps]]
id = "test"
[apps.turn]
secret = "${secret}"
urls = ["${url}"]
ttl = 3600
[[apps.keys]]
type = "publishable"
id = "${defaultKeys.pk}"
channels = ["**"]
actions = ["subscribe", "publish", "presence", "send"]
`,
    }),
  });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();

  const tabs = [];
  for (const name of ['north', 'south']) {
    const { page, peerId } = await openPeer(context, server, { apiKey: defaultKeys.pk, channel: 'turn-room', name, relay: true });
    tabs.push({ name, page, peerId });
  }
  await waitForVideoEverywhere(tabs);
  // Each connection was built with exactly the welcome's iceServers: this peer's TURN credential.
  // Checked once video flows: a tab builds its connection when it learns of the other peer
  // (presence, or the other's offer), which can come after the other tab's openPeer returned.
  for (const tab of tabs) {
    const configs = await tab.page.evaluate(() => window.h.configs);
    assert.equal(configs.length, 1, `${tab.name} built one connection`);
    const [server0, ...rest] = configs[0].iceServers;
    assert.deepEqual(rest, []);
    assert.deepEqual(server0.urls, [url]);
    assert.match(server0.username, new RegExp(`^\\d+:${tab.peerId}$`));
    assert.equal(typeof server0.credential, 'string');
  }

  for (const a of tabs) {
    const b = tabs.find((x) => x !== a);
    const s = await statsOf(a.page, b.peerId);
    assert.deepEqual([s.local, s.remote], ['relay', 'relay'], `${a.name}: selected pair is relay/relay (${JSON.stringify(s)})`);
    assert.equal((await summaryOf(a.page)).remotes[b.peerId].state, 'connected');
  }
});
