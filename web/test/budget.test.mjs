// The JavaScript budget and the installable app, against the real `manofwar up` binary.
//
// 1. The library page (signed in) loads under 100 KB of JavaScript, gzipped (level 9, each file
//    on its own, as a server or CDN would send it), and not hls.js (~180 KB gzipped on its own):
//    Vite builds it into a chunk of its own (/assets/hls-<hash>.js), which the player imports
//    when it opens, so the item (watch) page does load it. Whatever the file names, no script of
//    the library page may contain hls.js's code (its "manifestLoadError", which the app never
//    spells). When the hls.js chunk does not load, the player says so. Nor does it load the
//    friends page's QR code chunk (/assets/qr-<hash>.js).
// 2. The web app manifest and its icons answer without a session: an installer sees the login
//    page first.
//
// A screenshot of the library page (1366x900), the JavaScript measured (budget.json) and the
// server log land in web/test-results/budget/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  WEB_DIR, cleanup, launchBrowser, libraryDirs, login, openPage, setup, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const BUDGET_BYTES = 100 * 1024;
const CLIP_NAME = 'Short Film (2022).mp4';
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 300}
`;
const READY_TIMEOUT_MS = 120_000;

const log = stopwatch();
let tmp;
let results;
let server;
let context;

test.beforeAll(async () => {
  ({ tmp, results } = setup('budget'));
  const { media, data, profile } = libraryDirs(tmp, PROFILE_YAML);
  await testClip(join(media, CLIP_NAME));
  log(`generated ${CLIP_NAME}`);
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

/**
 * Records the script responses of `page`: `await scripts.settled()` gives [{url, status, bytes,
 * gzipped}] so far; `scripts.stop()` stops recording (before the page closes).
 */
function recordScripts(page) {
  const pending = [];
  const onResponse = (res) => {
    if (res.request().resourceType() !== 'script') return;
    pending.push(res.body().then((body) => ({
      url: res.url(), status: res.status(), bytes: body.length, gzipped: gzipSync(body, { level: 9 }).length,
      hlsCode: body.includes(HLS_MARKER),
    }), (err) => ({ url: res.url(), status: res.status(), error: err.message, bytes: 0, gzipped: 0 })));
  };
  page.on('response', onResponse);
  return {
    settled: () => Promise.all(pending),
    stop: () => page.off('response', onResponse),
  };
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
/** hls.js's chunk, as Vite names it. */
const HLS_CHUNK = /^\/assets\/hls-[\w-]+\.js$/;
const isHls = (url) => HLS_CHUNK.test(new URL(url).pathname);
/** A string in hls.js's code (an ErrorDetails value) that the app's own code never has. */
const HLS_MARKER = 'manifestLoadError';

/** The built app: its entry script (what index.html loads) and hls.js's chunk. */
function built() {
  const html = readFileSync(join(WEB_DIR, 'dist', 'index.html'), 'utf8');
  const entry = html.match(/<script type="module"[^>]* src="([^"]+)"/);
  assert.ok(entry, 'dist/index.html loads no module script');
  const chunks = readdirSync(join(WEB_DIR, 'dist', 'assets')).filter((name) => isHls(`http://x/assets/${name}`));
  assert.equal(chunks.length, 1, `one hls.js chunk in dist/assets: ${chunks.join(', ')}`);
  const hls = readFileSync(join(WEB_DIR, 'dist', 'assets', chunks[0]), 'utf8');
  assert.ok(hls.includes(HLS_MARKER), `dist/assets/${chunks[0]} is hls.js`);
  return { entry: entry[1], hlsChunk: `/assets/${chunks[0]}` };
}

