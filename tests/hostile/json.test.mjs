// Absurd JSON from hostile clients (PROTOCOL.md §5.2, §7): nesting far beyond the limit, huge
// numbers, duplicate keys, very many members, escape storms, lone surrogates. Each frame gets the
// answer the protocol gives (malformed_message, or a relay of `data` byte for byte) and the
// connection stays open; a well-behaved pair keeps exchanging messages without error or loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultKeys } from '../lib/parleyd.mjs';
import { RawWs, textFrame } from '../lib/rawws.mjs';
import { startHostile, startPair, watchRss } from '../lib/hostile.mjs';

const CAP = 65536 + 4096;

test('absurd JSON is refused or relayed verbatim; nothing else happens', async (t) => {
  const srv = await startHostile();
  t.after(() => srv.stop());
  const pair = await startPair(srv);
  t.after(() => pair.abort());
  const rss = watchRss(srv);
  const c = await RawWs.open(srv, { key: defaultKeys.pk });
  const sink = await RawWs.open(srv, { key: defaultKeys.pk });
  t.after(() => { c.destroy(); sink.destroy(); });
  assert.equal((await sink.request({ type: 'subscribe', channel: 'absurd' })).type, 'ack');

  const deep = (n, open = '[', close = ']') => open.repeat(n) + close.repeat(n);
  const deepObj = (n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  const pub = (dataText, id) => `{"type":"publish","channel":"absurd","requestId":"${id}","data":${dataText}}`;

  // Refused with malformed_message (no requestId: the frame is not understood far enough).
  const malformed = {
    'nesting 65 at the top': deep(65, '{"a":[', ']}').replace(/^\{"a":\[/, '{"type":"ping","x":['),
    'nesting 34000 arrays in data': pub(deep(34000), 'deep1'),
    'nesting 10000 objects in data': pub(deepObj(10000), 'deep2'),
    'unclosed nesting to the cap': `{"type":"ping","x":${'['.repeat(CAP - 30)}`,
    'duplicate type': '{"type":"ping","type":"ping"}',
    'duplicate escaped key': '{"type":"publish","channel":"absurd","data":1,"d\\u0061ta":2}',
    'duplicate among many members': `{${Array.from({ length: 5000 }, (_, i) => `"k${i}":${i}`).join(',')},"k4999":0,"type":"ping"}`,
    'number that is not JSON': '{"type":"ping","n":01}',
    'NaN': '{"type":"ping","n":NaN}',
    'trailing garbage': '{"type":"ping"} {"type":"ping"}',
    'bare value': '123456789012345678901234567890',
    'control character in a string': '{"type":"ping","s":"\u0001"}',
    'bad escape': '{"type":"ping","s":"\\x41"}',
    'truncated unicode escape': '{"type":"ping","s":"\\u12"}',
  };
  for (const [name, text] of Object.entries(malformed)) {
    assert.ok(Buffer.byteLength(text) <= CAP, `${name} fits in a message`);
    c.sendText(text);
    const e = await c.nextJson('error', 20000);
    assert.equal(e.code, 'malformed_message', name);
    assert.equal(e.requestId, undefined, `${name}: no requestId`);
  }

  // Valid, however absurd: relayed byte for byte to the subscriber.
  const relayed = {
    'huge integer': '-' + '9'.repeat(20000),
    'huge exponent': '1e99999999999999999999',
    'tiny exponent': '-0.0000000000000000001e-99999999999999',
    'nesting 62 in data': deep(62),
    'duplicate keys inside data': '{"a":1,"a":2,"a":{"a":[1,1]}}',
    'lone surrogates': '"\\ud800\\udc00\\ud800x\\udfff"',
    'escape storm': '"' + '\\u0000\\n\\"\\\\'.repeat(2000) + '"',
    'many members': `{${Array.from({ length: 4000 }, (_, i) => `"m${i}":[]`).join(',')}}`,
    'whitespace': `${' \t\r\n'.repeat(3000)}null${' '.repeat(1000)}`,
  };
  let n = 0;
  for (const [name, data] of Object.entries(relayed)) {
    const id = `ok${n++}`;
    c.sendText(pub(data, id));
    const r = await c.nextJson((j) => j?.requestId === id, 20000);
    assert.equal(r.type, 'ack', `${name}: ${JSON.stringify(r)}`);
    const m = await sink.nextFrame((f) => f.text?.includes(`"from":"${c.peerId}"`), 20000);
    const exact = m.text.slice(m.text.indexOf('"data":') + 7, -1);
    assert.equal(exact, data.trim(), `${name}: data relayed verbatim`);
  }
  // The connection survived all of it.
  assert.equal(c.closeFrame, null);
  assert.equal((await c.request({ type: 'subscribe', channel: 'still-here' })).type, 'ack');
  await pair.progress(10);
  const mem = rss.stop();
  t.diagnostic(`absurd JSON: parleyd VmRSS ${Math.round(mem.baseKb / 1024)} -> peak ${Math.round(mem.peakKb / 1024)} MB`);
  assert.ok(mem.growthMb < 100, `parleyd RSS grew by ${mem.growthMb} MB`);
  await pair.check();
});
