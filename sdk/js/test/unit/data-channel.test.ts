// The DataChannel wrapper: typed events and send() backpressure (SDK.md §10).
import { describe, expect, it } from "vitest";
import { DataChannel } from "../../src/data-channel.js";
import { DataChannelOverflowError } from "../../src/peer-errors.js";
import { flush } from "../helpers/fake-server.js";
import { FakeDataChannel } from "../helpers/fake-rtc.js";

const wrap = (opts = {}) => {
  const ch = new FakeDataChannel();
  const dc = new DataChannel(ch, opts);
  return { ch, dc };
};

describe("DataChannel", () => {
  it("sets the low threshold (default half of maxBufferedAmount) and exposes the channel", () => {
    const { ch, dc } = wrap();
    expect(ch.bufferedAmountLowThreshold).toBe(524288);
    expect(dc.label).toBe("chan");
    expect(dc.readyState).toBe("open");
    expect(wrap({ maxBufferedAmount: 100 }).ch.bufferedAmountLowThreshold).toBe(50);
    expect(wrap({ bufferedAmountLowThreshold: 7 }).ch.bufferedAmountLowThreshold).toBe(7);
  });

  it("forwards open, message and error; close fires once and drops the listeners", () => {
    const { ch, dc } = wrap();
    const seen: unknown[] = [];
    dc.on("open", () => seen.push("open"));
    dc.on("message", ({ data }) => seen.push(data));
    dc.on("error", ({ err }) => seen.push(err.message));
    dc.on("close", () => seen.push("close"));
    ch.dispatch("open");
    ch.dispatch("message", { data: "hi" });
    ch.dispatch("error", { error: new Error("sctp") });
    ch.dispatch("error", {});
    ch.dispatch("close");
    ch.dispatch("close");
    ch.dispatch("message", { data: "late" });
    expect(seen).toEqual(["open", "hi", "sctp", "RTCDataChannel error", "close"]);
    expect(dc.listenerCount("message")).toBe(0);
    expect(ch.listenerCount("message")).toBe(0);
  });

  it("sends in order, waiting for bufferedamountlow while the buffer is over the limit", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 10 });
    const done: string[] = [];
    const sends = ["aaaaaa", "bbbbbb", "cc"].map((s) => dc.send(s).then(() => done.push(s)));
    await flush();
    expect(ch.sent).toEqual(["aaaaaa"]); // 6 + 6 > 10: b waits
    ch.drain(5); // the threshold is 5: b now fits (5 + 6 > 10? yes: still waits)
    await flush();
    expect(ch.sent).toEqual(["aaaaaa"]);
    ch.drain(0);
    await Promise.all(sends);
    expect(ch.sent).toEqual(["aaaaaa", "bbbbbb", "cc"]);
    expect(done).toEqual(["aaaaaa", "bbbbbb", "cc"]);
  });

  it("counts UTF-8 bytes of strings and byteLength of buffers", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 8 });
    ch.bufferedAmount = 3;
    const p = dc.send("éééé"); // 8 bytes: 3 + 8 > 8
    await flush();
    expect(ch.sent).toEqual([]);
    ch.drain(0);
    await p;
    ch.bufferedAmount = 1;
    const q = dc.send(new ArrayBuffer(7)); // 1 + 7 fits
    await q;
    expect(ch.sent).toHaveLength(2);
  });

  it("a message bigger than the limit goes out once the buffer is empty (no endless wait)", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 4 });
    await dc.send("0123456789");
    expect(ch.sent).toEqual(["0123456789"]);
    const p = dc.send("abcdefgh");
    await flush();
    expect(ch.sent).toHaveLength(1);
    ch.drain(0);
    await p;
    expect(ch.sent).toHaveLength(2);
  });

  it("rejects DataChannelOverflowError beyond maxQueuedSends, each send settling on its own", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 1, maxQueuedSends: 2 });
    ch.bufferedAmount = 1;
    const a = dc.send("a");
    const b = dc.send("b");
    const c = dc.send("c");
    await expect(c).rejects.toBeInstanceOf(DataChannelOverflowError);
    await expect(c).rejects.toMatchObject({ name: "DataChannelOverflowError", queued: 2, cap: 2 });
    ch.drain(0);
    await a;
    ch.drain(0);
    await b;
    expect(ch.sent).toEqual(["a", "b"]);
  });

  it("a send on a channel that is not open rejects without poisoning later sends", async () => {
    const { ch, dc } = wrap();
    ch.readyState = "connecting";
    await expect(dc.send("x")).rejects.toThrow("not open");
    ch.readyState = "open";
    await dc.send("y");
    expect(ch.sent).toEqual(["y"]);
  });

  it("close() rejects waiting sends, closes the channel once, and refuses new sends", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 1 });
    ch.bufferedAmount = 1;
    const waiting = dc.send("x");
    await flush();
    dc.close();
    dc.close();
    await expect(waiting).rejects.toThrow("DataChannel is closed");
    await expect(dc.send("y")).rejects.toThrow("DataChannel is closed");
    expect(ch.closeCalls).toBe(1);
    expect(ch.listenerCount("bufferedamountlow")).toBe(0);
  });

  it("the channel closing by itself wakes and rejects waiting sends", async () => {
    const { ch, dc } = wrap({ maxBufferedAmount: 1 });
    ch.bufferedAmount = 1;
    const waiting = dc.send("x");
    await flush();
    ch.readyState = "closed";
    ch.dispatch("close");
    await expect(waiting).rejects.toThrow();
    expect(ch.closeCalls).toBe(0);
  });
});
