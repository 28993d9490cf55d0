// Hostile clients that hold connections without finishing anything: slow handshakes (slowloris),
// silent and half-open sockets before and after the upgrade, and frames that never complete.
// parleyd must cut them off (the 10 s request timeout before the upgrade, idle_timeout after
// it) while a well-behaved pair keeps exchanging messages without error or loss, and newcomers
// are still served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { RawClient } from '../lib/client.mjs';
import { RawWs, buildFrame, OP } from '../lib/rawws.mjs';
import { startHostile, startPair, watchRss, connectionsSettle, tcpConnect, sleep } from '../lib/hostile.mjs';

// Resolves when every socket has been closed by the server, or fails after `ms`.
async function allClosed(sockets, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${sockets.filter((s) => !s.destroyed && !s.readableEnded).length} ${what} still open after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.all(sockets.map((s) => s.gone)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('slowloris: request heads sent a byte at a time are cut off; the pair and newcomers are unaffected', async (t) => {
  const srv = await startHostile();
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);

  const head = `GET /v1?key=${defaultKeys.pk} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Padding: ' + 'p'.repeat(2000);
  const slow = [];
  for (let i = 0; i < 200; i++) slow.push(await tcpConnect(srv));
  // Trickle one byte per socket every 250 ms: never a complete head.
  let pos = 0;
  const trickle = setInterval(() => {
    const byte = head[pos++ % head.length];
    for (const s of slow) if (!s.destroyed) s.write(byte);
  }, 250);
  t.after(() => clearInterval(trickle));

  // While they hang, the pair progresses and a newcomer is admitted.
  await pair.progress(10);
  const late = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await late.request({ type: 'subscribe', channel: 'late' })).type, 'ack');
  await late.close();

  // The request timeout (10 s for a whole head) ends every one of them.
  await allClosed(slow, 30000, 'slow handshakes');
  clearInterval(trickle);
  const got = slow.map((s) => s.bytesRead);
  assert.ok(got.every((n) => n < 1024), 'nothing but at most an error response was sent to them');
  await pair.progress(5);
  const mem = rss.stop();
  t.diagnostic(`slowloris: 200 sockets; parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  assert.ok(mem.growthMb < 100, `parleyd RSS grew by ${mem.growthMb} MB`);
  await pair.check();
});

test('silent sockets before the upgrade are closed by the request timeout', async (t) => {
  const srv = await startHostile();
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  // Connected and silent; and connected with half a request line then silence.
  const silent = [];
  for (let i = 0; i < 50; i++) silent.push(await tcpConnect(srv));
  for (let i = 0; i < 50; i++) {
    const s = await tcpConnect(srv);
    s.write('GET /v1?key=');
    silent.push(s);
  }
  // Half-closed: the client sends its FIN right after a partial head.
  for (let i = 0; i < 20; i++) {
    const s = await tcpConnect(srv);
    s.end('GET /healthz HTTP/1.1\r\nHost');
    silent.push(s);
  }
  await pair.progress(10);
  await allClosed(silent, 30000, 'silent sockets');
  await pair.check();
});

test('half-open WebSocket connections are dropped after idle_timeout; presence forgets them', async (t) => {
  const srv = await startHostile({ server: { idle_timeout: 3, ping_interval: 1 } });
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const watcher = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await watcher.request({ type: 'subscribe', channel: 'ghosts' })).type, 'ack');
  await watcher.next('presence');

  // Clients that stop reading and sending: a vanished laptop. Some are mid-frame, some joined a
  // channel (their presence must go), some sent a FIN without a close frame.
  const ghosts = [];
  for (let i = 0; i < 30; i++) {
    const g = await RawWs.open(srv, { key: defaultKeys.pk });
    if (i % 3 === 0) assert.equal((await g.request({ type: 'subscribe', channel: 'ghosts' })).type, 'ack');
    if (i % 3 === 1) g.write(buildFrame({ opcode: OP.text, payload: '{"type":"ping"}' }).subarray(0, 7));
    g.pause();
    ghosts.push(g);
  }
  const finners = [];
  for (let i = 0; i < 10; i++) {
    const g = await RawWs.open(srv, { key: defaultKeys.pk });
    assert.equal((await g.request({ type: 'subscribe', channel: 'ghosts' })).type, 'ack');
    g.socket.end();
    finners.push(g);
  }
  // The pair, two watcher connections... only the well-behaved remain: the pair and the watcher.
  await connectionsSettle(srv, 3, 30000);
  // Every ghost that joined was announced and then left.
  const joined = new Set();
  const left = new Set();
  for (const f of watcher.all.filter((x) => x.type === 'presence')) {
    for (const j of f.joined) joined.add(j.peerId);
    for (const l of f.left) left.add(l.peerId);
  }
  const members = [...ghosts.filter((_, i) => i % 3 === 0), ...finners].map((g) => g.peerId);
  for (const id of members) {
    assert.ok(joined.has(id), `${id} joined`);
    for (let i = 0; i < 50 && !left.has(id); i++) {
      await sleep(100);
      for (const f of watcher.all.filter((x) => x.type === 'presence')) for (const l of f.left) left.add(l.peerId);
    }
    assert.ok(left.has(id), `${id} left`);
  }
  for (const g of [...ghosts, ...finners]) g.destroy();
  assert.equal(watcher.closed, null);
  await watcher.close();
  await pair.check();
});
