// End-to-end browser test: the real `manofwar up` binary transcodes a generated clip, and
// headless Chromium plays it through hls.js in the web app, switching quality mid-play.
//
//   cd web && npm ci && npm run build && npm test
//
// Environment:
//   MANOFWAR_BIN     the binary (default ../target/debug/manofwar relative to web/)
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium)
//   MANOFWAR_KEEP=1  keep the temporary media/data folders for inspection
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = resolve(WEB_DIR, process.env.MANOFWAR_BIN || '../target/debug/manofwar');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const RESULTS = join(WEB_DIR, 'test-results');
const CLIP_NAME = 'Test Pattern (2024).mp4';
const CLIP_SECONDS = 8;
const READY_TIMEOUT_MS = 120_000;
const PLAY_TIMEOUT_MS = 60_000;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 96
renditions:
  - {name: 720p, height: 720, videoBitrateKbps: 2500}
  - {name: 480p, height: 480, videoBitrateKbps: 1200}
  - {name: 240p, height: 240, videoBitrateKbps: 400}
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

let tmp;
let server; // { child, base, logPath, tail(), exited }
let context; // playwright persistent context

async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

async function makeClip(dir) {
  const out = join(dir, CLIP_NAME);
  await promisify(execFile)('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(CLIP_SECONDS),
    '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
    '-movflags', '+faststart', out,
  ]);
  return out;
}

function startServer({ media, data, profile, port }) {
  const logPath = join(RESULTS, 'server.log');
  const log = createWriteStream(logPath);
  let tailText = '';
  const child = spawn(BIN, [
    'up', '--media', media, '--data', data, '--listen', `127.0.0.1:${port}`, '--profile', profile,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const onData = (chunk) => {
    log.write(chunk);
    tailText = (tailText + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const s = {
    child,
    base: `http://127.0.0.1:${port}`,
    logPath,
    exited: null,
    tail: () => tailText.trim().split('\n').slice(-25).join('\n'),
  };
  child.on('exit', (code, signal) => {
    s.exited = { code, signal };
    log.end();
  });
  child.on('error', (err) => {
    s.exited = { error: err.message };
  });
  return s;
}

function serverContext() {
  const status = server.exited ? `server exited: ${JSON.stringify(server.exited)}\n` : '';
  return `\n${status}--- last lines of ${server.logPath} ---\n${server.tail()}`;
}

async function getJson(path) {
  const res = await fetch(server.base + path);
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text().catch(() => '')}`);
  return res.json();
}

async function waitFor(what, timeoutMs, check, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    if (server && server.exited) throw new Error(`${what}: the server is gone${serverContext()}`);
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}${serverContext()}`);
    }
    await sleep(intervalMs);
  }
}

// Installed before any page script runs: instruments the player as soon as the app exposes it.
function instrumentPlayer() {
  const log = {
    errors: [], switched: [], fragsLoaded: [], pageEvents: [], ended: false, playing: false, levels: [],
  };
  window.__mow = log;
  let player;
  Object.defineProperty(window, 'manofwarPlayer', {
    configurable: true,
    get() { return player; },
    set(value) {
      player = value;
      if (!value || !value.hls || value.hls.__instrumented) return;
      const { hls, video } = value;
      const { Events } = window.Hls;
      hls.__instrumented = true;
      hls.on(Events.ERROR, (_e, d) => log.errors.push({
        type: d.type, details: d.details, fatal: d.fatal, reason: d.reason,
        error: d.error ? String(d.error.message || d.error) : undefined,
        url: (d.frag && d.frag.url) || (d.context && d.context.url) || d.url,
        level: d.frag ? d.frag.level : d.level,
        response: d.response ? { code: d.response.code, text: d.response.text } : undefined,
        mimeType: d.mimeType, t: video.currentTime,
      }));
      hls.on(Events.MANIFEST_PARSED, (_e, d) => {
        log.levels = d.levels.map((l) => ({
          width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecs, url: l.url && l.url[0],
        }));
      });
      hls.on(Events.LEVEL_SWITCHED, (_e, d) => log.switched.push({ level: d.level, t: video.currentTime }));
      hls.on(Events.FRAG_LOADED, (_e, d) => log.fragsLoaded.push({
        type: d.frag.type, level: d.frag.level, sn: d.frag.sn, start: d.frag.start, duration: d.frag.duration,
      }));
      for (const name of ['playing', 'waiting', 'stalled', 'ended', 'error']) {
        video.addEventListener(name, () => {
          log.pageEvents.push({ name, t: video.currentTime });
          if (name === 'ended') log.ended = true;
          if (name === 'playing') log.playing = true;
        });
      }
    },
  });
}

