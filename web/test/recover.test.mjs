// Bad input, as a viewer meets it: the server goes away mid-play and comes back, the item is
// deleted while it is open, the session ends, a very long title, an empty library. Each case
// uses the real `manofwar up`, stopped and started again on the same port and data folder.
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '@playwright/test';
import {
  ADMIN, addUser, cleanup, launchBrowser, libraryDirs, login, openPage, setup, smallProfile, restartable, stopServer,
  stopwatch, testClip, videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

// Long enough that what the player buffers ahead (a minute at most) is not the whole item.
const CLIP = 'Night Crossing (2024).mp4';
const CLIP_SECONDS = 180;
const LONG_TITLE = `The ${'Very '.repeat(30)}Long Voyage of the Unpronounceable Ship (2019)`;
const PROFILE_YAML = smallProfile();
const STEP = 20_000;
const MEMBER = { username: 'nell', password: 'a long enough password' };

const log = stopwatch();
let tmp;
let results;
let dirs;
let server;
let start; // starts `manofwar up`, again on the same port and data folder after a stop
let context;

test.beforeAll(async () => {
  ({ tmp, results } = setup('recover'));
  dirs = libraryDirs(tmp, PROFILE_YAML);
  dirs.empty = join(tmp, 'empty');
  mkdirSync(dirs.empty);
  await testClip(join(dirs.media, CLIP), { seconds: CLIP_SECONDS, size: '320x180', preset: 'ultrafast' });
  await testClip(join(dirs.media, `${LONG_TITLE}.mp4`), { seconds: 2, size: '320x180', preset: 'ultrafast' });
  await addUser(dirs.data, MEMBER, 'member', ['empty']);
  start = restartable({ media: [dirs.media, `empty=${dirs.empty}`], data: dirs.data, profile: dirs.profile, logDir: results });
  server = await start();
  await server.waitForItem(CLIP, 180_000);
  await server.waitForItem('Ship (2019).mp4', 60_000);
  log('both items are ready');
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

const overlayText = (page) => page.evaluate(() => {
  const el = document.querySelector('.player-error');
  return el && !el.hidden ? el.textContent : '';
});
const seek = (page, t) => page.evaluate((to) => { window.manofwarPlayer.video.currentTime = to; }, t);

/** A time the player has not loaded (it keeps 30 s behind and at most a minute ahead). */
async function unbufferedTime(page) {
  const t = await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    const inside = (at) => Array.from({ length: v.buffered.length }, (_, i) => [v.buffered.start(i), v.buffered.end(i)])
      .some(([start, end]) => at >= start - 4 && at <= end + 4);
    for (let at = 5; at < v.duration - 10; at += 1) if (!inside(at)) return at;
    return null;
  });
  assert.ok(t !== null, `everything is buffered: ${JSON.stringify(await videoState(page))}`);
  return t;
}

test('the server goes away mid-play: the player says so, and plays on when it is back', async () => {

  test.setTimeout(180_000);
  const { page, problems } = await openPage(context);
  const item = await server.waitForItem(CLIP, STEP);
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.waitForFunction(() => window.manofwarPlayer?.hls && window.__mow.levels.length > 0, null, { timeout: STEP });
  await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    v.muted = true;
    return v.play();
  });
  await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 1, null, { timeout: STEP });

  await stopServer(server);
  log('server stopped');
  // Past what is buffered: the player must load, and cannot.
  const gap = await unbufferedTime(page);
  await seek(page, gap);
  await page.waitForFunction(() => /Lost the connection/.test(document.querySelector('.player-error')?.textContent || ''),
    null, { timeout: STEP });
  log(`the player says: ${await overlayText(page)}`);
  await page.screenshot({ path: join(results, 'server-gone.png') });

  server = await start();
  log('server started again');
  const playedOn = await page.waitForFunction((t) => window.manofwarPlayer.video.currentTime > t + 1.5, gap, { timeout: 45_000 })
    .then(() => true, () => false);
  assert.ok(playedOn, `playback did not go on after the server came back: ${JSON.stringify(await videoState(page))}${server.context()}`);
  await page.waitForFunction(() => document.querySelector('.player-error').hidden, null, { timeout: STEP });
  assert.equal(await page.evaluate(() => window.manofwarPlayer.hls !== null), true, 'the same player, not a dead one');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');

  // Deleted while open: what is not loaded yet cannot be, and the player says why.
  renameSync(join(dirs.media, CLIP), join(tmp, CLIP));
  await server.waitFor('the item to leave the library', STEP, async () => {
    const { items } = await server.json('/api/v1/items');
    return !items.some((i) => i.id === item.id);
  });
  const unbuffered = await unbufferedTime(page);
  await seek(page, unbuffered);
  const said = await page.waitForFunction(() => /no longer in the library/.test(document.querySelector('.player-error')?.textContent || ''),
    null, { timeout: STEP }).then(() => true, () => false);
  assert.ok(said, `at ${unbuffered} s: ${JSON.stringify({ overlay: await overlayText(page), errors: await page.evaluate(() => window.__mow.errors.slice(-4)), video: await videoState(page) })}`);
  log(`then: ${await overlayText(page)}`);
  await page.reload();
  await page.getByText(/not found|no such item|doesn.t exist|no longer/i).first().waitFor({ timeout: STEP });
  await page.screenshot({ path: join(results, 'item-deleted.png') });
  await page.close();
});

test('a session that ends sends the viewer to sign in, then back to the same page', async () => {

  test.setTimeout(60_000);
  const { page } = await openPage(context);
  const item = await server.waitForItem('Ship (2019).mp4', STEP);
  await page.goto(`${server.base}/#/items/${item.id}`);
  await page.locator('h1').first().waitFor({ timeout: STEP });
  // The admin ends every session of ADMIN's browser (as "sign out everywhere" would).
  const { sessions } = await server.json('/api/v1/sessions');
  for (const s of sessions) await server.json(`/api/v1/sessions/${s.id}`, { method: 'DELETE' });
  await page.reload();
  await page.waitForURL(/#\/login\?next=/, { timeout: STEP });
  await page.fill('#login-username', ADMIN.username);
  await page.fill('#login-password', ADMIN.password);
  await page.click('#login-submit');
  await page.waitForURL(new RegExp(`#/items/${item.id}$`), { timeout: STEP });
  await page.locator('h1').first().waitFor({ timeout: STEP });
  await page.close();
});

test('a very long title wraps on a phone; an empty library says how to fill it', async () => {

  test.setTimeout(60_000);
  const { page, problems } = await openPage(context);
  await page.setViewportSize({ width: 390, height: 844 });
  const item = await server.waitForItem('Ship (2019).mp4', STEP);
  for (const route of ['#/', `#/items/${item.id}`]) {
    await page.goto(`${server.base}/${route}`);
    await page.getByText(/Unpronounceable Ship/).first().waitFor({ timeout: STEP });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${route} scrolls sideways by ${overflow}px at 390 px`);
    await page.screenshot({ path: join(results, `long-title-${route === '#/' ? 'library' : 'item'}.png`) });
  }
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();

  // (The last test: the browser's session becomes nell's, who may see only the empty library.)
  await login(context, server, MEMBER);
  const { page: hers } = await openPage(context);
  await hers.goto(`${server.base}/#/`);
  await hers.getByText('Your library is empty').waitFor({ timeout: STEP });
  assert.match(await hers.locator('.empty').first().textContent(), /--media/);
  await hers.screenshot({ path: join(results, 'empty-library.png') });
  await hers.close();
  rmSync(join(tmp, CLIP), { force: true });
});
