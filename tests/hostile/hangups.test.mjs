// Clients that hang up during or right after the upgrade: a FIN sent with the request, a reset
// right after it, a hang-up as soon as the 101 arrives, early frames followed by a FIN.
// Regression: when admission finished inline (the peer's home shard is the connection's own) and
// the input that followed found the peer gone, the connection was deleted inside
// connection::start(), which then read its fields (heap-use-after-free; found by the connection
// flood of floods.test.mjs under ASan). parleyd must survive all of it; the pair is unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { handshakeRequest, textFrame, pingFrame } from '../lib/rawws.mjs';
import { httpGet } from '../lib/rawhttp.mjs';
import { startHostile, startPair, connectionsSettle, tcpConnect, metric } from '../lib/hostile.mjs';

function upgradeBytes(srv, query = `key=${defaultKeys.pk}`) {
  return Buffer.from(handshakeRequest({ host: srv.host, port: srv.port, query, wsKey: 'dGhlIHNhbXBsZSBub25jZQ==' }));
}

test('hang-ups during and right after the upgrade leave parleyd and the pair unharmed', async (t) => {
  // Several shards, so that some peers' homes are the accepting shard (inline admission) and
  // some are not.
  const srv = await startHostile({ server: { threads: 4 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const admittedBefore = await metric(srv, 'parley_connections_admitted_total');

  const ways = {
    // The request and a FIN in one go.
    finWithRequest: async (s) => { s.end(upgradeBytes(srv)); },
    // The request, early frames, then a FIN.
    finAfterFrames: async (s) => {
      s.end(Buffer.concat([upgradeBytes(srv), textFrame('{"type":"subscribe","channel":"pair","requestId":"x"}'), pingFrame('p')]));
    },
    // The request, then a reset.
    resetAfterRequest: async (s) => { s.write(upgradeBytes(srv)); setImmediate(() => s.resetAndDestroy()); },
    // Hang up as soon as anything of the response arrives.
    hangUpOn101: async (s) => { s.once('data', () => s.destroy()); s.write(upgradeBytes(srv)); },
    // A bad credential (closed 4001 at once) and a FIN.
    badKeyFin: async (s) => { s.end(upgradeBytes(srv, 'key=pk_live_nope')); },
  };
  for (let round = 0; round < 5; round++) {
    const sockets = [];
    for (const way of Object.values(ways)) {
      for (let i = 0; i < 20; i++) {
        const s = await tcpConnect(srv);
        await way(s);
        sockets.push(s);
      }
    }
    await Promise.all(sockets.map((s) => s.gone));
    await pair.progress(3);
  }
  assert.equal((await httpGet(srv, '/healthz')).status, 200, 'parleyd is alive');
  assert.ok(await metric(srv, 'parley_connections_admitted_total') > admittedBefore, 'some hang-ups were admitted before they were seen');
  await connectionsSettle(srv, 2);
  await pair.check();
});
