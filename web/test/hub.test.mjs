// The web app on a cluster's front door, with the real binaries: a private library server
// (`manofwar serve --private`, as a MediaLibrary's) behind `manofwar hub`, whose directory file
// is the operator's (e2e/k8s/cluster_test.sh checks the operator writes it): films, with the
// Ready condition the operator would give a library whose profile is missing, and shows, whose
// server is not running. Signed in to the hub, the admin's "Libraries and queue" says what is
// wrong with each and what to change; the home page lists films' item, which plays from the
// hub's signed URL. A member sees the library, not the operator's words.
//
// Screenshots (hub-admin.png, hub-admin-phone.png, hub-home.png) and both logs land in
// web/test-results/hub/.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '@playwright/test';
import {
  addUser, cleanup, freePort, launchBrowser, login, openPage, setup, smallProfile, startServer, stopServer, stopwatch,
  testClip, videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const TOKEN = 'films-library-token-0123456789';
const CLIP = 'Quiet Harbour (2022).mp4';
const STALLED = {
  ready: false, stalled: true, reason: 'ProfileNotFound',
  message: 'TranscodeProfile "tv" not found in namespace "media": create it or remove it from spec.profiles',
};
const MEMBER = { username: 'mia', password: 'a long enough password' };
const STEP = 20_000;

const log = stopwatch();
let tmp;
let results;
let library;
let hub;
let context;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  ({ tmp, results } = setup('hub'));
  for (const dir of ['media', 'data-films', 'data-hub']) mkdirSync(join(tmp, dir));
  await testClip(join(tmp, 'media', CLIP), { seconds: 4, size: '320x180', preset: 'ultrafast' });
  writeFileSync(join(tmp, 'profile.yaml'), smallProfile());
  library = await startServer({
    role: ['serve', '--token', TOKEN, '--private', '--workers', '1'], media: `films=${join(tmp, 'media')}`,
    data: join(tmp, 'data-films'), profile: join(tmp, 'profile.yaml'), logPath: join(results, 'films.log'),
  });
  library.token = TOKEN;
  const directory = {
    libraries: [
      { name: 'films', namespace: 'media', url: library.base, token: TOKEN, state: STALLED },
      // Its server is not running: nothing listens there.
      { name: 'shows', namespace: 'media', url: `http://127.0.0.1:${await freePort()}`, token: 'shows-token-0123456789',
        state: { ready: false, stalled: false, reason: 'ServerStarting', message: 'waiting for the library server Deployment to have an available pod' } },
    ],
  };
  writeFileSync(join(tmp, 'libraries.json'), JSON.stringify(directory));
  hub = await startServer({
    role: ['hub', '--libraries', join(tmp, 'libraries.json')], data: join(tmp, 'data-hub'), logPath: join(results, 'hub.log'),
  });
  await hub.waitFor('films\' item ready through the hub', 120_000, async () => {
    const { items } = await hub.json('/api/v1/items');
    return items.some((i) => i.library === 'films' && i.state === 'ready');
  });
  log('films transcoded, listed by the hub');
  context = await launchBrowser(tmp);
  await login(context, hub);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(hub);
  await stopServer(library);
  cleanup(tmp);
});

test('the hub\'s admin sees each MediaLibrary\'s condition and what to change', async () => {

  test.setTimeout(60_000);
  const { page, problems } = await openPage(context);
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`${hub.base}/#/admin`);
  const films = page.locator('#libraries-table tr[data-library="films"]');
  await films.locator('.library-state .badge').waitFor({ timeout: STEP });
  assert.equal((await films.locator('.badge').textContent()).trim(), 'Profile not found');
  assert.match(await films.locator('.badge').getAttribute('class'), /badge-failed/);
  assert.match(await films.locator('.library-state-message').textContent(), /create it or remove it from spec\.profiles/);
  const shows = page.locator('#libraries-table tr[data-library="shows"]');
  assert.equal((await shows.locator('.badge').textContent()).trim(), 'Unreachable');
  assert.match(await shows.locator('.library-state-message').textContent(), /unreachable/);
  // The hub's library servers scan on their own: no "Last scan" column there.
  const heads = await page.locator('#libraries-table thead th').allTextContents();
  assert.deepEqual(heads.map((h) => h.trim()), ['Library', 'Items', 'State', 'Actions']);
  await page.locator('#libraries').screenshot({ path: join(results, 'hub-admin.png') });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator('#libraries').screenshot({ path: join(results, 'hub-admin-phone.png') });
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('films\' item plays from the hub\'s signed URL; a member sees films without the operator\'s words', async () => {

  test.setTimeout(90_000);
  const { page, problems } = await openPage(context);
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`${hub.base}/#/`);
  const card = page.locator('.card', { hasText: 'Quiet Harbour' }).first();
  await card.waitFor({ timeout: STEP });
  await page.screenshot({ path: join(results, 'hub-home.png') });
  await card.click();
  await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.video, null, { timeout: STEP });
  await page.evaluate(() => { window.manofwarPlayer.video.muted = true; return window.manofwarPlayer.video.play(); });
  await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 2, null, { timeout: 30_000 })
    .catch(async (err) => { throw new Error(`${err.message}\nvideo: ${JSON.stringify(await videoState(page))}`); });
  const media = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)
    .filter((p) => /\.m4s$/.test(p)));
  assert.ok(media.length > 0 && media.every((p) => p.startsWith('/s/')), `segments through signed URLs: ${media.join(', ')}`);
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();

  await addUser(join(tmp, 'data-hub'), MEMBER, 'member', ['films']);
  const member = await fetch(`${hub.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(MEMBER),
  });
  assert.equal(member.status, 200);
  const cookie = member.headers.get('set-cookie').split(';')[0];
  const { libraries } = await (await fetch(`${hub.base}/api/v1/libraries`, { headers: { cookie } })).json();
  assert.deepEqual(libraries.map((l) => [l.name, l.state ?? null]), [['films', null]]);
  log('played through the hub; the member sees films only, without its state');
});
