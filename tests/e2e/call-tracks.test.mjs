// Two tabs with Parley's SDK:
// - replaceTrack swaps the camera for another video track (a red canvas) with no renegotiation:
//   no negotiationneeded / signaling change on the sender's connection, the receiver's remote SDP
//   unchanged, and the receiver shows red frames, still decoding;
// - a data channel opened with remote.pc.createDataChannel (wrapped in the SDK's DataChannel) at
//   peer-joined, and again on connection-reset, carries messages before and after one tab's
//   signalling connection drops (that tab keeps its RemotePeer; the other sees the peer rejoin).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, defaultKeys, startParleyd } from '../lib/parleyd.mjs';
import { mintToken } from '../lib/jwt.mjs';
import { launchBrowser, makeWebRoot, openPeer, sleep, statsOf, summaryOf, waitForVideoEverywhere, waitUntil } from '../lib/browser.mjs';

const token = (sub) => mintToken({ kid: defaultKeys.skId, secret: defaultKeys.skSecret, claims: { sub } });

async function exchange(from, to, text) {
  await waitUntil(() => from.page.evaluate(([id, t]) => window.h.sendOnChannel(id, t), [to.peerId, text]), {
    timeoutMs: 60000,
    what: `an open data channel ${from.name} → ${to.name}`,
    detail: () => summaryOf(from.page),
  });
  await waitUntil(async () => (await summaryOf(to.page)).remotes[from.peerId]?.received.includes(text), {
    timeoutMs: 30000,
    what: `${to.name} receiving "${text}"`,
    detail: () => summaryOf(to.page),
  });
}

test('replaceTrack without renegotiation, and data channels re-created after a drop', { timeout: 240000 }, async (t) => {
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const server = await startParleyd({ config: defaultConfig({ server: `web_root = "${web.dir}"` }) });
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();

  const tabs = [];
  for (const name of ['alice', 'bob']) {
    const { page, peerId } = await openPeer(context, server, { token: token(name), channel: 'tracks-room', name, dataChannels: true });
    tabs.push({ name, page, peerId });
  }
  const [alice, bob] = tabs;
  await waitForVideoEverywhere(tabs);

  await t.test('replaceTrack swaps the camera with no renegotiation', async () => {
    const sdpBefore = await bob.page.evaluate((id) => window.h.remoteSdp(id), alice.peerId);
    const framesBefore = (await statsOf(bob.page, alice.peerId)).framesDecoded;
    const colourBefore = await bob.page.evaluate((id) => window.h.centerColor(id), alice.peerId);
    assert.ok(colourBefore && !(colourBefore[0] > 180 && colourBefore[1] < 80), `the camera is not red yet: ${colourBefore}`);

    const r = await alice.page.evaluate(() => window.h.replaceCamera());
    assert.deepEqual(r, { meta: { name: 'alice', role: 'camera' }, oldMeta: null }, 'the metadata follows the new track');
    await waitUntil(async () => {
      const c = await bob.page.evaluate((id) => window.h.centerColor(id), alice.peerId);
      return c && c[0] > 180 && c[1] < 80 && c[2] < 80;
    }, { timeoutMs: 30000, what: 'bob seeing the red canvas instead of the camera' });
    await sleep(1000);
    assert.equal(await alice.page.evaluate(() => window.h.renegotiations), 0, 'no negotiationneeded or signaling change at alice');
    assert.equal(await bob.page.evaluate((id) => window.h.remoteSdp(id), alice.peerId), sdpBefore, "bob's remote description unchanged");
    assert.ok((await statsOf(bob.page, alice.peerId)).framesDecoded > framesBefore, 'bob keeps decoding');
  });

  await t.test('a data channel is re-created on connection-reset and carries messages after a drop', async () => {
    await exchange(alice, bob, 'before-drop');
    await exchange(bob, alice, 'before-drop-reply');
    await alice.page.evaluate(() => window.h.keepRefs());

    await alice.page.evaluate(() => window.h.dropSocket());
    await waitUntil(async () => {
      const s = await summaryOf(alice.page);
      return s.state === 'joined' && s.remotes[bob.peerId]?.resets === 1;
    }, { timeoutMs: 60000, what: 'alice reconnected and reset her connection to bob', detail: () => summaryOf(alice.page) });
    assert.deepEqual(await alice.page.evaluate(() => window.h.sameRefs()), { [bob.peerId]: true }, 'alice keeps her RemotePeer for bob');

    await exchange(alice, bob, 'after-drop');
    await exchange(bob, alice, 'after-drop-reply');
    const s = await summaryOf(alice.page);
    assert.ok(s.remotes[bob.peerId].streamAdded >= 2, 'stream-added fired again at alice');
    await waitForVideoEverywhere(tabs);
  });
});
