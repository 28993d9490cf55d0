// The demo pages parleyd serves (web/), used as a person would, through their DOM only:
// - call.html opened in two tabs: each shows its own camera and the other's, playing (frames
//   rendered), under the other's name, with a "connected" badge;
// - chat.html opened in two tabs: each lists both people by name, and a message typed in one
//   appears in the other.
// parleyd runs as `make run` starts it: the embedded development default (no configuration file),
// whose key the pages fetch from /demo-config.json; only the web root is this test's copy of web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startParleyd } from '../lib/parleyd.mjs';
import { launchBrowser, makeWebRoot, waitUntil } from '../lib/browser.mjs';

test('the demo pages work in two tabs', { timeout: 240000 }, async (t) => {
  const web = await makeWebRoot();
  t.after(() => web.remove());
  const server = await startParleyd({ config: null, args: ['--web-root', web.dir] });
  assert.match(server.stdout(), /call: +http:\/\/127\.0\.0\.1:\d+\/call\.html/, 'the banner lists the call page');
  t.after(() => server.stop());
  const browser = await launchBrowser();
  t.after(() => browser.close());
  const context = await browser.newContext();
  const open = async (page, name) => {
    const tab = await context.newPage();
    tab.on('pageerror', (err) => console.error(`[${page} ${name}] page error:`, err.message));
    await tab.goto(`${server.url}/${page}?room=demo-${process.pid}&name=${name}`);
    return tab;
  };

  await t.test('index.html links both pages', async () => {
    const tab = await context.newPage();
    await tab.goto(`${server.url}/`);
    const links = await tab.$$eval('a', (as) => as.map((a) => a.getAttribute('href')));
    assert.ok(links.includes('call.html') && links.includes('chat.html'), JSON.stringify(links));
    await tab.close();
  });

  await t.test('call.html: two tabs see each other', async () => {
    const tabs = [await open('call.html', 'Ada'), await open('call.html', 'Grace')];
    const remoteTile = (tab) => tab.evaluate(() => {
      const tile = document.querySelector('.tile:not(.me)');
      if (!tile) return null;
      const v = tile.querySelector('video');
      return {
        name: tile.querySelector('.who').textContent,
        badge: tile.querySelector('.badge').textContent,
        frames: v.getVideoPlaybackQuality().totalVideoFrames,
        width: v.videoWidth,
        tiles: document.querySelectorAll('.tile').length,
        status: document.getElementById('status').textContent,
      };
    });
    for (const [tab, other] of [[tabs[0], 'Grace'], [tabs[1], 'Ada']]) {
      const first = await waitUntil(async () => {
        const r = await remoteTile(tab);
        return r && r.badge === 'connected' && r.name === other && r.width > 0 && r.frames > 0 ? r : null;
      }, { timeoutMs: 90000, what: `the call page showing ${other}, connected and playing`, detail: () => remoteTile(tab) });
      assert.equal(first.tiles, 2, 'two videos: own camera and the other tab');
      assert.equal(first.status, 'joined');
      await waitUntil(async () => (await remoteTile(tab)).frames > first.frames, { timeoutMs: 30000, what: `${other}'s video playing on` });
      const own = await tab.evaluate(() => document.querySelector('.tile.me video').videoWidth);
      assert.ok(own > 0, 'the own camera preview plays');
    }
    for (const tab of tabs) await tab.close();
  });

  await t.test('chat.html: presence list and messages', async () => {
    const ada = await open('chat.html', 'Ada');
    const grace = await open('chat.html', 'Grace');
    const people = (tab) => tab.$$eval('#list li', (lis) => lis.map((li) => li.textContent).sort());
    for (const [tab, expected] of [[ada, ['Ada (you)', 'Grace']], [grace, ['Ada', 'Grace (you)']]]) {
      await waitUntil(async () => JSON.stringify(await people(tab)) === JSON.stringify(expected), {
        timeoutMs: 30000,
        what: `the presence list ${JSON.stringify(expected)}`,
        detail: () => people(tab),
      });
    }
    await ada.fill('#text', 'hello from Ada');
    await ada.press('#text', 'Enter');
    await waitUntil(() => grace.$$eval('#log .msg', (ms) => ms.some((m) => m.textContent === 'Adahello from Ada')), {
      timeoutMs: 30000,
      what: "Ada's message in Grace's tab",
    });
    await grace.close();
    await waitUntil(async () => JSON.stringify(await people(ada)) === JSON.stringify(['Ada (you)']), {
      timeoutMs: 30000,
      what: 'Grace gone from the list',
    });
    await ada.close();
  });
});
