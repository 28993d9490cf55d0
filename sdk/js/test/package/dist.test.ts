// The built package: every format loads and exports the same names, the UMD bundle works as a
// browser global, and the bundled declarations compile on their own (the pub/sub entry without the
// DOM lib; the full entry brings the DOM lib it needs for the WebRTC types) and accept the same
// application code as the official package's declarations.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import vm from "node:vm";
import { describe, expect, it } from "vitest";
import { FakeServer } from "../helpers/fake-server.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dist = join(root, "dist");
const require = createRequire(import.meta.url);
const SIGNALLING_NAMES = ["ConsoleLogger", "NoopLogger", "OversizedPayloadError", "SignallingClient", "SignallingConnectError", "WsCloseCode", "WsCloseCodeValue"];
// The full entry adds the WebRTC layer; RemotePeer and WsCloseCodeValue exist at runtime too
// (the official bundles only declare them).
const INDEX_NAMES = [
  ...SIGNALLING_NAMES,
  "DataChannel",
  "DataChannelOverflowError",
  "MeteredPeer",
  "MeteredPeerOversizedError",
  "MeteredPeerReplaceTrackError",
  "MeteredPeerSendError",
  "MeteredPeerStateError",
  "RemotePeer",
].sort();
const NAMES: Record<string, string[]> = { index: INDEX_NAMES, signalling: SIGNALLING_NAMES };

type Mod = Record<string, unknown> & { SignallingClient: new (o: object) => { connect(): Promise<void>; state: string; close(): Promise<void> } };

describe("dist bundles", () => {
  it.each(["index", "signalling"])("%s: ESM and CJS export the same names", async (entry) => {
    const esm = (await import(/* @vite-ignore */ new URL(`../../dist/${entry}.mjs`, import.meta.url).href)) as Mod;
    const cjs = require(join(dist, `${entry}.cjs`)) as Mod;
    expect(Object.keys(esm).sort()).toEqual(NAMES[entry]);
    expect(Object.keys(cjs).sort()).toEqual(NAMES[entry]);
    expect((cjs.WsCloseCode as Record<string, number>).TokenExpired).toBe(4002);
  });

  it("the package exports map points at files that exist", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, Record<string, string> | string> };
    for (const [sub, target] of Object.entries(pkg.exports)) {
      for (const file of typeof target === "string" ? [target] : Object.values(target)) {
        expect(() => readFileSync(join(root, file)), `${sub} → ${file}`).not.toThrow();
      }
    }
  });

  it.each(["index", "signalling"])("%s.umd.js: sets the MeteredPeer global in a browser-like context and works", async (entry) => {
    const server = new FakeServer();
    const context = vm.createContext({ setTimeout, clearTimeout, queueMicrotask, URL, console, crypto: globalThis.crypto });
    vm.runInContext(readFileSync(join(dist, `${entry}.umd.js`), "utf8"), context);
    const g = (context as { MeteredPeer?: Mod }).MeteredPeer;
    expect(g).toBeDefined();
    expect(Object.keys(g!).sort()).toEqual(NAMES[entry]);
    const client = new g!.SignallingClient({ apiKey: "pk", url: "wss://example.com", webSocketFactory: server.factory });
    await client.connect();
    expect(client.state).toBe("connected");
    expect(server.last.url).toBe("wss://example.com/v1?key=pk");
    await client.close();
  });

  it("index.umd.js: also loads as a CommonJS module", () => {
    const mod = { exports: {} as Mod };
    const context = vm.createContext({ module: mod, exports: mod.exports, setTimeout, clearTimeout, URL });
    vm.runInContext(readFileSync(join(dist, "index.umd.js"), "utf8"), context);
    expect(Object.keys(mod.exports).sort()).toEqual(INDEX_NAMES);
    expect((context as { MeteredPeer?: unknown }).MeteredPeer).toBeUndefined();
  });

  it("the bundled d.ts export the runtime names", () => {
    for (const entry of ["index", "signalling"]) {
      const dts = readFileSync(join(dist, `${entry}.d.ts`), "utf8");
      const values = /^export \{ ([^}]*) \};$/m.exec(dts)![1]!.split(", ").map((s) => s.split(" as ").at(-1));
      expect(values.sort()).toEqual(NAMES[entry]);
      expect(dts).not.toMatch(/from "\./);
      expect(dts).not.toContain("namedError");
    }
  });

  it("the bundled d.ts compile alone (signalling without the DOM lib), and typecheck the same consumer code as the official d.ts", () => {
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const dir = mkdtempSync(join(tmpdir(), "parley-dts-"));
    try {
      const pubsub = join(root, "test/package/fixtures/consumer.ts");
      const webrtc = join(root, "test/package/fixtures/consumer-webrtc.ts");
      // The official d.ts needs the DOM lib and references an undeclared RemotePeerInit, so it is
      // not checked itself (skipLibCheck); Parley's are. Parley's index.d.ts references the DOM lib
      // itself, so its variant is compiled with es2022 only.
      const variants: [string, string, string[], boolean, string[]][] = [
        ["parley index", join(dist, "index.d.ts"), ["es2022"], false, [pubsub, webrtc]],
        ["parley signalling", join(dist, "signalling.d.ts"), ["es2022"], false, [pubsub]],
        ["official", join(root, "node_modules/@metered-ca/realtime/dist/index.d.ts"), ["es2022", "dom"], true, [pubsub, webrtc]],
      ];
      for (const [name, dts, lib, skipLibCheck, fixtures] of variants) {
        const config = join(dir, `${name.replace(/ /g, "-")}.json`);
        writeFileSync(
          config,
          JSON.stringify({
            compilerOptions: {
              strict: true,
              noEmit: true,
              target: "es2022",
              module: "esnext",
              moduleResolution: "bundler",
              lib,
              types: [],
              skipLibCheck,
              exactOptionalPropertyTypes: true,
              paths: { "sdk-under-test": [dts] },
            },
            files: skipLibCheck ? fixtures : [...fixtures, dts],
          }),
        );
        let out = "";
        try {
          execFileSync(process.execPath, [tsc, "-p", config], { encoding: "utf8" });
        } catch (e) {
          out = String((e as { stdout?: string }).stdout ?? e);
        }
        expect(out, `${name}: ${out}`).toBe("");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
