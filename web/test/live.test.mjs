// The admin page's Live panel, end to end against the real `manofwar up`: it follows
// GET /api/v1/admin/live (server-sent events, every 2 s) through EventSource.
//
// A short clip is ready; a member (ann) streams it (the test fetches its playlists and segments
// through the signed `hls_url` the API gives her, as a player would) while a second, longer clip
// dropped into the library transcodes. The admin's Live panel shows ann's stream (who, title,
// rendition, kbit/s), the transcode with its progress bar, and charts of the last readings
// (bytes served per second, CPU, memory) with their current values as text. Leaving the page
// closes the EventSource; a member is refused the live view (403).
//
// Screenshots: live.png (1366×900), live-phone.png (390×844, the whole panel) in
// web/test-results/live/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, launchBrowser, login, openPage, setup, sleep, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Night Ferry (2023).mp4';
const BIG_NAME = 'Slow Harbour (2021).mp4';
// "slow" makes the dropped clip take a while to transcode, so that the panel catches it.
const PROFILE_YAML = `segmentSeconds: 2
preset: slow
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 300}
`;
const MEMBER = { username: 'ann', password: 'the first long password' };
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };

const log = stopwatch();
let tmp;
let results;
let media;
let server;
let context;

/** A clip written outside the media folder; `drop()` renames it in (the server sees a whole file). */
async function stage(name, { size, seconds }, dir) {
  const path = join(dir, name);
  await testClip(path, { size, seconds, preset: 'ultrafast', gop: 48 });
  return path;
}

test.beforeAll(async () => {
  ({ tmp, results } = setup('live'));
  media = join(tmp, 'media');
  const staging = join(tmp, 'staging');
  for (const dir of [media, staging]) mkdirSync(dir);
  writeFileSync(join(tmp, 'profile.yaml'), PROFILE_YAML);
  await Promise.all([
    stage(CLIP_NAME, { size: '640x360', seconds: 4 }, media),
    stage(BIG_NAME, { size: '1280x720', seconds: 24 }, staging),
  ]);
  server = await startServer({
    media, data: join(tmp, 'data'), profile: join(tmp, 'profile.yaml'), logPath: join(results, 'server.log'),
    args: ['--workers', '1'],
  });
  await server.json('/api/v1/users', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: MEMBER.username, password: MEMBER.password, role: 'member', libraries: ['*'] }),
  });
  log(`server healthy at ${server.base}`);
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

/** Signs ann in without a browser: her session cookie. */
async function memberCookie() {
  const res = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(MEMBER),
  });
  assert.equal(res.status, 200, `ann signs in: ${res.status}`);
  await res.text();
  return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
}

/** GET as text; `url` may be relative to `base`. */
async function text(url, base, headers = {}) {
  const res = await fetch(new URL(url, base), { headers });
  assert.ok(res.ok, `GET ${url}: ${res.status}`);
  return { body: await res.text(), url: res.url };
}

/**
 * Streams an item as ann's player would: the master playlist from the API's `hls_url`, its first
 * variant, then each segment (the init segment first), over and over until `stop()`.
 */
