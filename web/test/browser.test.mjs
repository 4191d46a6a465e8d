// End-to-end browser tests: the real `manofwar up` binary transcodes generated clips, and
// headless Chromium plays them through hls.js in the web app.
//
//   cd web && npm ci && npm run build && npm test
//
// 1. An 8 s MP4: the library grid, then play to the end, switching quality mid-play.
// 2. A 10 s MKV with two audio streams (English, French) and a sidecar `.en.srt`: switch the audio
//    track, show a subtitle cue at the right time, hover the scrub bar for a thumbnail, seek with it.
//
// The browser signs in as the harness's admin first (the server has accounts).
// Screenshots, the server log and every hls.js event land in web/test-results/browser/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, ffmpeg, launchBrowser, login, openPage, setup, startServer, stopServer, stopwatch, videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Test Pattern (2024).mp4';
const CLIP_SECONDS = 8;
const MKV_NAME = 'Babel (2021).mkv';
const SRT_NAME = 'Babel (2021).en.srt';
const MKV_SECONDS = 10;
const CUE_TEXT = 'Hello from manofwar';
const SECOND_CUE_TEXT = 'Second cue, later on';
const SRT = `1
00:00:01,000 --> 00:00:04,000
${CUE_TEXT}

2
00:00:06,000 --> 00:00:08,000
${SECOND_CUE_TEXT}
`;
const READY_TIMEOUT_MS = 120_000;
const PLAY_TIMEOUT_MS = 60_000;
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 96
renditions:
  - {name: 720p, height: 720, videoBitrateKbps: 2500}
  - {name: 480p, height: 480, videoBitrateKbps: 1200}
  - {name: 240p, height: 240, videoBitrateKbps: 400}