test('the library page stays under 100 KB of JavaScript (gzipped); hls.js loads on the watch page only', async () => {

  test.setTimeout(180_000);
  const item = await server.waitForItem(CLIP_NAME, READY_TIMEOUT_MS);
  log(`item ${item.id} ready`);
  const { entry } = built();

  const { page, problems } = await openPage(context);
  await page.setViewportSize({ width: 1366, height: 900 });
  const scripts = recordScripts(page);
  await page.goto(`${server.base}/`, { waitUntil: 'networkidle' });
  const card = page.locator(`.card[data-id="${item.id}"]`);
  await card.waitFor({ state: 'visible', timeout: 15_000 });
  await page.waitForLoadState('networkidle');
  await page.waitForFunction((id) => {
    const img = document.querySelector(`.card[data-id="${id}"] .poster-img`);
    return img && img.complete;
  }, item.id, { timeout: 10_000 }).catch(() => {});
  await page.screenshot({ path: join(results, 'library.png') });

  const library = await scripts.settled();
  const total = library.reduce((sum, s) => sum + s.gzipped, 0);
  writeFileSync(join(results, 'budget.json'), JSON.stringify({ total_gzipped: total, budget: BUDGET_BYTES, library }, null, 2));
  const list = library.map((s) => `${new URL(s.url).pathname} ${kb(s.gzipped)}`).join(', ');
  log(`library page: ${library.length} scripts, ${kb(total)} gzipped (budget ${kb(BUDGET_BYTES)}): ${list}`);
  assert.ok(library.some((s) => new URL(s.url).pathname === entry), `${entry} (index.html's) was not among the scripts: ${list}`);
  assert.deepEqual(library.filter((s) => s.status !== 200).map((s) => `${s.status} ${s.url}`), [], 'scripts that failed');
  assert.ok(!library.some((s) => isHls(s.url)), `the library page loaded hls.js's chunk: ${list}`);
  assert.deepEqual(library.filter((s) => s.hlsCode).map((s) => s.url), [], 'library scripts with hls.js in them');
  assert.ok(!library.some((s) => /^\/assets\/qr-/.test(new URL(s.url).pathname)), `the library page loaded the QR code's chunk: ${list}`);
  assert.equal(await page.evaluate(() => typeof window.Hls), 'undefined', 'window.Hls on the library page');
  assert.ok(total < BUDGET_BYTES, `the library page loads ${kb(total)} of JavaScript gzipped, over the ${kb(BUDGET_BYTES)} budget: ${list}`);

  // The watch page: the player loads hls.js, once, and plays through it.
  await card.click();
  await page.waitForURL(`**/#/items/${item.id}`);
  await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.hls, null, { timeout: 15_000 });
  const watch = (await scripts.settled()).slice(library.length);
  const hls = watch.filter((s) => isHls(s.url));
  assert.equal(hls.length, 1, `hls.js loads once on the watch page: ${watch.map((s) => s.url).join(', ')}`);
  assert.equal(hls[0].status, 200);
  assert.ok(hls[0].gzipped > 0, `hls.js: ${hls[0].error}`);
  assert.ok(hls[0].hlsCode, `${hls[0].url} is hls.js`);
  log(`watch page: hls.js ${new URL(hls[0].url).pathname} ${kb(hls[0].gzipped)} gzipped`);
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
  scripts.stop();
  await scripts.settled();
  await page.close();
});

test('a player whose hls.js does not load says so', async () => {

  test.setTimeout(60_000);
  const item = await server.waitForItem(CLIP_NAME, READY_TIMEOUT_MS);
  const { hlsChunk } = built();
  const { page } = await openPage(context);
  await page.route(`**${hlsChunk}`, (route) => route.abort());
  await page.goto(`${server.base}/#/items/${item.id}`);
  const error = page.locator('.player-error');
  await error.waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await error.textContent(), /could not load the player \(hls\.js\): reload the page/i);
  await page.close();
});

test('the web app manifest and its icons answer without a session', async () => {
  const res = await fetch(`${server.base}/manifest.webmanifest`);
  assert.equal(res.status, 200, 'GET /manifest.webmanifest without a session');
  assert.match(res.headers.get('content-type') || '', /^application\/manifest\+json/);
  const manifest = JSON.parse(await res.text());
  assert.equal(manifest.name, 'manofwar');
  assert.ok(manifest.short_name, 'short_name');
  assert.ok(manifest.start_url, 'start_url');
  assert.ok(['standalone', 'fullscreen', 'minimal-ui'].includes(manifest.display), `display: ${manifest.display}`);
  const icons = manifest.icons || [];
  const sized = (px) => icons.some((i) => String(i.sizes).split(/\s+/).includes(`${px}x${px}`));
  assert.ok(sized(192) && sized(512), `icons of 192 and 512 px: ${JSON.stringify(icons)}`);
  const base = new URL('/manifest.webmanifest', server.base);
  for (const icon of icons) {
    const url = new URL(icon.src, base);
    const answer = await fetch(url);
    assert.equal(answer.status, 200, `GET ${url.pathname} without a session`);
    assert.equal(answer.headers.get('content-type'), icon.type, `${url.pathname}'s content type`);
    assert.ok((await answer.arrayBuffer()).byteLength > 0, `${url.pathname} is empty`);
  }

  // What index.html links: the manifest, the favicon and the icon iOS puts on the home screen.
  const html = await (await fetch(`${server.base}/`)).text();
  for (const rel of ['manifest', 'icon', 'apple-touch-icon']) {
    const m = html.match(new RegExp(`<link rel="${rel}"[^>]* href="([^"]+)"`));
    assert.ok(m, `index.html links no rel="${rel}"`);
    const answer = await fetch(new URL(m[1], `${server.base}/`));
    assert.equal(answer.status, 200, `rel="${rel}" ${m[1]} without a session`);
  }
});
