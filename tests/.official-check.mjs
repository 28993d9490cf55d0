// Connects two official SignallingClients to a running parleyd (make run) and exchanges a message.
import { SignallingClient } from '@metered-ca/realtime';
import WebSocket from 'ws';
const [url, key] = process.argv.slice(2);
const mk = () => new SignallingClient({ url, apiKey: key, webSocketFactory: (u) => new WebSocket(u) });
const a = mk(), b = mk();
await a.connect(); await b.connect();
const got = new Promise((r) => b.on('message', (m) => r(m)));
const pres = new Promise((r) => b.on('presence', (p) => { if (p.joined?.length) r(p); }));
await b.subscribe('room-1');
await a.subscribe('room-1');
await a.publish('room-1', { text: 'hello from official SDK' });
console.log('b got message', JSON.stringify(await got));
console.log('b saw presence', JSON.stringify(await pres));
a.close(); b.close();
process.exit(0);
