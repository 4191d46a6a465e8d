// A library with two profiles, in the browser: `manofwar serve` with a profiles folder, one
// `manofwar transcode --server` worker per profile, and headless Chromium playing the item's
// master playlist, which offers both profiles' packages. Switching to the other profile's
// variant (another folder, another audio group) keeps playing.
//
// `manofwar serve` is a cluster's library server: it has no accounts (its network policy guards
// it), so the browser signs in only if the server turns out to have them.
// Screenshots and the server log land in web/test-results/profiles/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  BIN, cleanup, ffmpeg, launchBrowser, login, openPage, setup, startServer, stopServer, stopwatch,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Two Ladders (2025).mp4';
const TOKEN = 'browser-test-token';
const PROFILES = {
  standard: 'segmentSeconds: 2\npreset: ultrafast\nrenditions:\n  - {name: 240p, height: 240, videoBitrateKbps: 400}\n',
  mobile: 'segmentSeconds: 2\npreset: ultrafast\nsourceRung: false\nrenditions:\n  - {name: 180p, height: 180, videoBitrateKbps: 200}\n',
};

const log = stopwatch();
let tmp;
let results;
let server;
let context;
let accounts; // does this server have accounts (GET /api/v1/auth/me is not a 404)?

test.beforeAll(async () => {
  ({ tmp, results } = setup('profiles'));
  const media = join(tmp, 'media');
  const profiles = join(tmp, 'profiles');
  mkdirSync(media);
  mkdirSync(profiles);
  for (const [name, yaml] of Object.entries(PROFILES)) writeFileSync(join(profiles, `${name}.yaml`), yaml);
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-t', '8', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    join(media, CLIP_NAME),
  );
  server = await startServer({
    media,
    data: join(tmp, 'data'),
    profile: join(profiles, 'standard.yaml'),
    logPath: join(results, 'server.log'),
    role: ['serve', '--token', TOKEN, '--profiles', profiles],
    admin: true, // in case `serve` has accounts: an admin to sign in with
  });
  await server.waitForItem(CLIP_NAME, 30_000, ['pending']);
  for (const name of Object.keys(PROFILES)) {
    const { stdout } = await promisify(execFile)(BIN, [
      'transcode', '--server', server.base, '--profile', join(profiles, `${name}.yaml`),
      '--work-dir', join(tmp, `work-${name}`),
    ], { env: { ...process.env, MANOFWAR_TOKEN: TOKEN } });
    assert.match(stdout, /queue empty after 1 item/, `the ${name} worker`);
  }
  log('both profiles transcoded');
  context = await launchBrowser(tmp);
  accounts = (await fetch(`${server.base}/api/v1/auth/me`)).status !== 404;
  if (accounts) await login(context, server);
  log(accounts ? 'signed in' : 'no accounts on this server: not signing in');
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

test('the master offers both profiles; switching to the other profile keeps playing', async () => {

  test.setTimeout(120_000);
  const item = await server.waitForItem(CLIP_NAME, 10_000);
  const { page, problems } = await openPage(context);
  const requested = [];
  page.on('request', (r) => requested.push(new URL(r.url()).pathname));
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.waitForFunction(() => window.__mow && window.__mow.levels.length > 0, null, { timeout: 15_000 });
  const levels = await page.evaluate(() => window.__mow.levels);
  assert.deepEqual(levels.map((l) => l.height).sort((a, b) => a - b), [180, 240, 360],
    `mobile's 180p, standard's 240p and its 360p source rung: ${JSON.stringify(levels)}`);
  const chips = await page.locator('.chip').allTextContents();
  assert.ok(chips.some((c) => /180p.*mobile/i.test(c)), `rendition chips name their profile: ${chips}`);
  const packages = await page.locator('#profile-packages .chip').allTextContents();
  assert.deepEqual(packages.map((c) => c.replace(/\s+/g, ' ').trim()), ['mobile Ready', 'standard Ready'],
    'each profile\'s package and its state');

  await page.evaluate(() => { window.manofwarPlayer.video.muted = true; return window.manofwarPlayer.video.play(); });
  await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 1.0, null, { timeout: 20_000 });
  const mobile = levels.findIndex((l) => l.height === 180);
  await page.selectOption('#quality', String(mobile));
  const switchedAt = await page.evaluate(() => window.manofwarPlayer.video.currentTime);
  await page.waitForFunction((t) => window.manofwarPlayer.video.currentTime > t + 2.5, switchedAt, { timeout: 20_000 });
  log(`switched to the mobile profile's 180p at ${switchedAt.toFixed(2)} s; still playing`);
  await page.screenshot({ path: join(results, 'two-profiles.png'), fullPage: true });

  assert.ok(requested.some((p) => /\/hls\/\d+\/mobile\/180p\/seg_\d+\.m4s$/.test(p)),
    `mobile segments were fetched: ${requested.filter((p) => p.includes('/hls/')).join(' ')}`);
  assert.deepEqual(problems.pageErrors, [], 'page errors');
  // Without accounts, the app's GET /api/v1/auth/me (who is signed in?) is the 404 that says so.
  const expected = (r) => !accounts && /^404 .*\/api\/v1\/auth\/me$/.test(r);
  assert.deepEqual(problems.failedRequests.filter((r) => !expected(r)), [], 'failed requests');
  assert.deepEqual(await page.evaluate(() => window.__mow.errors.filter((e) => e.fatal)), [], 'fatal hls.js errors');
});