`;

const log = stopwatch();
let tmp;
let results;
let server;
let context; // playwright persistent context, shared by the tests

async function makeClip(dir) {
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(CLIP_SECONDS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-movflags', '+faststart', join(dir, CLIP_NAME),
  );
}

/** H.264 + two AAC streams (440 Hz English, 880 Hz French), one IDR a second; and a sidecar .srt. */
async function makeMultiTrackClip(dir) {
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000',
    '-t', String(MKV_SECONDS), '-map', '0:v', '-map', '1:a', '-map', '2:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:0', 'title=English',
    '-metadata:s:a:1', 'language=fra',
    '-disposition:a:0', 'default', '-disposition:a:1', '0',
    join(dir, MKV_NAME),
  );
  writeFileSync(join(dir, SRT_NAME), SRT);
}

test.beforeAll(async () => {
  ({ tmp, results } = setup('browser'));
  const media = join(tmp, 'media');
  const data = join(tmp, 'data');
  const profile = join(tmp, 'profile.yaml');
  mkdirSync(media);
  mkdirSync(data);
  writeFileSync(profile, PROFILE_YAML);
  await Promise.all([makeClip(media), makeMultiTrackClip(media)]);
  log(`generated ${CLIP_NAME}, ${MKV_NAME} and ${SRT_NAME}`);
  server = await startServer({ media, data, profile, logPath: join(results, 'server.log') });
  log(`server healthy at ${server.base}`);
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

test('library shows the clip and the player plays it to the end through hls.js, switching quality', async () => {

  test.setTimeout(300_000);
  // 1. The server scans, probes and transcodes the clip.
  const item = await server.waitForItem(CLIP_NAME, READY_TIMEOUT_MS);
  log(`item ${item.id} ready`);
  assert.equal(item.title, 'Test Pattern');
  assert.equal(item.year, 2024);
  assert.ok(Math.abs(item.duration_s - CLIP_SECONDS) < 0.5, `duration_s ${item.duration_s} ≉ ${CLIP_SECONDS}`);
  const detail = await server.json(`/api/v1/items/${item.id}`);
  assert.ok(Array.isArray(detail.renditions) && detail.renditions.length >= 3,
    `expected ≥3 renditions, got ${JSON.stringify(detail.renditions)}`);

  // 2. The browser.
  const { page, problems } = await openPage(context, { reuseFirst: true });
  const { pageErrors, consoleErrors, failedRequests } = problems;

  // 3. Library grid.
  await page.goto(`${server.base}/`);
  const card = page.locator(`.card[data-id="${item.id}"]`);
  await card.waitFor({ state: 'visible', timeout: 15_000 });
  assert.equal((await card.locator('.card-title').textContent()).trim(), 'Test Pattern');
  assert.equal((await card.locator('.card-sub').textContent()).trim(), '2024');
  assert.equal(await card.getAttribute('data-state'), 'ready');
  assert.equal((await card.locator('.card-duration').textContent()).trim(), '0:08');
  // Give the poster a moment to load before the screenshot.
  await page.waitForFunction((id) => {
    const img = document.querySelector(`.card[data-id="${id}"] .poster-img`);
    return img && img.complete;
  }, item.id, { timeout: 10_000 }).catch(() => {});
  if (await card.locator('.poster.is-missing').count()) {
    console.log(`poster for item ${item.id} did not load (GET /api/v1/items/${item.id}/poster)`);
  }
  await page.screenshot({ path: join(results, 'library.png') });

  // 4. Item page: the app creates the player (and window.manofwarPlayer).
  await card.click();
  await page.waitForURL(`**/#/items/${item.id}`);
  await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.hls, null, { timeout: 15_000 });
  await page.waitForFunction(() => window.__mow.levels.length > 0 || window.__mow.errors.some((e) => e.fatal),
    null, { timeout: 15_000 });
  let events = await page.evaluate(() => window.__mow);
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], 'fatal hls.js error before playback');
  assert.ok(events.levels.length >= 3, `expected ≥3 levels in the master playlist, got ${JSON.stringify(events.levels)}`);
  const lowest = events.levels.reduce((best, l, i) => (l.height < events.levels[best].height ? i : best), 0);
  assert.equal(events.levels[lowest].height, 240, `lowest level: ${JSON.stringify(events.levels[lowest])}`);
  const optionCount = await page.locator('#quality option').count();
  assert.equal(optionCount, events.levels.length + 1, 'quality selector: Auto + one option per level');

  // 5. Play; mid-play, switch to the lowest level through the quality selector.
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await page.waitForFunction(() => window.__mow.playing && window.manofwarPlayer.video.currentTime > 1.0,
    null, { timeout: 20_000 });
  // Move the mouse over the video so the screenshot shows the native controls.
  const box = await page.locator('#player').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2 + 10, { steps: 3 });
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(results, 'player.png') });
  const switchedAt = await page.evaluate(() => window.manofwarPlayer.video.currentTime);
  await page.selectOption('#quality', String(lowest));
  assert.equal(await page.evaluate(() => window.manofwarPlayer.hls.manualLevel), lowest, 'hls.currentLevel wiring');
  log(`playing; switched to level ${lowest} (240p) at t=${switchedAt.toFixed(2)}s`);

  // 6. To the end.
  const endedOk = await page.waitForFunction(() => window.__mow.ended || window.__mow.errors.some((e) => e.fatal),
    null, { timeout: PLAY_TIMEOUT_MS }).then(() => true, () => false);
  events = await page.evaluate(() => window.__mow);
  const video = {
    ...(await videoState(page)),
    playing: await page.locator('#now-playing').textContent().catch(() => null),
  };
  await page.screenshot({ path: join(results, 'player-ended.png') });
  writeFileSync(join(results, 'hls-events.json'), JSON.stringify({ video, log: events, ...problems }, null, 2));
  const nonFatal = events.errors.filter((e) => !e.fatal);
  if (nonFatal.length) console.log(`non-fatal hls.js errors: ${JSON.stringify(nonFatal)}`);
  if (consoleErrors.length) console.log(`console errors: ${consoleErrors.join(' | ')}`);
  const context_ = `\nvideo: ${JSON.stringify(video)}\nhls errors: ${JSON.stringify(events.errors)}\nfailed requests: ${failedRequests.join(', ')}\nevents in ${join(results, 'hls-events.json')}`;

  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${context_}`);
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  assert.ok(endedOk && events.ended, `video did not reach "ended" within ${PLAY_TIMEOUT_MS / 1000}s${context_}`);
  assert.ok(events.switched.some((s) => s.level === lowest),
    `no LEVEL_SWITCHED to level ${lowest}: ${JSON.stringify(events.switched)}${context_}`);
  assert.ok(events.fragsLoaded.some((f) => f.type === 'main' && f.level === lowest && f.sn !== 'initSegment'),
    `no media fragment of level ${lowest} loaded: ${JSON.stringify(events.fragsLoaded)}${context_}`);
  assert.ok(Number.isFinite(video.duration) && Math.abs(video.duration - CLIP_SECONDS) < 0.5,
    `video.duration ${video.duration} ≉ ${CLIP_SECONDS}s`);
  assert.ok(Math.abs(video.currentTime - video.duration) <= 0.5,
    `playback stopped at ${video.currentTime}s of ${video.duration}s${context_}`);
  assert.match(video.playing || '', /240p/, 'the "now playing" label follows the switch');
  log(`ended at ${video.currentTime.toFixed(2)}s of ${video.duration.toFixed(2)}s; ` +
    `${events.fragsLoaded.length} fragments, switches ${JSON.stringify(events.switched.map((s) => s.level))}`);
  await page.close();
});

test('audio tracks, subtitles at the right time, scrub previews and seeking (MKV + sidecar .srt)', async () => {

  test.setTimeout(180_000);
  // 1. The API describes the tracks.
  const item = await server.waitForItem(MKV_NAME, READY_TIMEOUT_MS);
  const detail = await server.json(`/api/v1/items/${item.id}`);
  log(`item ${item.id} (${MKV_NAME}) ready`);
  assert.deepEqual((detail.audio || []).map((a) => a.language), ['eng', 'fra'], `audio: ${JSON.stringify(detail.audio)}`);
  assert.ok((detail.subtitles || []).some((s) => s.converted && s.language === 'en' && String(s.source).endsWith(SRT_NAME)),
    `the sidecar ${SRT_NAME} is not among the converted subtitles: ${JSON.stringify(detail.subtitles)}`);
  assert.ok(Array.isArray(detail.warnings), `warnings: ${JSON.stringify(detail.warnings)}`);
  assert.ok(detail.hls_url && detail.thumbnails_url, `hls_url / thumbnails_url: ${JSON.stringify(detail)}`);

  const { page, problems } = await openPage(context);
  const fatal = () => page.evaluate(() => window.__mow.errors.filter((e) => e.fatal));
  const why = async () => `\nvideo: ${JSON.stringify(await videoState(page))}\nhls errors: ${JSON.stringify(await page.evaluate(() => window.__mow.errors))}` +
    `\nfailed requests: ${problems.failedRequests.join(', ')}\npage errors: ${problems.pageErrors.join(' | ')}`;
  const dump = async () => writeFileSync(join(results, 'tracks-events.json'), JSON.stringify({
    video: await videoState(page), log: await page.evaluate(() => window.__mow), ...problems,
  }, null, 2));
  const until = async (what, fn, arg, timeout = 15_000) => {
    const ok = await page.waitForFunction(fn, arg, { timeout, polling: 'raf' }).then(() => true, () => false);
    if (!ok) {
      await dump();
      assert.fail(`timed out after ${timeout / 1000}s waiting for ${what}${await why()}`);
    }
  };

  await page.goto(`${server.base}/#/items/${item.id}`);
  await until('the audio and subtitle tracks in hls.js', () => {
    const p = window.manofwarPlayer;
    return (p && p.hls && p.hls.audioTracks.length >= 2 && p.hls.subtitleTracks.length >= 1) ||
      window.__mow.errors.some((e) => e.fatal);
  });
  assert.deepEqual(await fatal(), [], 'fatal hls.js error after loading the manifest');

  // 2. Audio tracks: both renditions, with their languages, in hls.js and in the menu.
  const tracks = await page.evaluate(() => window.manofwarPlayer.hls.audioTracks.map((a) => ({
    name: a.name, lang: a.lang, channels: a.channels, default: a.default, url: a.url,
  })));
  assert.deepEqual(tracks.map((a) => a.lang), ['eng', 'fra'], `hls.audioTracks: ${JSON.stringify(tracks)}`);
  const audioOptions = await page.locator('#audio option').allTextContents();
  assert.equal(audioOptions.length, 2, `#audio options: ${audioOptions}`);
  assert.match(audioOptions[0], /English/);
  assert.match(audioOptions[1], /Fran[cç]ais|French/);
  const subtitleOptions = await page.locator('#subtitles option').allTextContents();
  assert.deepEqual(subtitleOptions, ['Off', 'English'], `#subtitles options`);
  assert.equal(await page.evaluate(() => window.manofwarPlayer.hls.subtitleTrack), -1, 'subtitles start off');

  // 3. Play and switch to French: AUDIO_TRACK_SWITCHED, then media fragments from its playlist.
  const french = tracks.findIndex((a) => a.lang === 'fra');
  const frenchDir = tracks[french].url.replace(/[^/]*$/, '');
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until('playback', () => window.__mow.playing && window.manofwarPlayer.video.currentTime > 0.3);
  await page.selectOption('#audio', String(french));
  await until(`AUDIO_TRACK_SWITCHED to ${french} and a fragment from ${frenchDir}`, ([id, dir]) =>
    window.__mow.audioSwitched.some((s) => s.id === id) &&
    window.__mow.fragsLoaded.some((f) => f.type === 'audio' && f.sn !== 'initSegment' && String(f.url).startsWith(dir)),
  [french, frenchDir]);
  assert.equal(await page.evaluate(() => window.manofwarPlayer.hls.audioTrack), french);
  assert.equal(await page.inputValue('#audio'), String(french));
  log(`switched audio to ${tracks[french].name} (${frenchDir})`);

  // 4. Subtitles on; from the start, pause at 2 s: the 1–4 s cue is active and rendered.
  await page.selectOption('#subtitles', '0');
  await until('the subtitle cues', () => {
    const track = [...window.manofwarPlayer.video.textTracks].find((tt) => tt.mode === 'showing');
    return track && track.cues && track.cues.length >= 2;
  });
  const cues = await page.evaluate(() => {
    const track = [...window.manofwarPlayer.video.textTracks].find((tt) => tt.mode === 'showing');
    return [...track.cues].map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }));
  });
  const first = cues.find((c) => c.text === CUE_TEXT);
  assert.ok(first, `no cue "${CUE_TEXT}" in ${JSON.stringify(cues)}`);
  // Generous for rounding, tight enough to catch a segment-sized (2 s) or PTS offset error.
  assert.ok(Math.abs(first.start - 1) < 0.1 && Math.abs(first.end - 4) < 0.1,
    `cue "${CUE_TEXT}" is at ${first.start}–${first.end}s on the media timeline, expected 1–4s (all cues: ${JSON.stringify(cues)})`);
  await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    v.currentTime = 0;
    return v.play();
  });
  await until('t ≥ 2 s', () => {
    const v = window.manofwarPlayer.video;
    if (v.currentTime >= 2.0) v.pause();
    return v.paused && v.currentTime >= 2.0;
  }, null, 20_000);
  const activeAt = () => page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    const track = [...v.textTracks].find((tt) => tt.mode === 'showing');
    return { t: v.currentTime, texts: track && track.activeCues ? [...track.activeCues].map((c) => c.text) : null };
  });
  const at2 = await activeAt();
  assert.ok(at2.t < 3.5, `paused too late: ${at2.t}`);
  assert.deepEqual(at2.texts, [CUE_TEXT], `active cues at ${at2.t.toFixed(2)}s`);
  await page.mouse.move(5, 5); // the pointer away from the video: no hover state in the picture
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(results, 'subtitles.png') });
  log(`cue "${CUE_TEXT}" active at ${at2.t.toFixed(2)}s (cue ${first.start}–${first.end}s)`);

  // ... and gone by 5 s: play on across the segment boundaries at 2 and 4 s (a fragment that
  // hls.js puts at a wrong time shows up here as a stall).
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until('playback on to 4.6 s', () => {
    const v = window.manofwarPlayer.video;
    if (v.currentTime >= 4.6) v.pause();
    return v.paused && v.currentTime >= 4.6;
  }, null, 20_000);
  const at5 = await activeAt();
  assert.ok(at5.t < 5.5, `paused too late: ${at5.t}`);
  assert.deepEqual(at5.texts, [], `active cues at ${at5.t.toFixed(2)}s (the 1–4 s cue must be gone)`);

  // 5. Scrub bar: hovering shows the thumbnail tile for that time and the time.
  const bar = await page.locator('#scrub').boundingBox();
  // The scrub bar spans the longer of the API's duration and the media element's.
  const duration = await page.evaluate((known) => Math.max(window.manofwarPlayer.video.duration || 0, known), detail.duration_s);
  const xAt = (seconds) => bar.x + bar.width * (seconds / duration);
  await page.mouse.move(xAt(3.2), bar.y + bar.height / 2, { steps: 4 });
  await page.locator('#scrub-preview').waitFor({ state: 'visible', timeout: 5_000 });
  await page.locator('#scrub-thumb').waitFor({ state: 'visible', timeout: 5_000 });
  const thumb = await page.evaluate(() => {
    const el = document.getElementById('scrub-thumb');
    const style = getComputedStyle(el);
    return {
      image: style.backgroundImage, position: style.backgroundPosition, width: el.offsetWidth, height: el.offsetHeight,
      time: document.getElementById('scrub-preview-time').textContent, xywh: el.dataset.xywh, sprite: el.dataset.sprite,
    };
  });
  assert.match(thumb.image, /thumbs\/sheet_\d+\.jpg/, `preview tile: ${JSON.stringify(thumb)}`);
  assert.equal(thumb.time, '0:03');
  const [, , tileW, tileH] = thumb.xywh.split(',').map(Number);
  assert.ok(thumb.width >= tileW && thumb.height >= tileH && tileW > 0, `tile size: ${JSON.stringify(thumb)}`);
  const sprite = await page.evaluate(async (url) => (await fetch(url)).headers.get('content-type'), thumb.sprite);
  assert.match(String(sprite), /^image\//, `the sprite sheet ${thumb.sprite}`);
  await page.screenshot({ path: join(results, 'scrub-preview.png') });
  log(`scrub preview at 0:03 shows ${thumb.sprite} ${thumb.xywh}`);

  // 6. Click the scrub bar at ~7 s: playback goes on from there, the 6–8 s cue shows, to the end.
  await page.mouse.click(xAt(7.0), bar.y + bar.height / 2);
  const afterClick = await page.evaluate(() => window.manofwarPlayer.video.currentTime);
  assert.ok(Math.abs(afterClick - 7.0) < 0.3, `the scrub bar click seeked to ${afterClick}s, expected ~7s`);
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until('t ≥ 7.3 s after the seek', () => {
    const v = window.manofwarPlayer.video;
    if (v.currentTime >= 7.3) v.pause();
    return v.paused && v.currentTime >= 7.3;
  }, null, 20_000);
  const at7 = await activeAt();
  assert.ok(at7.t < 8, `paused too late: ${at7.t}`);
  assert.deepEqual(at7.texts, [SECOND_CUE_TEXT], `active cues at ${at7.t.toFixed(2)}s`);
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until('the end', () => window.__mow.ended || window.__mow.errors.some((e) => e.fatal), null, 30_000);
  await dump();
  const events = await page.evaluate(() => window.__mow);
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${await why()}`);
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  // Every fragment where it belongs on the timeline (checked last, below).
  const misplaced = events.fragsLoaded.filter((f) => f.sn !== 'initSegment' && !(f.start >= 0 && f.start < MKV_SECONDS + 1));
  const seekedAt = events.pageEvents.filter((e) => e.name === 'seeked').map((e) => e.t);
  assert.ok(seekedAt.some((s) => Math.abs(s - 7) < 0.3), `seeked events: ${JSON.stringify(seekedAt)}`);
  // After the seek, fragments from the 6–8 s segment on were loaded (not from the start again).
  const nonFatal = events.errors.filter((e) => !e.fatal);
  if (nonFatal.length) console.log(`non-fatal hls.js errors: ${JSON.stringify(nonFatal)}`);
  if (problems.consoleErrors.length) console.log(`console errors: ${problems.consoleErrors.join(' | ')}`);
  log(`played from ${afterClick.toFixed(2)}s to the end; cue "${SECOND_CUE_TEXT}" active at ${at7.t.toFixed(2)}s`);

  // 7. What the page shows for subtitles that were not converted, and for warnings (API answer
  //    stubbed: the test cannot generate image subtitles with the ffmpeg CLI).
  await page.route(`**/api/v1/items/${item.id}`, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.subtitles = [...(body.subtitles || []), {
      source: 'stream 3', codec: 'hdmv_pgs_subtitle', language: 'ger', converted: false,
      reason: 'image-based subtitles (PGS) cannot be converted to WebVTT',
    }];
    body.warnings = ['hardware encoder vaapi is not available here: encoded in software'];
    await route.fulfill({ response, json: body });
  });
  await page.reload();
  await page.locator('#subtitles-unconverted li').waitFor({ timeout: 10_000 });
  assert.match(await page.locator('#subtitles-unconverted').textContent(), /German.*PGS.*image-based subtitles \(PGS\) cannot be converted/s);
  assert.match(await page.locator('#warnings').textContent(), /vaapi is not available/);
  await page.waitForFunction(() => document.querySelector('#audio').selectedIndex >= 0, null, { timeout: 10_000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(results, 'item-details.png'), fullPage: true });
  await page.close();

  // hls.js reads a tfdt (baseMediaDecodeTime) whose top 32 bits are all ones, e.g. -1024 (AAC
  // priming) written as 2^64 - 1024, as 4294967295: the fragment lands at ~89478 s (2^32 / 48000)
  // and is never buffered, so playback can stall at the end of the segment before it.
  assert.deepEqual(misplaced, [], 'fragments that hls.js placed outside the media timeline ' +
    '(a start near 89478 s is a tfdt of 2^64 - n in the previous segment: a negative decode time)');
});
