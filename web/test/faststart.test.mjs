// Fast start, end to end: a 1080p H.264 file dropped into a running `manofwar up` plays in the
// browser from its source rung (a remux) while the slow encoded rung is still being made; when the
// transcode finishes, the player picks up the full ladder without starting over. And a queued item
// on which the user presses play jumps the queue and starts playing by itself.
//
// One worker (--workers 1), so that items queue up the same way on any machine.
// Screenshots, the server log and the hls.js events land in web/test-results/faststart/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, ffmpeg, launchBrowser, login, openPage, setup, startServer, stopServer, stopwatch, videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const BIG_NAME = 'Long Take (2022).mp4';
const BIG_SECONDS = 12;
const SMALL = ['Queue Filler (2020).mp4', 'Jump The Queue (2021).mp4'];
// The encoded 720p rung at preset "slow" takes longer than real time on small machines; the
// source rung is a remux and is ready within a second or two.
const PROFILE_YAML = `segmentSeconds: 2
preset: slow
audioBitrateKbps: 96
sourceRung: true
renditions:
  - {name: 720p, height: 720, videoBitrateKbps: 2500}
`;

const log = stopwatch();
let tmp;
let results;
let media;
let server;
let context;

/** Writes a clip outside the media folder, then renames it in: the server sees a whole file. */
async function drop(name, { height, seconds, rate = 24 }) {
  const staged = join(tmp, 'staging', name);
  await ffmpeg(
    // Drawn small and scaled up without filtering: a real 1080p stream, cheap to generate.
    '-f', 'lavfi', '-i', `testsrc2=size=${Math.round(height * 4 / 9)}x${Math.round(height / 4)}:rate=${rate},scale=-2:${height}:flags=neighbor`,
    '-f', 'lavfi', '-i', 'sine=frequency=330:sample_rate=48000',
    '-t', String(seconds),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(rate * 2), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', '-movflags', '+faststart', staged,
  );
  return () => renameSync(staged, join(media, name));
}

