// Bad input on some connections leaves the others unaffected (PROTOCOL.md §5.1, §5.3, §12): while a
// well-behaved pair keeps exchanging publishes, other connections send every kind of garbage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startParleyd, defaultKeys } from '../lib/parleyd.mjs';
import { buildConfig } from '../lib/confbuild.mjs';
import { RawWs, OP, buildFrame, closePayload } from '../lib/rawws.mjs';
import { RawClient } from '../lib/client.mjs';

const CAP = 65536 + 4096;

// Each kind: the bytes to send after the welcome and the close code expected (null: none
// expected, the connection just goes away).
const kinds = {
  binary: { frames: () => buildFrame({ opcode: OP.binary, payload: Buffer.from('{"type":"ping"}') }), code: 1003 },
  badUtf8: { frames: () => buildFrame({ opcode: OP.text, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), code: 1007 },
  tooLarge: { frames: () => buildFrame({ opcode: OP.text, payload: Buffer.alloc(CAP + 1, 0x20) }), code: 1009 },
  tooLargeFragments: {
    frames: () => Buffer.concat([
      buildFrame({ opcode: OP.text, fin: false, payload: Buffer.alloc(40000, 0x20) }),
      buildFrame({ opcode: OP.cont, fin: true, payload: Buffer.alloc(40000, 0x20) }),
    ]),
    code: 1009,
  },
  hugeHeader: { frames: () => buildFrame({ opcode: OP.text, payload: Buffer.alloc(10, 0x20), length: 2 ** 40 }), code: 1009 },
  unmasked: { frames: () => buildFrame({ opcode: OP.text, mask: false, payload: '{"type":"ping"}' }), code: 1002 },
  rsv: { frames: () => buildFrame({ opcode: OP.text, rsv: 4, payload: '{"type":"ping"}' }), code: 1002 },
  opcode3: { frames: () => buildFrame({ opcode: 3, payload: 'x' }), code: 1002 },
  bigPing: { frames: () => buildFrame({ opcode: OP.ping, payload: Buffer.alloc(126) }), code: 1002 },
  fragmentedPing: { frames: () => buildFrame({ opcode: OP.ping, fin: false, payload: 'x' }), code: 1002 },
  orphanContinuation: { frames: () => buildFrame({ opcode: OP.cont, payload: '{}' }), code: 1002 },
  textInsideFragmented: {
    frames: () => Buffer.concat([buildFrame({ opcode: OP.text, fin: false, payload: '{' }), buildFrame({ opcode: OP.text, payload: '{}' })]),
    code: 1002,
  },
  badCloseCode: { frames: () => buildFrame({ opcode: OP.close, payload: closePayload(1005) }), code: 1002 },
  malformedJson: { frames: () => buildFrame({ opcode: OP.text, payload: '{"type":' }), code: undefined, error: 'malformed_message' },
  halfFrameThenHangUp: { frames: () => buildFrame({ opcode: OP.text, payload: '{"type":"ping"}' }).subarray(0, 5), code: null, hangUp: true },
};

async function garbageRound(srv, name, spec) {
  const c = await RawWs.open(srv, { key: defaultKeys.pk });
  try {
    // Everyone who misbehaves also subscribes to the pair's channel, so fan-out reaches them.
    assert.equal((await c.request({ type: 'subscribe', channel: 'pair' })).type, 'ack');
    c.write(spec.frames());
    if (spec.hangUp) {
      c.destroy();
      return;
    }
    if (spec.code === undefined) {
      const e = await c.nextJson('error');
      assert.equal(e.code, spec.error, name);
      return;
    }
    const cl = await c.closed(5000);
    assert.equal(cl.code, spec.code, `${name}: close code`);
  } finally {
    c.destroy();
  }
}

// Non-WebSocket garbage at the TCP level.
async function tcpGarbage(srv, bytes) {
  await new Promise((resolve) => {
    const s = net.connect({ host: srv.host, port: srv.port }, () => {
      s.write(bytes);
      setTimeout(() => s.destroy(), 50);
    });
    s.on('error', () => {});
    s.on('close', resolve);
    s.resume();
  });
}

test('garbage on other connections does not disturb a well-behaved pair', async (t) => {
  // High per-connection rate limits: the pair publishes as fast as acks come back.
  const srv = await startParleyd({
    config: buildConfig({
      server: { connect_burst_per_ip: 100000, connect_rate_per_ip: 10000 },
      app: { rate_limit_per_second: 100000, rate_limit_burst: 100000 },
    }),
  });
  t.after(() => srv.stop());
  const a = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  const b = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await a.request({ type: 'subscribe', channel: 'pair' })).type, 'ack');
  assert.equal((await b.request({ type: 'subscribe', channel: 'pair' })).type, 'ack');

  let stop = false;
  const sent = { a: 0, b: 0 };
  async function pump(self, tag) {
    while (!stop) {
      const n = sent[tag]++;
      const r = await self.request({ type: 'publish', channel: 'pair', data: { from: tag, n, pad: 'z'.repeat(n % 7 === 0 ? 3000 : 20) } });
      assert.deepEqual(Object.keys(r), ['type', 'requestId']);
      assert.equal(r.type, 'ack');
    }
  }
  const pumps = [pump(a, 'a'), pump(b, 'b')];

  const garbage = (async () => {
    for (let round = 0; round < 3; round++) {
      await Promise.all(Object.entries(kinds).map(([name, spec]) => garbageRound(srv, name, spec)));
      await Promise.all([
        tcpGarbage(srv, Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage that is not http\r\n\r\n')),
        tcpGarbage(srv, Buffer.from('GET /v1?key=x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConn')),
        tcpGarbage(srv, Buffer.alloc(100000, 0x41)),
      ]);
    }
  })();
  await garbage;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(pumps);

  // Every publish of one side reached the other, in order, once; nobody saw an error or a close.
  const check = async (receiver, tag) => {
    for (let n = 0; n < sent[tag]; n++) {
      const m = await receiver.next((f) => f.type === 'message' && f.data.from === tag, 5000);
      assert.equal(m.data.n, n, `${tag}'s message ${n} reached the other side in order`);
    }
  };
  await check(b, 'a');
  await check(a, 'b');
  assert.ok(sent.a > 5 && sent.b > 5, `the pair kept exchanging (${sent.a}, ${sent.b})`);
  for (const c of [a, b]) {
    assert.equal(c.closed, null, 'the pair stays open');
    assert.deepEqual(c.all.filter((f) => f.type === 'error' || f.type === '__unparseable__'), [], 'the pair saw no error');
    assert.deepEqual(c.frames.filter((f) => f.type === 'message'), [], 'no extra messages');
  }
  // And the server is still fine for newcomers.
  const late = await RawClient.open(srv.ws, { key: defaultKeys.pk });
  assert.equal((await late.request({ type: 'subscribe', channel: 'pair' })).type, 'ack');
  await a.close();
  await b.close();
  await late.close();
});
