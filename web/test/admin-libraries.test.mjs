// The admin page's "Libraries and queue", with the real `manofwar up`: a clip slow to transcode
// (its progress must move on the page), a Matroska file cut short (it fails with its reason, its
// "Profiles" shows the failed package, "Retry" runs it again; repaired, it ends ready), and
// "Scan now" (the library's last scan moves on, and a file added to the folder shows up).
//
// Screenshots (admin-libraries*.png) and the server log land in web/test-results/admin-libraries/.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from '@playwright/test';
import {
  cleanup, launchBrowser, libraryDirs, login, openPage, setup, smallProfile, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const SLOW = 'Slow Harbour (2021).mp4';
const BROKEN = 'Cut Short (2020).mkv';
const ADDED = 'Late Arrival (2022).mp4';
// "slow" makes the clip take a while to transcode, so that the panel catches it moving.
const PROFILE_YAML = smallProfile({ preset: 'slow', height: 240, kbps: 300 });
const STEP = 20_000;

const log = stopwatch();
let tmp;
let results;
let server;
let context;
let dirs;

test.beforeAll(async () => {
  ({ tmp, results } = setup('admin-libraries'));
  dirs = libraryDirs(tmp, PROFILE_YAML);
  // Cut at 40%: the header promises 8 s, the file holds about 3: the transcode fails.
  const broken = join(dirs.media, BROKEN);
  await testClip(broken, { seconds: 8, size: '320x180', preset: 'ultrafast' });
  const bytes = readFileSync(broken);
  writeFileSync(broken, bytes.subarray(0, Math.floor(bytes.length * 0.4)));
  await testClip(join(dirs.media, SLOW), { seconds: 24, size: '1280x720', preset: 'ultrafast', gop: 48 });
  server = await startServer({
    media: dirs.media, data: dirs.data, profile: dirs.profile, logPath: join(results, 'server.log'),
    args: ['--max-attempts', '1', '--scan-interval', '3600'],
  });
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

const percentOf = (page, id) => page.evaluate((itemId) => {
  const text = document.querySelector(`#queue [data-id="${itemId}"] .queue-percent`)?.textContent;
  return text ? Number.parseInt(text, 10) : null;
}, id);

test('the admin sees a transcode\'s progress move, retries a failure, and scans now', async () => {

  test.setTimeout(240_000);
  const { page, problems } = await openPage(context);
  await page.setViewportSize({ width: 1366, height: 900 });
  await page.goto(`${server.base}/#/admin`);
  await page.locator('#libraries').waitFor({ timeout: STEP });

  // The slow clip: its percentage on the page grows between two readings.
  const slow = await server.waitForItem(SLOW, 120_000, ['transcoding']);
  await page.waitForFunction((id) => {
    const text = document.querySelector(`#queue [data-id="${id}"] .queue-percent`)?.textContent;
    return text && Number.parseInt(text, 10) > 0;
  }, slow.id, { timeout: 60_000 });
  const first = await percentOf(page, slow.id);
  await page.locator('#libraries').screenshot({ path: join(results, 'admin-libraries-queue.png') });
  await page.waitForFunction(([id, was]) => {
    const text = document.querySelector(`#queue [data-id="${id}"] .queue-percent`)?.textContent;
    return !text || Number.parseInt(text, 10) > was;
  }, [slow.id, first], { timeout: 60_000 });
  const second = await percentOf(page, slow.id);
  log(`progress on the page: ${first}% then ${second ?? 'done'}%`);
  assert.ok(second === null || second > first, `${first}% → ${second}%`);

  // The cut file failed, with the reason on the page.
  const broken = await server.waitForItem(BROKEN, 120_000, ['failed']);
  const failure = page.locator(`#failures [data-id="${broken.id}"]`);
  await failure.waitFor({ timeout: STEP });
  assert.match(await failure.locator('.failure-reason').textContent(), /truncated or damaged/);
  // Its "Profiles": the one profile's package, failed, with the same reason.
  await failure.locator('[data-action="packages"]').click();
  const pkg = page.locator(`#packages-${broken.id} .package[data-state="failed"]`);
  await pkg.waitFor({ timeout: STEP });
  assert.match(await pkg.textContent(), /truncated or damaged/);
  await page.locator('#libraries').screenshot({ path: join(results, 'admin-libraries-failed.png') });

  // Retry: the server starts its transcode again (its log says so), and it fails again, with its reason.
  const failures = () => (server.output().match(/transcode started path=.*Cut Short/g) || []).length;
  const before = failures();
  await failure.locator('[data-action="retry"]').click();
  await page.locator('#libraries-status').filter({ hasText: 'Queued again' }).waitFor({ timeout: STEP });
  await server.waitFor('the retried transcode to run', 60_000, async () => failures() > before);
  await server.waitForItem(BROKEN, 60_000, ['failed']);
  await failure.waitFor({ timeout: STEP });
  log('retried, and failed again with its reason');

  // Repaired: a good clip under the same name (written beside the folder, then moved in whole).
  // The folder watcher may notice the new file and queue it on its own before "Retry" is
  // clicked; either way it must end ready and leave the failures. The log says which path ran.
  const good = join(tmp, 'repaired.mkv');
  await testClip(good, { seconds: 3, size: '320x180', preset: 'ultrafast' });
  renameSync(good, join(dirs.media, BROKEN));
  const retry = failure.locator('[data-action="retry"]');
  let path = 'the watcher found the repaired file first';
  if (await retry.isVisible() && (await server.json(`/api/v1/items/${broken.id}`).catch(() => null))?.state === 'failed') {
    await retry.click({ timeout: 3000 }).then(() => { path = 'Retry clicked while it was still failed'; }, () => {});
  }
  const repaired = await server.waitForItem(BROKEN, 120_000, ['ready']);
  await page.locator('#failures-empty').waitFor({ timeout: STEP });
  assert.equal(await page.locator(`#failures [data-id="${repaired.id}"]`).count(), 0);
  log(`repaired: ready (${path})`);

  // Scan now: the library's last scan moves on (no interval scan for an hour), and a file added
  // to the folder shows up. The folder watcher may find that file on its own too: the last scan
  // moving on is what proves "Scan now" ran; the new row proves the page follows.
  const lastScan = async () => (await server.json('/api/v1/libraries')).libraries[0].last_scan_ms;
  const scanned = await lastScan();
  const row = page.locator('#libraries-table tr[data-library]').first();
  const count = Number(await row.locator('td').first().textContent());
  const added = join(tmp, 'added.mp4');
  await testClip(added, { seconds: 2, size: '160x90', preset: 'ultrafast' });
  renameSync(added, join(dirs.media, ADDED));
  await page.click('#libraries-table [data-action="scan"]');
  await page.locator('#libraries-status').filter({ hasText: 'Scanning media' }).waitFor({ timeout: STEP });
  await server.waitFor('the asked-for scan', STEP, async () => (await lastScan()) > scanned);
  await row.locator('td').first().filter({ hasText: String(count + 1) }).waitFor({ timeout: STEP });
  await page.screenshot({ path: join(results, 'admin-libraries.png'), fullPage: true });

  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
  await page.close();
});