test.beforeAll(async () => {
  ({ tmp, results } = setup('faststart'));
  media = join(tmp, 'media');
  const data = join(tmp, 'data');
  const profile = join(tmp, 'profile.yaml');
  mkdirSync(media);
  mkdirSync(data);
  mkdirSync(join(tmp, 'staging'));
  writeFileSync(profile, PROFILE_YAML);
  server = await startServer({ media, data, profile, logPath: join(results, 'server.log'), args: ['--workers', '1'] });
  log(`server healthy at ${server.base}`);
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

test('fast start: plays while transcoding, from the start; play on a queued item jumps the queue', async () => {

  test.setTimeout(240_000);
  const [moveBig, ...moveSmall] = await Promise.all([
    drop(BIG_NAME, { height: 1080, seconds: BIG_SECONDS }),
    ...SMALL.map((name) => drop(name, { height: 360, seconds: 4 })),
  ]);
  log('generated the clips');

  // 1. Drop the 1080p file; the API offers hls_url while the item is still transcoding.
  const dropped = Date.now();
  moveBig();
  const big = await server.waitFor(`hls_url for "${BIG_NAME}"`, 60_000, async () => {
    const { items } = await server.json('/api/v1/items');
    const it = items.find((i) => String(i.path).endsWith(BIG_NAME));
    if (!it) return null;
    const detail = await server.json(`/api/v1/items/${it.id}`);
    return detail.hls_url ? detail : null;
  }, 100);
  const toHls = (Date.now() - dropped) / 1000;
  log(`${BIG_NAME}: hls_url after ${toHls.toFixed(1)}s, state ${big.state} ${Math.round(big.progress * 100)}%`);
  assert.equal(big.state, 'transcoding', 'the item must still be transcoding for this test to mean anything');

  // Queue two more while the worker is busy; they wait.
  for (const move of moveSmall) move();

  // 2. The player loads the (EVENT) playlists and the first segment, and plays from 0:00.
  const { page, problems } = await openPage(context, { reuseFirst: true });
  const why = async (p = page) => `\nvideo: ${JSON.stringify(await videoState(p))}\nhls: ${JSON.stringify(await p.evaluate(() => window.__mow))}` +
    `\nfailed requests: ${problems.failedRequests.join(', ')}\npage errors: ${problems.pageErrors.join(' | ')}${server.context()}`;
  const until = async (p, what, fn, arg, timeout = 20_000) => {
    const ok = await p.waitForFunction(fn, arg, { timeout }).then(() => true, () => false);
    if (!ok) assert.fail(`timed out after ${timeout / 1000}s waiting for ${what}${await why(p)}`);
  };
  await page.goto(`${server.base}/#/items/${big.id}`);
  await until(page, 'the first media segment', () => (window.__mow.fragsLoaded || []).some((f) => f.type === 'main' && f.sn !== 'initSegment') ||
    window.__mow.errors.some((e) => e.fatal));
  const firstSegmentAt = (Date.now() - dropped) / 1000;
  const whileLoading = await server.json(`/api/v1/items/${big.id}`);
  let events = await page.evaluate(() => window.__mow);
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${await why()}`);
  assert.equal(whileLoading.state, 'transcoding', `the first segment came after the transcode finished (${firstSegmentAt}s)`);
  log(`first segment in the browser ${firstSegmentAt.toFixed(1)}s after the drop, item still transcoding (${Math.round(whileLoading.progress * 100)}%)`);
  const mainPlaylist = events.playlists.find((p) => p.kind === 'main');
  assert.ok(mainPlaylist && mainPlaylist.type === 'EVENT' && mainPlaylist.live,
    `the media playlist while transcoding: ${JSON.stringify(mainPlaylist)}`);
  const firstFrag = events.fragsLoaded.find((f) => f.type === 'main' && f.sn !== 'initSegment');
  assert.equal(firstFrag.start, 0, `hls.js started at ${firstFrag.start}s (sn ${firstFrag.sn}), not at the beginning`);
  await page.locator('#transcode-note').waitFor({ state: 'visible', timeout: 5_000 });
  assert.match(await page.locator('#transcode-note').textContent(), /Still transcoding · \d+%/);

  await page.evaluate(() => window.manofwarPlayer.video.play());
  // Pause after 1 s: the source rung is complete long before the item is, and played through, the
  // video would be sitting at its end when the item turns ready.
  await until(page, 'playback past 1 s', () => {
    const v = window.manofwarPlayer.video;
    if (v.currentTime > 1) v.pause();
    return (v.paused && v.currentTime > 1) || window.__mow.errors.some((e) => e.fatal);
  });
  const pausedAt = (await videoState(page)).currentTime;
  events = await page.evaluate(() => window.__mow);
  const firstPlaying = events.pageEvents.find((e) => e.name === 'playing');
  assert.ok(firstPlaying && firstPlaying.t < 1, `playback started at ${firstPlaying && firstPlaying.t}s, not at the beginning`);
  const playingState = await server.json(`/api/v1/items/${big.id}`);
  await page.mouse.move(5, 5);
  await page.screenshot({ path: join(results, 'faststart.png') });
  log(`playing at ${(await videoState(page)).currentTime.toFixed(1)}s while the API says ${playingState.state} ${Math.round(playingState.progress * 100)}%`);
  if (playingState.state !== 'transcoding') console.log('the transcode finished before playback passed 1 s');

  // 3. Meanwhile, on a second tab: press play on the last queued item; it jumps the queue.
  const jumper = await server.waitForItem(SMALL[1], 30_000, ['pending']);
  const filler = await server.waitForItem(SMALL[0], 30_000, ['pending']);
  const second = await openPage(context);
  const posts = [];
  second.page.on('response', (res) => {
    if (res.request().method() === 'POST') posts.push(`${res.status()} ${new URL(res.url()).pathname}`);
  });
  await second.page.goto(`${server.base}/#/items/${jumper.id}`);
  await second.page.locator('#play-now').waitFor({ timeout: 10_000 });
  await second.page.screenshot({ path: join(results, 'queued.png') });
  await second.page.locator('#play-now').click();
  await second.page.locator('.status-panel', { hasText: 'Up next' }).waitFor({ timeout: 5_000 });
  assert.match(await second.page.locator('.status-panel').textContent(), /right after Long Take/);
  assert.deepEqual(posts, [`202 /api/v1/items/${jumper.id}/transcode`]);
  await second.page.screenshot({ path: join(results, 'queued-starting.png') });
  log(`pressed play on "${SMALL[1]}" (item ${jumper.id}) while "${SMALL[0]}" (item ${filler.id}) waits too`);

  // 4. The big item finishes: the player reloads the master (now with the 720p rung) and goes on
  //    from where it was.
  await server.waitForItem(BIG_NAME, 120_000);
  const readyAt = (Date.now() - dropped) / 1000;
  await until(page, 'the full ladder in the quality menu', () => document.querySelectorAll('#quality option').length >= 3 ||
    window.__mow.errors.some((e) => e.fatal), null, 15_000);
  await until(page, 'the reloaded media at the paused position', () => {
    const v = window.manofwarPlayer.video;
    return (window.__mow.manifests >= 2 && v.readyState >= 2 && !v.seeking) || window.__mow.errors.some((e) => e.fatal);
  });
  events = await page.evaluate(() => window.__mow);
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${await why()}`);
  assert.ok(events.levels.some((l) => l.height === 720), `levels after the reload: ${JSON.stringify(events.levels)}`);
  const reloaded = await videoState(page);
  assert.ok(reloaded.paused && Math.abs(reloaded.currentTime - pausedAt) < 0.5,
    `paused at ${pausedAt}s before the reload; after it: ${JSON.stringify(reloaded)}`);
  assert.ok(await page.locator('#transcode-note').isHidden(), 'the "still transcoding" note is gone');
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until(page, 'playback on from there', (from) => window.manofwarPlayer.video.currentTime > from + 1 ||
    window.__mow.errors.some((e) => e.fatal), pausedAt);
  events = await page.evaluate(() => window.__mow);
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${await why()}`);
  const lastPlaylist = events.playlists.filter((p) => p.kind === 'main').pop();
  assert.ok(lastPlaylist.type === 'VOD' && !lastPlaylist.live, `the media playlist once ready: ${JSON.stringify(lastPlaylist)}`);
  await page.evaluate(() => window.manofwarPlayer.video.pause());
  await page.mouse.move(5, 5);
  await page.screenshot({ path: join(results, 'faststart-ready.png') });
  log(`${BIG_NAME} ready ${readyAt.toFixed(1)}s after the drop; the player reloaded the master at ${reloaded.currentTime.toFixed(1)}s with ${events.levels.length} levels and played on`);

  // 5. Next in the queue is the item we pressed play on; its page starts playing by itself.
  await until(second.page, 'the queued item to play', () => window.manofwarPlayer && window.manofwarPlayer.video &&
    window.manofwarPlayer.video.currentTime > 0.5, null, 60_000);
  const started = readFileSync(server.logPath, 'utf8').split('\n')
    .filter((l) => l.includes('transcode started'))
    .map((l) => SMALL.find((name) => l.includes(name)) || BIG_NAME);
  assert.deepEqual(started.slice(0, 2), [BIG_NAME, SMALL[1]], `transcode order: ${JSON.stringify(started)}`);
  assert.deepEqual(second.problems.pageErrors, [], 'uncaught page errors (second tab)');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await second.page.mouse.move(5, 5);
  await second.page.screenshot({ path: join(results, 'queued-playing.png') });
  writeFileSync(join(results, 'hls-events.json'), JSON.stringify({
    big: { video: await videoState(page), log: await page.evaluate(() => window.__mow), ...problems },
    jumper: { video: await videoState(second.page), log: await second.page.evaluate(() => window.__mow), ...second.problems },
  }, null, 2));
  log(`"${SMALL[1]}" played after pressing play; transcode order ${JSON.stringify(started)}`);
});
