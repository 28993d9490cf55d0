// A Parley client and an official client in one channel of a real parleyd: messages, directs and
// presence in both directions.
import { afterAll, describe, expect, it } from "vitest";
import {
  type Client,
  type Sdk,
  type Server,
  defaultKeys,
  mintToken,
  officialSdk,
  parleySdk,
  record,
  sleep,
  socketOptions,
  startParleyd,
  waitFor,
} from "./helpers.js";

describe("Parley and official clients in one channel", () => {
  let srv: Server;
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await srv?.stop();
  });

  function make(sdk: Sdk, sub: string, name: string): Client {
    const c = new sdk.SignallingClient({
      url: srv.ws,
      tokenProvider: async () => mintToken({ sub, peerMetadata: { name } }),
      reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
      ...socketOptions(),
    });
    clients.push(c);
    return c;
  }

  it("exchange messages, directs and presence both ways", async () => {
    srv = await startParleyd();
    const [parley, official] = await Promise.all([parleySdk(), officialSdk()]);
    const p = make(parley, "parley-peer", "P");
    const o = make(official, "official-peer", "O");
    await p.connect();
    await o.connect();

    // Presence: each sees the other join, with metadata, in the snapshot or as a delta.
    const pSnap = waitFor(p, "presence", (e) => e.channel === "room");
    await p.subscribe("room", { includeSenderMetadata: true });
    expect(await pSnap).toEqual({ channel: "room", joined: [], left: [] });
    const pSeesO = waitFor(p, "presence", (e) => e.joined.some((j) => j.peerId === "official-peer"));
    const oSnap = waitFor(o, "presence", (e) => e.channel === "room");
    await o.subscribe("room", { includeSenderMetadata: true });
    expect(await pSeesO).toEqual({ channel: "room", joined: [{ peerId: "official-peer", metadata: { name: "O" } }], left: [] });
    expect(await oSnap).toEqual({ channel: "room", joined: [{ peerId: "parley-peer", metadata: { name: "P" } }], left: [] });

    // Channel messages both ways.
    const atO = waitFor(o, "message");
    await p.publish("room", { from: "parley", n: 1 });
    expect(await atO).toEqual({ channel: "room", from: "parley-peer", data: { from: "parley", n: 1 }, fromMetadata: { name: "P" } });
    const atP = waitFor(p, "message");
    await o.publish("room", { from: "official", n: 2 });
    expect(await atP).toEqual({ channel: "room", from: "official-peer", data: { from: "official", n: 2 }, fromMetadata: { name: "O" } });

    // Directs both ways, including the WebRTC signalling shapes; directs always carry the
    // sender's peerMetadata (PROTOCOL.md §9.2).
    const dO = waitFor(o, "direct");
    const offer = { type: "rtc-description", description: { type: "offer", sdp: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n" } };
    await p.send("official-peer", offer);
    expect(await dO).toEqual({ from: "parley-peer", data: offer, fromMetadata: { name: "P" } });
    const dP = waitFor(p, "direct");
    await o.send("parley-peer", { type: "rtc-ice", candidate: null });
    expect(await dP).toEqual({ from: "official-peer", data: { type: "rtc-ice", candidate: null }, fromMetadata: { name: "O" } });

    // Presence leave both ways: unsubscribe, then a close.
    const pSeesLeave = waitFor(p, "presence", (e) => e.left.some((l) => l.peerId === "official-peer"));
    await o.unsubscribe("room");
    expect(await pSeesLeave).toEqual({ channel: "room", joined: [], left: [{ peerId: "official-peer" }] });
    const oSeesJoinAgain = waitFor(o, "presence", (e) => e.channel === "room");
    await o.subscribe("room");
    expect((await oSeesJoinAgain).joined).toEqual([{ peerId: "parley-peer", metadata: { name: "P" } }]);
    const oSeesLeave = waitFor(o, "presence", (e) => e.left.some((l) => l.peerId === "parley-peer"));
    await p.close();
    expect(await oSeesLeave).toEqual({ channel: "room", joined: [], left: [{ peerId: "parley-peer" }] });
  });

  it("a publishable-key Parley client and official client see each other's random peerIds", async () => {
    srv ??= await startParleyd();
    const [parley, official] = await Promise.all([parleySdk(), officialSdk()]);
    const p = new parley.SignallingClient({ url: srv.ws, apiKey: defaultKeys.pk, ...socketOptions() });
    const o = new official.SignallingClient({ url: srv.ws, apiKey: defaultKeys.pk, ...socketOptions() });
    clients.push(p, o);
    const pUp = waitFor(p, "connected");
    const oUp = waitFor(o, "connected");
    await p.connect();
    await o.connect();
    const [pInfo, oInfo] = await Promise.all([pUp, oUp]);
    await p.subscribe("pk-room");
    const pSeesO = waitFor(p, "presence", (e) => e.joined.length > 0);
    await o.subscribe("pk-room");
    expect((await pSeesO).joined).toEqual([{ peerId: oInfo.peerId }]);
    const oEvents = record(o);
    const atO = waitFor(o, "direct");
    await p.send(oInfo.peerId, "ping");
    expect(await atO).toEqual({ from: pInfo.peerId, data: "ping" });
    await sleep(100);
    expect(oEvents("message")).toEqual([]);
  });
});