function streamAs(cookie, item) {
  let stopped = false;
  const done = (async () => {
    const master = await text(item.hls_url, server.base);
    const variant = master.body.split('\n').find((l) => l && !l.startsWith('#'));
    assert.ok(variant, `no variant in ${master.body}`);
    const playlist = await text(variant, master.url);
    const uris = [
      ...[...playlist.body.matchAll(/#EXT-X-MAP:URI="([^"]+)"/g)].map((m) => m[1]),
      ...playlist.body.split('\n').filter((l) => l && !l.startsWith('#')),
    ];
    assert.ok(uris.length > 1, `no segments in ${playlist.body}`);
    while (!stopped) {
      for (const uri of uris) {
        const res = await fetch(new URL(uri, playlist.url), { headers: { Cookie: cookie } });
        assert.ok(res.ok, `GET ${uri}: ${res.status}`);
        await res.arrayBuffer();
        if (stopped) break;
        await sleep(300);
      }
    }
  })();
  return { stop: () => { stopped = true; return done; } };
}

test('the Live panel shows ann\'s stream, a transcode, and live charts; leaving closes the EventSource', async () => {

  test.setTimeout(240_000);
  const item = await server.waitForItem(CLIP_NAME, 120_000);
  log(`${CLIP_NAME} ready (item ${item.id}, "${item.title}")`);
  const cookie = await memberCookie();

  // A member may not follow the server.
  for (const path of ['/api/v1/admin/stats', '/api/v1/admin/live']) {
    const res = await fetch(`${server.base}${path}`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 403, `${path} for a member`);
    await res.body?.cancel();
  }

  const { page, problems } = await openPage(context, { reuseFirst: true });
  // Every EventSource the page opens, to check that leaving the page closes it.
  await page.addInitScript(() => {
    const Native = window.EventSource;
    window.__sources = [];
    window.EventSource = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sources.push(this);
      }
    };
  });
  await page.setViewportSize(DESKTOP);
  await page.goto(`${server.base}/#/admin`);
  const panel = page.locator('#live');
  await panel.locator('#live-served-value').waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => window.__sources.length), 1, 'one EventSource');
  assert.equal(await page.evaluate(() => new URL(window.__sources[0].url).pathname), '/api/v1/admin/live');
  assert.match(await panel.locator('#live-streams-none').textContent(), /Nobody is watching/);

  // ann streams the clip; the long clip arrives and transcodes.
  const fresh = await fetch(`${server.base}/api/v1/items/${item.id}`, { headers: { Cookie: cookie } }).then((r) => r.json());
  assert.ok(fresh.hls_url, `ann's item has no hls_url: ${JSON.stringify(fresh)}`);
  const stream = streamAs(cookie, fresh);
  renameSync(join(tmp, 'staging', BIG_NAME), join(media, BIG_NAME));
  try {
    const row = panel.locator(`#live-streams tr[data-user="${MEMBER.username}"]`);
    await row.waitFor({ timeout: 30_000 }).catch(async () => assert.fail(
      `ann's stream is not in the Live panel; stats: ${JSON.stringify(await server.json('/api/v1/admin/stats'))}${server.context()}`));
    const cells = (await row.locator('th, td').allTextContents()).map((t) => t.trim());
    log(`stream row: ${cells.join(' | ')}`);
    assert.equal(cells[0], MEMBER.username, 'who');
    assert.equal(cells[1], fresh.title, 'the title');
    assert.equal(cells[2], '240p', 'the rendition');
    assert.match(cells[3], /^[\d,]+ kbit\/s$/, 'the bit rate');
    assert.equal(await row.locator('a').getAttribute('href'), `#/items/${item.id}`);

    const job = panel.locator('#live-transcodes li').first();
    await job.waitFor({ timeout: 60_000 }).catch(async () => assert.fail(
      `no transcode in the Live panel; stats: ${JSON.stringify(await server.json('/api/v1/admin/stats'))}`));
    assert.match(await job.locator('a').textContent(), /Slow Harbour/);
    assert.equal(await job.locator('[role="progressbar"]').count(), 1, 'a progress bar');

    // The charts: a line of several readings each, and the current values as text.
    await page.waitForFunction(() => ['served', 'cpu', 'memory'].every((name) => {
      const svg = document.getElementById(`live-chart-${name}`);
      return svg && Number(svg.dataset.points) >= 4 && /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){3,}/.test(svg.querySelector('.spark-line')?.getAttribute('d') || '');
    }), undefined, { timeout: 20_000 });
    const served = (await panel.locator('#live-served-value').textContent()).trim();
    const cpu = (await panel.locator('#live-cpu-value').textContent()).trim();
    const memory = (await panel.locator('#live-memory-value').textContent()).trim();
    log(`served ${served}, CPU ${cpu}, memory ${memory}`);
    assert.match(served, /^[\d.]+ [kMG]?B\/s$/);
    assert.match(cpu, /^[\d.]+ %$/);
    assert.match(memory, /^[\d.]+ [kMG]B$/);
    // Bytes were served while ann streamed: the chart's peak is not zero.
    assert.doesNotMatch(await panel.locator('#live-served .live-chart-note').textContent(), /^peak 0 B\/s/);
    assert.equal(await page.locator('#live-chart-served').getAttribute('aria-hidden'), 'true', 'the chart is decoration; the text says it');

    await page.mouse.move(5, 5);
    await panel.screenshot({ path: join(results, 'live.png') });
    await page.screenshot({ path: join(results, 'live-page.png') });
    await page.setViewportSize(PHONE);
    await sleep(300);
    await panel.screenshot({ path: join(results, 'live-phone.png') });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `at 390 px the page scrolls sideways by ${overflow}px`);
  } finally {
    await stream.stop().catch(() => {});
  }

  // Leaving the page closes the EventSource.
  await page.goto(`${server.base}/#/`);
  await page.waitForFunction(() => window.__sources.every((s) => s.readyState === 2), undefined, { timeout: 5_000 })
    .catch(() => assert.fail('the EventSource is still open after leaving the admin page'));
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  // (The users panel asks GET /api/v1/p2p whether sharing with friends is on: 404 here, off.)
  assert.deepEqual(problems.failedRequests.filter((r) => !r.startsWith('404 ') || !r.endsWith('/api/v1/p2p')), [], 'failed requests');
});
