// Resume where you stopped, in the browser: the real `manofwar up` binary with a 30 s clip, and
// headless Chromium signed in as the harness's admin.
//
// Played to 7 s and paused, the item page saves the position (PUT /api/v1/items/{id}/position,
// with the CSRF token); reloaded, the player starts there ("Resumed at 0:07 · Start over"). Played
// on and left (a reload: `pagehide`, a keepalive request), the later position is saved. The
// library shows the item under "Continue watching" with how far in it is; from there it resumes,
// plays to the end, which forgets the position, and the row is gone. "Start over" on a resumed
// item plays from 0 and forgets the position too.
//
// Screenshots (resume-item.png, resume-library.png), the server log and the recorded hls.js
// events land in web/test-results/resume/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  cleanup, launchBrowser, libraryDirs, login, openPage, setup, startServer, stopServer, stopwatch, testClip, videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Long Way Home (2023).mp4';
const CLIP_SECONDS = 30;
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 300}
`;
const READY_TIMEOUT_MS = 120_000;
const STEP = 20_000;
const TOLERANCE_S = 1.5;

const log = stopwatch();
let tmp;
let results;
let server;
let context;

test.beforeAll(async () => {
  ({ tmp, results } = setup('resume'));
  const { media, data, profile } = libraryDirs(tmp, PROFILE_YAML);
  await testClip(join(media, CLIP_NAME), { seconds: CLIP_SECONDS });
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

/** Waits for the item page's player, and for hls.js to have the manifest (or a fatal error). */
async function waitForPlayer(page) {
  await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.hls, null, { timeout: STEP });
  await page.waitForFunction(() => window.__mow.levels.length > 0 || window.__mow.errors.some((e) => e.fatal),
    null, { timeout: STEP });
  const fatal = await page.evaluate(() => window.__mow.errors.filter((e) => e.fatal));
  assert.deepEqual(fatal, [], 'fatal hls.js errors');
}

const play = (page) => page.evaluate(() => {
  const v = window.manofwarPlayer.video;
  v.muted = true;
  return v.play();
});
const currentTime = (page) => page.evaluate(() => window.manofwarPlayer.video.currentTime);
/** "0:07": `seconds` (under a minute) as the page writes it, rounded down or to the nearest second. */
const clock = (seconds, round = Math.floor) => `0:${String(round(seconds)).padStart(2, '0')}`;

test('the item page saves where you stop and resumes there; "Continue watching" lists it until the end', async () => {

  test.setTimeout(240_000);
  const item = await server.waitForItem(CLIP_NAME, READY_TIMEOUT_MS);
  assert.equal(item.resume, null, 'nothing watched yet');
  log(`item ${item.id} ready`);
  /** The item's saved position, as the API tells the admin (the browser's user). */
  const resumeOf = async () => (await server.json(`/api/v1/items/${item.id}`)).resume;

  const { page, problems } = await openPage(context, { reuseFirst: true });
  const saves = []; // the page's PUT …/position requests
  page.on('request', (r) => {
    if (r.method() === 'PUT' && new URL(r.url()).pathname === `/api/v1/items/${item.id}/position`) {
      saves.push({ body: r.postDataJSON(), csrf: r.headers()['x-csrf-token'] });
    }
  });
  const why = async () => `\nvideo: ${JSON.stringify(await videoState(page).catch(() => null))}` +
    `\nsaves: ${JSON.stringify(saves)}\nfailed requests: ${problems.failedRequests.join(', ')}${server.context()}`;

  // 1. Nothing watched: no "Continue watching", no resume note; the player starts at 0.
  await page.goto(`${server.base}/`);
  await page.locator(`#library-grid .card[data-id="${item.id}"]`).waitFor({ state: 'visible', timeout: STEP });
  assert.ok(await page.locator('#continue-watching').isHidden(), 'no "Continue watching" row yet');
  assert.ok(await page.locator(`#library-grid .card[data-id="${item.id}"] .card-watched`).isHidden(), 'no progress bar yet');
  await page.click(`#library-grid .card[data-id="${item.id}"]`);
  await page.waitForURL(`**/#/items/${item.id}`);
  await waitForPlayer(page);
  assert.ok(await page.locator('#resume-note').isHidden(), 'no resume note');

  // 2. Play past 7 s and pause: the pause saves the position, with the CSRF token.
  await play(page);
  await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 7, null, { timeout: 30_000 })
    .catch(async (err) => assert.fail(`no playback to 7 s: ${err.message}${await why()}`));
  const pausedAt = await page.evaluate(() => {
    const v = window.manofwarPlayer.video;
    v.pause();
    return v.currentTime;
  });
  const first = await server.waitFor('the position saved on pause', 10_000, async () => {
    const resume = await resumeOf();
    return resume && Math.abs(resume.position_s - pausedAt) < 0.5 ? resume : null;
  });
  assert.ok(first.updated_ms > Date.now() - 60_000, `updated_ms ${first.updated_ms}`);
  await server.waitFor('the page\'s save request', 5_000, () => saves.length > 0); // Playwright's event may lag
  assert.equal(saves.length, 1, `one save so far: ${JSON.stringify(saves)}`);
  assert.ok(saves[0].csrf, 'the save carries X-CSRF-Token');
  log(`paused at ${pausedAt.toFixed(2)} s; saved ${first.position_s} s`);

  // 3. Reload: the player starts where it was paused, and says so.
  await page.reload();
  await waitForPlayer(page);
  const resumed = await page.waitForFunction(([at, tolerance]) => Math.abs(window.manofwarPlayer.video.currentTime - at) < tolerance,
    [first.position_s, TOLERANCE_S], { timeout: STEP }).then(() => true, () => false);
  assert.ok(resumed, `the player did not resume at ${first.position_s} s${await why()}`);
  const note = page.locator('#resume-note');
  await note.waitFor({ state: 'visible', timeout: STEP });
  assert.equal((await note.locator('.resume-text').textContent()).trim(), `Resumed at ${clock(first.position_s)}`);
  assert.ok(await page.locator('#start-over').isVisible(), 'a "Start over" button');
  assert.equal(saves.length, 1, 'opening the page (and leaving it unplayed) saves nothing');
  await page.waitForFunction(() => !window.manofwarPlayer.video.seeking && window.manofwarPlayer.video.readyState >= 3,
    null, { timeout: STEP }).catch(() => {});
  await page.waitForTimeout(1000); // only for the screenshot: the native controls' spinner lingers after the seek
  await page.screenshot({ path: join(results, 'resume-item.png') });

  // 4. Play on a few seconds and leave by reloading: `pagehide` saves the later position.
  await play(page);
  await page.waitForFunction((at) => window.manofwarPlayer.video.currentTime > at + 3, first.position_s, { timeout: STEP });
  const leftAt = await currentTime(page);
  assert.ok(await note.isVisible(), 'the note stays while playback is near where it resumed');
  await page.reload();
  const second = await server.waitFor('the position saved on leaving', 10_000, async () => {
    const resume = await resumeOf();
    return resume && resume.position_s >= leftAt - 0.5 && resume.updated_ms > first.updated_ms ? resume : null;
  });
  log(`left at ${leftAt.toFixed(2)} s; saved ${second.position_s} s`);
  await waitForPlayer(page);
  await page.waitForFunction(([at, tolerance]) => Math.abs(window.manofwarPlayer.video.currentTime - at) < tolerance,
    [second.position_s, TOLERANCE_S], { timeout: STEP });

  // 5. The library: "Continue watching" lists it, with how far in it is (in the grid too).
  await page.click('.back');
  const row = page.locator('#continue-watching');
  await row.waitFor({ state: 'visible', timeout: STEP });
  assert.equal((await row.locator('h2').textContent()).trim(), 'Continue watching');
  assert.equal(await row.locator('.card').count(), 1, 'one item in the row');
  const rowCard = row.locator(`.card[data-id="${item.id}"]`);
  assert.equal((await rowCard.locator('.card-title').textContent()).trim(), 'Long Way Home');
  const bar = rowCard.locator('.card-watched');
  assert.ok(await bar.isVisible(), 'the row\'s card shows how far in');
  const expected = Math.floor((second.position_s / item.duration_s) * 100);
  assert.equal(Number(await bar.getAttribute('aria-valuenow')), expected, 'progress: position / duration');
  assert.equal(await bar.getAttribute('aria-valuetext'), `${clock(second.position_s, Math.round)} of 0:30 watched`);
  assert.match(await rowCard.getAttribute('aria-label'), / watched$/);
  const width = await bar.locator('.progress-bar').evaluate((el) => el.getBoundingClientRect().width / el.parentElement.getBoundingClientRect().width);
  assert.ok(Math.abs(width - second.position_s / item.duration_s) < 0.03, `the bar is ${Math.round(width * 100)}% long`);
  assert.ok(await page.locator(`#library-grid .card[data-id="${item.id}"] .card-watched`).isVisible(), 'the grid\'s card too');
  assert.equal((await page.locator('#library-grid-heading').textContent()).trim(), 'All items', 'the grid under the row has a heading');
  await page.waitForFunction(() => [...document.querySelectorAll('.poster-img')].every((img) => img.complete), null, { timeout: 10_000 }).catch(() => {});
  await page.mouse.move(5, 5);
  await page.screenshot({ path: join(results, 'resume-library.png') });

  // 6. From the row: it resumes; seek near the end and play to it: the position is forgotten.
  await rowCard.click();
  await page.waitForURL(`**/#/items/${item.id}`);
  await waitForPlayer(page);
  await page.waitForFunction(([at, tolerance]) => Math.abs(window.manofwarPlayer.video.currentTime - at) < tolerance,
    [second.position_s, TOLERANCE_S], { timeout: STEP }).catch(() => {});
  const fromRow = await currentTime(page);
  assert.ok(Math.abs(fromRow - second.position_s) < TOLERANCE_S, `resumed at ${fromRow} s, saved ${second.position_s} s`);
  await play(page);
  await page.evaluate(() => { const v = window.manofwarPlayer.video; v.currentTime = v.duration - 3; });
  const ended = await page.waitForFunction(() => window.__mow.ended, null, { timeout: STEP }).then(() => true, () => false);
  assert.ok(ended, `did not play to the end${await why()}`);
  assert.ok(await page.locator('#resume-note').isHidden(), 'no resume note at the end');
  await server.waitFor('the position forgotten at the end', 10_000, async () => (await resumeOf()) === null);
  await server.waitFor('the page\'s last save request to forget it', 5_000,
    () => saves.length > 0 && saves.at(-1).body.position_s === 0);
  log(`played to the end; ${saves.length} saves in all`);

  // 7. Back in the library: the row is gone.
  await page.click('.back');
  await page.locator(`#library-grid .card[data-id="${item.id}"]`).waitFor({ state: 'visible', timeout: STEP });
  assert.ok(await row.isHidden(), 'no "Continue watching" row any more');
  assert.ok(await page.locator('#library-grid-heading').isHidden(), 'nor the grid\'s heading');
  assert.ok(await page.locator(`#library-grid .card[data-id="${item.id}"] .card-watched`).isHidden(), 'no progress bar');

  // 8. "Start over" (a position saved elsewhere, e.g. on another device): back to 0, playing; forgotten.
  await server.json(`/api/v1/items/${item.id}/position`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ position_s: 12 }),
  });
  await page.click(`#library-grid .card[data-id="${item.id}"]`);
  await waitForPlayer(page);
  await note.waitFor({ state: 'visible', timeout: STEP });
  assert.equal((await note.locator('.resume-text').textContent()).trim(), 'Resumed at 0:12');
  await page.click('#start-over');
  assert.ok(await note.isHidden(), 'the note goes');
  await page.waitForFunction(() => !window.manofwarPlayer.video.paused && window.manofwarPlayer.video.currentTime < 5,
    null, { timeout: STEP });
  await server.waitFor('the position forgotten on "Start over"', 10_000, async () => (await resumeOf()) === null);
  log('started over');

  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(problems.failedRequests.filter((r) => r.includes('/position')), [], 'failed saves');
});
