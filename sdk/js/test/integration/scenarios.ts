// The scenario suite against a real parleyd. It is defined once and run for each SDK: Parley's
// SignallingClient (dist/) and the official @metered-ca/realtime one. Both must pass unchanged.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  type Client,
  type Sdk,
  type Server,
  defaultConfig,
  defaultKeys,
  mintToken,
  onPort,
  record,
  sleep,
  socketOptions,
  startParleyd,
  waitFor,
} from "./helpers.js";
import type { SignallingClientOptions } from "../../src/index.js";

export function defineScenarios(label: string, loadSdk: () => Promise<Sdk>): void {
  describe(`${label}: SignallingClient against parleyd`, () => {
    const servers: Server[] = [];
    const clients: Client[] = [];

    async function server(config = defaultConfig()): Promise<Server> {
      const s = await startParleyd({ config });
      servers.push(s);
      return s;
    }

    async function client(srv: { ws: string }, extra: Partial<SignallingClientOptions> = {}): Promise<Client> {
      const { SignallingClient } = await loadSdk();
      const opts: SignallingClientOptions = {
        url: srv.ws,
        reconnect: { initialDelayMs: 100, maxDelayMs: 500 },
        ...socketOptions(),
        ...extra,
      };
      if (!opts.tokenProvider && !opts.apiKey) opts.apiKey = defaultKeys.pk;
      const c = new SignallingClient(opts);
      clients.push(c);
      return c;
    }

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    afterAll(async () => {
      await Promise.all(servers.splice(0).map((s) => s.stop()));
    });

    it("connects with a publishable key and with a JWT", async () => {
      const srv = await server();
      const a = await client(srv);
      const aUp = waitFor(a, "connected");
      await a.connect();
      const info = await aUp;
      expect(a.state).toBe("connected");
      expect(info.peerId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(info).toMatchObject({ expiresAt: null, isReconnect: false, maxMessageSize: 65536 });
      expect(Math.abs(info.serverTime - Date.now() / 1000)).toBeLessThan(60);

      const exp = Math.floor(Date.now() / 1000) + 600;
      const b = await client(srv, { tokenProvider: async () => mintToken({ sub: "alice", exp }) });
      const bUp = waitFor(b, "connected");
      await b.connect();
      expect(await bUp).toMatchObject({ peerId: "alice", expiresAt: exp, isReconnect: false });
      expect(JSON.stringify(b)).not.toContain("eyJ");
    });

    it("pub/sub with presence snapshots and deltas, sender metadata on request", async () => {
      const srv = await server();
      const a = await client(srv, { tokenProvider: async () => mintToken({ sub: "alice", peerMetadata: { name: "Alice" } }) });
      const b = await client(srv, { tokenProvider: async () => mintToken({ sub: "bob", peerMetadata: { name: "Bob" } }) });
      await a.connect();
      await b.connect();

      const aSnapshot = waitFor(a, "presence", (p) => p.channel === "lobby");
      await a.subscribe("lobby", { includeSenderMetadata: true });
      expect(await aSnapshot).toEqual({ channel: "lobby", joined: [], left: [] });

      const aSeesB = waitFor(a, "presence", (p) => p.joined.length > 0);
      const bSnapshot = waitFor(b, "presence", (p) => p.channel === "lobby");
      await b.subscribe("lobby");
      expect(await aSeesB).toEqual({ channel: "lobby", joined: [{ peerId: "bob", metadata: { name: "Bob" } }], left: [] });
      expect(await bSnapshot).toEqual({ channel: "lobby", joined: [{ peerId: "alice", metadata: { name: "Alice" } }], left: [] });

      const toB = waitFor(b, "message");
      await a.publish("lobby", { text: "hello", n: [1, 2.5, null], "é🎉": true });
      expect(await toB).toEqual({ channel: "lobby", from: "alice", data: { text: "hello", n: [1, 2.5, null], "é🎉": true } });
      const toA = waitFor(a, "message");
      await b.publish("lobby", "hi");
      expect(await toA).toEqual({ channel: "lobby", from: "bob", data: "hi", fromMetadata: { name: "Bob" } });

      const left = waitFor(a, "presence", (p) => p.left.length > 0);
      await b.unsubscribe("lobby");
      expect(await left).toEqual({ channel: "lobby", joined: [], left: [{ peerId: "bob" }] });
      const none = record(b);
      await a.publish("lobby", "after unsubscribe");
      await sleep(200);
      expect(none("message")).toEqual([]);
    });

    it("direct messages, and peer_not_found for an absent peer", async () => {
      const srv = await server();
      const a = await client(srv);
      const b = await client(srv);
      const aUp = waitFor(a, "connected");
      await a.connect();
      const aId = (await aUp).peerId;
      const bUp = waitFor(b, "connected");
      await b.connect();
      const bId = (await bUp).peerId;
      const d = waitFor(a, "direct");
      await b.send(aId, { type: "rtc-ice", candidate: null });
      expect(await d).toEqual({ from: bId, data: { type: "rtc-ice", candidate: null } });
      const e = (await b.send("nobody-here", 1).catch((x: unknown) => x)) as Error;
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe("peer_not_found");
      expect(b.state).toBe("connected");
    });

    it("surfaces errors with the right name and keeps the connection", async () => {
      const srv = await server();
      const { SignallingClient } = await loadSdk();
      const c = await client(srv, {
        tokenProvider: async () => mintToken({ sub: "carol", channels: ["room-*"], permissions: ["subscribe", "presence"] }),
      });
      await expect(c.publish("room-1", 1)).rejects.toMatchObject({ name: "NotConnectedError" });
      await c.connect();
      await expect(c.subscribe("lobby")).rejects.toMatchObject({ name: "channel_not_authorized" });
      await expect(c.subscribe("_system/x")).rejects.toMatchObject({ name: "channel_reserved" });
      await expect(c.publish("room-1", 1)).rejects.toMatchObject({ name: "action_not_permitted" });
      await expect(c.publish("room-1", "x".repeat(70000))).rejects.toMatchObject({ name: "OversizedPayloadError", size: 70002, cap: 65536 });
      await expect(c.subscribe("")).rejects.toBeInstanceOf(TypeError);
      await expect(c.subscribe("room-1")).resolves.toBeUndefined();
      expect(c.state).toBe("connected");

      const bad = new SignallingClient({ url: srv.ws, apiKey: "pk_live_doesnotexist", ...socketOptions() });
      clients.push(bad);
      const err = (await bad.connect().catch((x: unknown) => x)) as { name: string; closeCode: number; closeReason: string };
      expect(err).toMatchObject({ name: "SignallingConnectError", closeCode: 4001, closeReason: "invalid_key" });
      expect(bad.state).toBe("closed");
    });

    it("server restart: reconnects by itself and resubscribes", async () => {
      let srv = await server();
      const port = srv.port;
      const a = await client(srv);
      const b = await client(srv);
      await a.connect();
      await b.connect();
      await a.subscribe("news");
      await b.subscribe("news");
      const bEvents = record(b);

      const aBack = waitFor(a, "connected", (e) => e.isReconnect);
      const bBack = waitFor(b, "connected", (e) => e.isReconnect);
      await srv.kill("SIGKILL");
      srv = await server(onPort(defaultConfig(), port));
      const [aInfo] = await Promise.all([aBack, bBack]);
      expect(bEvents("disconnected")[0]).toMatchObject({ code: 1006, willReconnect: true });
      expect(bEvents("state-change").map((s) => s.to)).toEqual(expect.arrayContaining(["reconnecting", "connected"]));

      // The replayed subscribe needs its round trip: publish until b gets one.
      let received: { from: string } | undefined;
      const got = waitFor(b, "message", (m) => m.channel === "news").then((m) => (received = m));
      for (let i = 0; i < 50 && !received; i++) {
        await a.publish("news", { i }).catch(() => {});
        await sleep(100);
      }
      await got;
      expect(received!.from).toBe(aInfo.peerId);
      expect(a.state).toBe("connected");
      expect(b.state).toBe("connected");
    });

    it("4002 token expiry: reconnects with a fresh token from tokenProvider", async () => {
      const srv = await server();
      const exps: number[] = [];
      const tokenProvider = async () => {
        const exp = Math.floor(Date.now() / 1000) + (exps.length === 0 ? 2 : 3600);
        exps.push(exp);
        return mintToken({ sub: "dave", exp });
      };
      const c = await client(srv, { tokenProvider });
      const events = record(c);
      await c.connect();
      await c.subscribe("ticks");
      const dropped = waitFor(c, "disconnected");
      const back = waitFor(c, "connected", (e) => e.isReconnect, 20000);
      expect(await dropped).toEqual({ code: 4002, reason: "token_expired", willReconnect: true });
      const info = await back;
      expect(exps).toHaveLength(2);
      expect(info).toMatchObject({ peerId: "dave", expiresAt: exps[1] });
      expect(events("connected")[0]!.expiresAt).toBe(exps[0]);

      // Still subscribed after the replay: a second client's publish arrives.
      const other = await client(srv);
      await other.connect();
      let got = false;
      const arrived = waitFor(c, "message", (m) => m.channel === "ticks").then(() => (got = true));
      for (let i = 0; i < 50 && !got; i++) {
        await other.publish("ticks", i);
        await sleep(100);
      }
      await arrived;
    });

    it("4001 during a reconnect is terminal: no retry", async () => {
      const srv = await server();
      let calls = 0;
      const tokenProvider = async () => {
        calls += 1;
        // The first token expires at once; the replacement has a bad signature.
        return calls === 1 ? mintToken({ sub: "erin", exp: Math.floor(Date.now() / 1000) + 2 }) : mintToken({ sub: "erin" }, "sk_secret_wrong");
      };
      const c = await client(srv, { tokenProvider });
      const events = record(c);
      await c.connect();
      const final = waitFor(c, "disconnected", (d) => !d.willReconnect, 20000);
      expect(await final).toEqual({ code: 4001, reason: "invalid_token: bad signature", willReconnect: false });
      expect(c.state).toBe("closed");
      expect(events("disconnected")[0]).toMatchObject({ code: 4002, willReconnect: true });
      await sleep(1500);
      expect(calls).toBe(2);
      expect(c.state).toBe("closed");
    });

    it("4020 admin disconnect (DELETE /v1/peers/:id) is terminal: no retry", async () => {
      const srv = await server();
      let calls = 0;
      const c = await client(srv, {
        tokenProvider: async () => {
          calls += 1;
          return mintToken({ sub: "frank" });
        },
      });
      await c.connect();
      const dropped = waitFor(c, "disconnected");
      const res = await fetch(`${srv.url}/v1/peers/frank`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${defaultKeys.skId}:${defaultKeys.skSecret}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ peerId: "frank", closed: 1 });
      expect(await dropped).toEqual({ code: 4020, reason: "admin_disconnect", willReconnect: false });
      expect(c.state).toBe("closed");
      await sleep(1500);
      expect(calls).toBe(1);
    });

    it("going_away on SIGTERM, then 1001 and a reconnect to the restarted server", async () => {
      const config = defaultConfig({ server: "going_away_retry_ms = 1500" });
      const srv = await server(config);
      const c = await client(srv);
      await c.connect();
      await c.subscribe("x");
      const goingAway = waitFor(c, "going-away");
      const dropped = waitFor(c, "disconnected");
      void srv.kill("SIGTERM");
      expect(await goingAway).toEqual({ retryAfterMs: 1500 });
      expect(await dropped).toEqual({ code: 1001, reason: "going_away", willReconnect: true });
      expect((await srv.exited).code).toBe(0);
      const back = waitFor(c, "connected", (e) => e.isReconnect, 20000);
      await server(onPort(config, srv.port));
      await back;
      expect(c.state).toBe("connected");
    });
  });
}
