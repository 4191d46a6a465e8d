// Offline viewing (src/lib/offline.ts, public/sw.js), against the real `manofwar up` binary:
//
// 1. Download a rendition of a short clip (with a sidecar .en.srt) from its item page; #/downloads
//    lists it at 100 % with its size. Then the server process is STOPPED (a real network
//    failure): #/downloads opens again (the service worker serves the app) under the offline
//    banner, the download plays (currentTime past 1.5 s) with its subtitles, and deleting it
//    (from another tab, while it plays: that one says so) frees its storage.
// 2. A longer clip's download, slowed down (Chromium's network throttling, so there is time to
//    interrupt it), is interrupted by stopping the server: it says it is paused, and completes
//    once the server is back (the same port and data folder), every file stored once.
//
// Screenshots and the server logs land in web/test-results/offline/.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '@playwright/test';
import {
  cleanup, launchBrowser, libraryDirs, login, openPage, setup, smallProfile, restartable, stopServer, stopwatch, testClip,
  videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const SHORT = 'Harbour Lights (2021).mp4';
const SHORT_SRT = 'Harbour Lights (2021).en.srt';
const LONG = 'The Long Watch (2019).mp4';
const LONG_SECONDS = 120;
const STEP = 20_000;
const PAUSED = /paused — will resume when back online/;

const log = stopwatch();
let tmp;
let results;
let dirs;
let server;
let start; // starts `manofwar up`, again on the same port and data folder after a stop
let context;

test.beforeAll(async () => {
  ({ tmp, results } = setup('offline'));
  dirs = libraryDirs(tmp, smallProfile());
  await testClip(join(dirs.media, SHORT), { seconds: 6, size: '320x180', preset: 'ultrafast' });
  writeFileSync(join(dirs.media, SHORT_SRT), '1\n00:00:00,000 --> 00:00:05,000\nAhoy from the harbour\n\n');
  await testClip(join(dirs.media, LONG), { seconds: LONG_SECONDS, size: '320x180', preset: 'ultrafast' });
  start = restartable({ media: dirs.media, data: dirs.data, profile: dirs.profile, logDir: results });
  server = await start();
  await server.waitForItem(SHORT, 120_000);
  await server.waitForItem(LONG, 240_000);
  log('both items are ready');
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

/** The download's entry (lib/offline.ts keeps it in the cache `mow-downloads`). */
const metaOf = (page, id) => page.evaluate(async (key) => {
  const answer = await (await caches.open('mow-downloads')).match(`/__mow/downloads/${key}`);
  return answer ? answer.json() : null;
}, String(id));

/** The URLs (paths and queries) stored for a download. */
const storedFiles = (page, id) => page.evaluate(async (key) => {
  if (!(await caches.has(`mow-dl-${key}`))) return null;
  const cache = await caches.open(`mow-dl-${key}`);
  return (await cache.keys()).map((r) => { const u = new URL(r.url); return u.pathname + u.search; });
}, String(id));

const usage = (page) => page.evaluate(async () => (await navigator.storage.estimate()).usage);

/** Polls `check` (in the page, with `arg`) until it gives something truthy; resolves with it. */
async function until(page, what, check, arg, timeoutMs = STEP) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await page.evaluate(check, arg).catch(() => null);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until the service worker controls the page and has the app (with hls.js) stored. */
async function appStoredOffline(page) {
  await until(page, 'the service worker to have the app', async () => {
    if (!navigator.serviceWorker.controller) return false;
    const keys = (await (await caches.open('mow-shell-v1')).keys()).map((r) => new URL(r.url).pathname);
    return keys.includes('/') && keys.some((p) => /^\/assets\/hls-/.test(p)) && keys.some((p) => /^\/assets\/index-.*\.js$/.test(p));
  });
}

test('a download plays with the server stopped, and its deletion frees the space', async () => {

  test.setTimeout(240_000);
  const item = await server.waitForItem(SHORT, STEP);
  const detail = await server.json(`/api/v1/items/${item.id}`);
  assert.ok(detail.subtitles.some((s) => s.converted), `the sidecar subtitles are converted: ${JSON.stringify(detail.subtitles)}`);
  const { page, problems } = await openPage(context);
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.locator('#download').waitFor({ timeout: STEP });
  const options = await page.locator('#download-rendition option').allTextContents();
  assert.ok(options.length >= 1 && /180p/.test(options[0]), `rendition options: ${options}`);
  await appStoredOffline(page);
  log('the service worker has the app');

  await page.click('#download');
  await page.locator('#download-status', { hasText: 'Downloaded ✓' }).waitFor({ timeout: STEP });
  const meta = await metaOf(page, item.id);
  assert.equal(meta.state, 'done');
  assert.equal(meta.rendition, '180p');
  assert.equal(meta.done, meta.total);
  assert.ok(meta.bytes > 10_000, `bytes: ${meta.bytes}`);
  const files = await storedFiles(page, item.id);
  writeFileSync(join(results, 'stored-files.json'), JSON.stringify({ meta: { ...meta, item: undefined }, files }, null, 2));
  log(`downloaded: ${files.length} files, ${meta.bytes} bytes`);
  const has = (re, what) => assert.ok(files.some((f) => re.test(f)), `${what} is stored: ${files.join(', ')}`);
  has(/\/hls\/\d+\/master\.m3u8\?rendition=180p$/, 'the one-rendition master');
  has(/\/180p\/index\.m3u8/, 'the video playlist');
  has(/\/180p\/init\.mp4/, 'the video init segment');
  has(/\/180p\/seg_\d+\.m4s/, 'video segments');
  has(/\/audio\d*\/index\.m3u8/, 'the audio playlist');
  has(/\/audio\d*\/seg_\d+\.m4s/, 'audio segments');
  has(/\/sub\d*\/index\.m3u8/, 'the subtitle playlist');
  has(/\/sub\d*\/seg_\d+\.vtt/, 'WebVTT subtitles');
  has(/\/poster$/, 'the poster');

  await page.goto(`${server.base}/#/downloads`);
  const row = page.locator(`.download-row[data-download="${item.id}"]`);
  await row.waitFor({ timeout: STEP });
  assert.match(await row.locator('.download-pct').textContent(), /^100%$/);
  assert.match(await row.locator('.download-size').textContent(), /^\d+(\.\d+)? (kB|MB)$/);
  await page.locator('#storage-used').waitFor({ timeout: STEP });
  await page.screenshot({ path: join(results, 'downloads-online.png') });

  // The server goes away: the process is stopped, nothing answers on its port.
  await stopServer(server);
  await assert.rejects(fetch(`${server.base}/healthz`), 'the server still answers');
  log('server stopped');
  await page.reload();
  await page.locator('#offline-banner', { hasText: 'You are offline — your downloads still play' }).waitFor({ timeout: STEP });
  await row.waitFor({ timeout: STEP });
  assert.match(await row.locator('.download-pct').textContent(), /^100%$/);
  await page.screenshot({ path: join(results, 'downloads-offline.png') });
  // Any other page leads to the downloads while offline.
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.waitForURL(/#\/downloads$/, { timeout: STEP });

  await row.locator('.download-play').click();
  await page.waitForURL(new RegExp(`#/downloads/${item.id}$`));
  await page.waitForFunction(() => window.manofwarPlayer?.hls && window.__mow.levels.length > 0, null, { timeout: STEP });
  await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    v.muted = true;
    return v.play();
  });
  const played = await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 1.5, null, { timeout: STEP })
    .then(() => true, () => false);
  assert.ok(played, `offline playback did not advance: ${JSON.stringify({ video: await videoState(page), errors: await page.evaluate(() => window.__mow.errors) })}`);
  // Its subtitles, from the stored WebVTT.
  await page.evaluate(() => {
    const { hls } = window.manofwarPlayer;
    hls.subtitleDisplay = true;
    hls.subtitleTrack = 0;
  });
  await page.waitForFunction(() => Array.from(window.manofwarPlayer.video.textTracks)
    .some((t) => Array.from(t.cues || []).some((c) => /Ahoy from the harbour/.test(c.text))), null, { timeout: STEP });
  assert.equal(await page.locator('.player-error:not([hidden])').count(), 0, 'the player shows an error');
  log(`played offline to ${(await videoState(page)).currentTime.toFixed(1)} s, with subtitles`);
  await page.screenshot({ path: join(results, 'playing-offline.png') });

  // Deleted (from another tab) while it plays: this one stops and says so; the space is freed.
  const before = await usage(page);
  const { page: other } = await openPage(context);
  await other.goto(`${server.base}/#/downloads`);
  const otherRow = other.locator(`.download-row[data-download="${item.id}"]`);
  await otherRow.locator('.download-delete').click();
  await otherRow.waitFor({ state: 'detached', timeout: STEP });
  await page.locator('#download-missing', { hasText: 'This download was deleted' }).waitFor({ timeout: STEP });
  assert.equal(await storedFiles(other, item.id), null, 'the download\'s cache is gone');
  assert.equal(await metaOf(other, item.id), null, 'the download\'s entry is gone');
  await other.locator('#downloads-empty').waitFor({ timeout: STEP });
  const freed = await until(other, 'the storage to be freed', (was) => navigator.storage.estimate().then((e) => e.usage < was), before)
    .then(() => true, () => false);
  assert.ok(freed, `storage used was ${before} bytes, and is ${await usage(other)} after the deletion`);
  log(`storage: ${before} bytes before the deletion, ${await usage(other)} after`);
  await other.screenshot({ path: join(results, 'deleted.png') });
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await other.close();
  await page.close();
});

test('a download interrupted by the server going away says it is paused, and completes once it is back', async () => {

  test.setTimeout(300_000);
  server = await start();
  log('server started again');
  const item = await server.waitForItem(LONG, STEP);
  const { page, problems } = await openPage(context);
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.locator('#download').waitFor({ timeout: STEP });
  // Slow enough to stop the server half way: 150 KB/s and 80 ms a request.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 80, downloadThroughput: 150 * 1024, uploadThroughput: -1 });
  await page.click('#download');
  const started = Date.now();
  const part = await until(page, 'a fifth of the download', async (key) => {
    const answer = await (await caches.open('mow-downloads')).match(`/__mow/downloads/${key}`);
    const meta = answer && (await answer.json());
    return meta && meta.total > 0 && meta.done / meta.total >= 0.2 && meta.done < meta.total ? meta.done / meta.total : null;
  }, String(item.id), 60_000);
  log(`${Math.round(part * 100)}% after ${((Date.now() - started) / 1000).toFixed(1)} s: stopping the server`);

  await stopServer(server);
  await page.locator('#download-status', { hasText: PAUSED }).waitFor({ timeout: STEP });
  const paused = await metaOf(page, item.id);
  assert.equal(paused.state, 'paused');
  assert.ok(paused.done < paused.total, `paused at ${paused.done} of ${paused.total} files`);
  log(`paused at ${paused.done} of ${paused.total} files: ${await page.locator('#download-status').textContent()}`);
  await page.screenshot({ path: join(results, 'paused.png') });
  await page.goto(`${server.base}/#/downloads`);
  const row = page.locator(`.download-row[data-download="${item.id}"]`);
  await row.locator('.download-state', { hasText: PAUSED }).waitFor({ timeout: STEP });
  await row.locator('.download-resume').waitFor({ timeout: STEP });

  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  server = await start();
  log('server started again');
  await row.locator('.download-state', { hasText: 'Downloaded ✓' }).waitFor({ timeout: 60_000 });
  assert.match(await row.locator('.download-pct').textContent(), /^100%$/);
  const done = await metaOf(page, item.id);
  const files = await storedFiles(page, item.id);
  log(`completed: ${files.length} files (${done.total} counted), ${done.bytes} bytes`);
  assert.equal(done.state, 'done');
  // Every file once: the segments of each playlist, as the server lists them.
  const prefix = new URL(done.master).pathname.replace(/master\.m3u8$/, '');
  for (const kind of ['180p', 'audio0']) {
    const playlist = await (await fetch(`${server.base}${prefix}profile/${kind}/index.m3u8`)).text();
    const segments = playlist.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.ok(segments.length >= LONG_SECONDS / 2 - 1, `${kind}: ${segments.length} segments`);
    for (const s of segments) assert.ok(files.includes(`${prefix}profile/${kind}/${s}`), `${kind}/${s} is stored`);
  }
  assert.equal(new Set(files).size, files.length);
  await page.screenshot({ path: join(results, 'resumed.png') });
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});