before(async () => {
  assert.ok(existsSync(BIN), `manofwar binary not found at ${BIN}: build it (cargo build -p manofwar-node) or set MANOFWAR_BIN`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  assert.ok(existsSync(join(WEB_DIR, 'dist', 'index.html')), 'web/dist is missing: run `npm run build` first');
  rmSync(RESULTS, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });

  tmp = mkdtempSync(join(tmpdir(), 'manofwar-web-test-'));
  const media = join(tmp, 'media');
  const data = join(tmp, 'data');
  const profile = join(tmp, 'profile.yaml');
  mkdirSync(media);
  mkdirSync(data);
  writeFileSync(profile, PROFILE_YAML);
  await makeClip(media);
  console.log(`[${elapsed()}] generated ${CLIP_NAME}`);

  server = startServer({ media, data, profile, port: await freePort() });
  await waitFor('/healthz', 30_000, async () => (await fetch(server.base + '/healthz')).ok);
  console.log(`[${elapsed()}] server healthy at ${server.base}`);
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (server && !server.exited) {
    server.child.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (!server.exited && Date.now() < deadline) await sleep(50);
    if (!server.exited) server.child.kill('SIGKILL');
  }
  if (tmp && process.env.MANOFWAR_KEEP !== '1') rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${tmp}`);
});

test('library shows the clip and the player plays it to the end through hls.js, switching quality', { timeout: 300_000 }, async (t) => {
  // 1. The server scans, probes and transcodes the clip.
  const item = await waitFor(`"${CLIP_NAME}" to be ready`, READY_TIMEOUT_MS, async () => {
    const { items } = await getJson('/api/v1/items');
    const it = items.find((i) => String(i.path).endsWith(CLIP_NAME));
    if (it && it.state === 'failed') {
      const err = new Error(`transcode failed: ${it.error}${serverContext()}`);
      err.fatal = true;
      throw err;
    }
    return it && it.state === 'ready' ? it : null;
  }, 500);
  console.log(`[${elapsed()}] item ${item.id} ready`);
  assert.equal(item.title, 'Test Pattern');
  assert.equal(item.year, 2024);
  assert.ok(Math.abs(item.duration_s - CLIP_SECONDS) < 0.5, `duration_s ${item.duration_s} ≉ ${CLIP_SECONDS}`);
  const detail = await getJson(`/api/v1/items/${item.id}`);
  assert.ok(Array.isArray(detail.renditions) && detail.renditions.length >= 3,
    `expected ≥3 renditions, got ${JSON.stringify(detail.renditions)}`);

  // 2. The browser.
  const userDataDir = join(tmp, 'chromium-profile');
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] || (await context.newPage());
  const pageErrors = [];
  const consoleErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.stack || err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(`${msg.text()} ${msg.location().url || ''}`);
  });
  const failedRequests = [];
  page.on('response', (res) => {
    if (res.status() >= 400) failedRequests.push(`${res.status()} ${res.url()}`);
  });
  await page.addInitScript(instrumentPlayer);

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
    t.diagnostic(`poster for item ${item.id} did not load (GET /api/v1/items/${item.id}/poster)`);
  }
  await page.screenshot({ path: join(RESULTS, 'library.png') });

  // 4. Item page: the app creates the player (and window.manofwarPlayer).
  await card.click();
  await page.waitForURL(`**/#/items/${item.id}`);
  await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.hls, null, { timeout: 15_000 });
  await page.waitForFunction(() => window.__mow.levels.length > 0 || window.__mow.errors.some((e) => e.fatal),
    null, { timeout: 15_000 });
  let log = await page.evaluate(() => window.__mow);
  assert.deepEqual(log.errors.filter((e) => e.fatal), [], 'fatal hls.js error before playback');
  assert.ok(log.levels.length >= 3, `expected ≥3 levels in the master playlist, got ${JSON.stringify(log.levels)}`);
  const lowest = log.levels.reduce((best, l, i) => (l.height < log.levels[best].height ? i : best), 0);
  assert.equal(log.levels[lowest].height, 240, `lowest level: ${JSON.stringify(log.levels[lowest])}`);
  const optionCount = await page.locator('#quality option').count();
  assert.equal(optionCount, log.levels.length + 1, 'quality selector: Auto + one option per level');

  // 5. Play; mid-play, switch to the lowest level through the quality selector.
  await page.evaluate(() => window.manofwarPlayer.video.play());
  await page.waitForFunction(() => window.__mow.playing && window.manofwarPlayer.video.currentTime > 1.0,
    null, { timeout: 20_000 });
  // Move the mouse over the video so the screenshot shows the native controls.
  const box = await page.locator('#player').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2 + 10, { steps: 3 });
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(RESULTS, 'player.png') });
  const switchedAt = await page.evaluate(() => window.manofwarPlayer.video.currentTime);
  await page.selectOption('#quality', String(lowest));
  assert.equal(await page.evaluate(() => window.manofwarPlayer.hls.manualLevel), lowest, 'hls.currentLevel wiring');
  console.log(`[${elapsed()}] playing; switched to level ${lowest} (240p) at t=${switchedAt.toFixed(2)}s`);

  // 6. To the end.
  const endedOk = await page.waitForFunction(() => window.__mow.ended || window.__mow.errors.some((e) => e.fatal),
    null, { timeout: PLAY_TIMEOUT_MS }).then(() => true, () => false);
  log = await page.evaluate(() => window.__mow);
  const video = await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    const b = v.buffered;
    return {
      currentTime: v.currentTime, duration: v.duration, ended: v.ended, paused: v.paused,
      readyState: v.readyState, error: v.error && { code: v.error.code, message: v.error.message },
      buffered: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]),
      playing: document.querySelector('#now-playing') && document.querySelector('#now-playing').textContent,
    };
  });
  await page.screenshot({ path: join(RESULTS, 'player-ended.png') });
  writeFileSync(join(RESULTS, 'hls-events.json'), JSON.stringify({ video, log, pageErrors, consoleErrors, failedRequests }, null, 2));
  const nonFatal = log.errors.filter((e) => !e.fatal);
  if (nonFatal.length) t.diagnostic(`non-fatal hls.js errors: ${JSON.stringify(nonFatal)}`);
  if (consoleErrors.length) t.diagnostic(`console errors: ${consoleErrors.join(' | ')}`);
  const context_ = `\nvideo: ${JSON.stringify(video)}\nhls errors: ${JSON.stringify(log.errors)}\nfailed requests: ${failedRequests.join(', ')}\nevents in ${join(RESULTS, 'hls-events.json')}`;

  assert.deepEqual(log.errors.filter((e) => e.fatal), [], `fatal hls.js errors${context_}`);
  assert.deepEqual(pageErrors, [], 'uncaught page errors');
  assert.ok(endedOk && log.ended, `video did not reach "ended" within ${PLAY_TIMEOUT_MS / 1000}s${context_}`);
  assert.ok(log.switched.some((s) => s.level === lowest),
    `no LEVEL_SWITCHED to level ${lowest}: ${JSON.stringify(log.switched)}${context_}`);
  assert.ok(log.fragsLoaded.some((f) => f.type === 'main' && f.level === lowest && f.sn !== 'initSegment'),
    `no media fragment of level ${lowest} loaded: ${JSON.stringify(log.fragsLoaded)}${context_}`);
  assert.ok(Number.isFinite(video.duration) && Math.abs(video.duration - CLIP_SECONDS) < 0.5,
    `video.duration ${video.duration} ≉ ${CLIP_SECONDS}s`);
  assert.ok(Math.abs(video.currentTime - video.duration) <= 0.5,
    `playback stopped at ${video.currentTime}s of ${video.duration}s${context_}`);
  assert.match(video.playing || '', /240p/, 'the "now playing" label follows the switch');
  console.log(`[${elapsed()}] ended at ${video.currentTime.toFixed(2)}s of ${video.duration.toFixed(2)}s; ` +
    `${log.fragsLoaded.length} fragments, switches ${JSON.stringify(log.switched.map((s) => s.level))}`);
});
