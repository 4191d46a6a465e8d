// Browsing as a viewer: search, sort, "Recently added", a show's episodes by season, the next
// episode and its autoplay. The real `manofwar up` with two films and a show of three episodes
// over two seasons (one tiny clip copied under five names), then a film added later.
//
// Screenshots (browse-*.png) and the server log land in web/test-results/browse/.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from '@playwright/test';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import {
  cleanup, launchBrowser, libraryDirs, login, openPage, setup, smallProfile, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const PROFILE_YAML = smallProfile({ segmentSeconds: 1 });
const FILMS = ['Harbour Lights (2023).mp4', 'Aurora (2019).mp4'];
const EPISODES = ['Sea Shanties S01E01.mp4', 'Sea Shanties S01E02.mp4', 'Sea Shanties S02E01.mp4'];
const LATE = 'Late Arrival (2001).mp4';
const STEP = 20_000;

const log = stopwatch();
let tmp;
let results;
let dirs;
let server;
let context;
const ids = {};

test.beforeAll(async () => {
  ({ tmp, results } = setup('browse'));
  dirs = libraryDirs(tmp, PROFILE_YAML);
  const clip = join(tmp, 'clip.mp4');
  await testClip(clip, { seconds: 3, size: '320x180', preset: 'ultrafast' });
  for (const name of [...FILMS, ...EPISODES]) copyFileSync(clip, join(dirs.media, name));
  server = await startServer({ media: dirs.media, data: dirs.data, profile: dirs.profile, logPath: join(results, 'server.log') });
  for (const name of [...FILMS, ...EPISODES]) ids[name] = (await server.waitForItem(name, 120_000)).id;
  // Later than the others: first in "Recently added".
  copyFileSync(clip, join(dirs.media, LATE));
  ids[LATE] = (await server.waitForItem(LATE, 60_000)).id;
  log('six items ready');
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

// lib/browse.ts on its own (it imports only types): search, sort, shows, seasons, what comes next.
test('lib/browse.ts: matches, sortItems, entries, seasons, nextEpisode, upNext', async () => {
  const source = readFileSync(new URL('../src/lib/browse.ts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const dir = mkdtempSync(join(tmpdir(), 'manofwar-browse-unit-'));
  const file = join(dir, 'browse.mjs');
  writeFileSync(file, outputText);
  const b = await import(pathToFileURL(file).href);
  rmSync(dir, { recursive: true, force: true });

  const item = (id, title, extra = {}) => ({
    id, title, year: null, season: null, episode: null, library: 'media', state: 'ready', resume: null, added_ms: id, ...extra,
  });
  const ep = (id, season, episode, extra = {}) => item(id, 'Sea Shanties', { season, episode, ...extra });
  const films = [item(1, 'Aurora', { year: 2019, added_ms: 30 }), item(2, 'Harbour Lights', { year: 2023, added_ms: 10 })];
  const eps = [ep(5, 2, 1, { added_ms: 5 }), ep(3, 1, 1, { added_ms: 20 }), ep(4, 1, 2, { added_ms: 40, state: 'pending' })];
  const all = [...films, ...eps];
  const find = (q) => all.filter((i) => b.matches(i, q)).map((i) => i.id).sort();

  assert.deepEqual(find('2019'), [1]);
  assert.deepEqual(find('AURORA'), [1]);
  assert.deepEqual(find('harbour 2023'), [2]);
  assert.deepEqual(find('S01E02'), [4]);
  assert.deepEqual(find('s1e2'), [4]);
  assert.deepEqual(find('s1'), [3, 4]);
  assert.deepEqual(find('shanties s02e01'), [5]);
  assert.deepEqual(find('sea'), [3, 4, 5]);
  assert.deepEqual(find('media aurora'), [1], 'the library name too');
  assert.deepEqual(find('zeppelin'), []);
  assert.deepEqual(find('s01e02 aurora'), [], 'every word must match');
  assert.ok(b.matches(item(9, 'Amélie'), 'amelie'), 'accents folded');

  assert.deepEqual(b.sortItems(all, 'added').map((i) => i.id), [4, 1, 3, 2, 5]);
  assert.deepEqual(b.sortItems(films, 'title').map((i) => i.id), [1, 2]);
  assert.deepEqual(b.sortItems(films, 'year').map((i) => i.id), [2, 1]);
  assert.deepEqual(all.filter((i) => b.passes(i, 'ready')).map((i) => i.id), [1, 2, 5, 3]);
  assert.equal(all.filter((i) => b.passes(i, 'all')).length, 5);

  const grid = b.entries(b.sortItems(all, 'title'));
  assert.deepEqual(grid.map((e) => e.kind === 'show' ? `show:${e.title}` : e.item.title), ['Aurora', 'Harbour Lights', 'show:Sea Shanties']);
  assert.deepEqual(grid[2].episodes.map((e) => e.id), [3, 4, 5], 'a show\'s episodes in order');
  assert.deepEqual(b.seasons(grid[2].episodes).map((s) => [s.season, s.episodes.map((e) => e.id)]), [[1, [3, 4]], [2, [5]]]);
  assert.equal(b.episodesOf(all, 'other', 'Sea Shanties').length, 0, 'a show is per library');

  assert.equal(b.nextEpisode(all, eps[1]).id, 4);
  assert.equal(b.nextEpisode(all, eps[2]).id, 5, 'S01E02 → S02E01');
  assert.equal(b.nextEpisode(all, eps[0]), null, 'the last has none');
  assert.equal(b.nextEpisode(all, films[0]), null, 'a film has none');

  const ordered = b.episodesOf(all, 'media', 'sea shanties');
  assert.equal(b.upNext(ordered).id, 3, 'nothing watched: the first');
  assert.equal(b.upNext(ordered, new Set([3])).id, 4, 'after the last watched');
  assert.equal(b.upNext(ordered, new Set([3, 4, 5])).id, 3, 'all watched: from the start');
  const resumed = ordered.map((e) => e.id === 5 ? { ...e, resume: { position_s: 30, updated_ms: 1 } } : e);
  assert.equal(b.upNext(resumed, new Set([3])).id, 5, 'the one in progress first');
  assert.equal(b.showHref({ library: 'media', title: 'Sea Shanties' }), '#/shows/media/Sea%20Shanties');
});

/** The grid's cards: films by their item's title, shows as "show:NAME". */
const gridCards = (page) => page.$$eval('#library-grid > .card', (cards) => cards.map((c) => (c.dataset.show
  ? `show:${c.dataset.show}` : c.querySelector('.card-title').textContent.trim() + (c.querySelector('.card-subtitle')?.textContent.includes('S0') ? ` ${c.querySelector('.card-subtitle').textContent.trim()}` : ''))));

test('search, sort and "Recently added" in the library; a show is one card', async () => {

  test.setTimeout(90_000);
  const { page, problems } = await openPage(context);
  await page.goto(`${server.base}/#/`);
  await page.locator('#library-grid > .card').first().waitFor({ timeout: STEP });
  assert.deepEqual(await gridCards(page), ['Aurora', 'Harbour Lights', 'Late Arrival', 'show:Sea Shanties'], 'A–Z, the show once');
  const show = page.locator('#library-grid > .card-show');
  assert.match(await show.getAttribute('aria-label'), /^Sea Shanties, 3 episodes · 2 seasons, show$/);
  const recent = await page.$$eval('#recent-grid > .card', (cards) => cards.map((c) => Number(c.dataset.id)));
  assert.equal(recent[0], ids[LATE], 'the film added last comes first');
  await page.screenshot({ path: join(results, 'browse-library.png'), fullPage: true });

  const search = async (text, want) => {
    await page.fill('#library-search', text);
    await page.waitForFunction((w) => {
      const cards = [...document.querySelectorAll('#library-grid > .card')];
      return !document.getElementById('library-grid').hidden && cards.length === w;
    }, want.length, { timeout: STEP });
    assert.deepEqual(await gridCards(page), want, `search "${text}"`);
  };
  await search('2019', ['Aurora']);
  await search('aur', ['Aurora']);
  await search('s01e02', ['Sea Shanties S01E02']);
  await search('shanties s2', ['Sea Shanties S02E01']);
  await search('harbour 2023', ['Harbour Lights']);
  assert.equal(await page.isHidden('#recently-added'), true, 'no "Recently added" while searching');
  await page.fill('#library-search', 'zeppelin');
  await page.getByText('Nothing matches “zeppelin”').waitFor({ timeout: STEP });
  await page.screenshot({ path: join(results, 'browse-no-match.png') });

  // The search and the order are in the address: a reload keeps them.
  await page.fill('#library-search', 'sea');
  await page.selectOption('#library-sort', 'added');
  assert.match(page.url(), /#\/\?q=sea&sort=added$/);
  await page.reload();
  await page.locator('#library-grid > .card').first().waitFor({ timeout: STEP });
  assert.equal(await page.inputValue('#library-search'), 'sea');
  assert.equal(await page.inputValue('#library-sort'), 'added');
  await page.fill('#library-search', '');
  await page.waitForFunction(() => document.querySelectorAll('#library-grid > .card').length === 4, null, { timeout: STEP });
  assert.equal((await gridCards(page))[0], 'Late Arrival', 'recently added first');
  // Everything is transcoded: "Ready to play" keeps it all, and goes in the address.
  await page.selectOption('#library-state', 'ready');
  assert.match(page.url(), /#\/\?sort=added&state=ready$/);
  await page.waitForFunction(() => document.querySelectorAll('#library-grid > .card').length === 4, null, { timeout: STEP });
  await page.selectOption('#library-state', 'all');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('a show\'s page lists its seasons in order; an episode leads to the next one', async () => {

  test.setTimeout(60_000);
  const { page, problems } = await openPage(context);
  await page.goto(`${server.base}/#/`);
  await page.locator('#library-grid > .card-show').click();
  await page.waitForURL(/#\/shows\/media\/Sea%20Shanties$/, { timeout: STEP });
  await page.locator('.season').first().waitFor({ timeout: STEP });
  const seasons = await page.$$eval('.season', (list) => list.map((s) => ({
    heading: s.querySelector('h2').textContent.trim(),
    episodes: [...s.querySelectorAll('.card-subtitle')].map((e) => e.textContent.trim()),
  })));
  assert.deepEqual(seasons, [
    { heading: 'Season 1', episodes: ['S01E01', 'S01E02'] },
    { heading: 'Season 2', episodes: ['S02E01'] },
  ]);
  assert.equal((await page.textContent('#show-next')).trim(), 'Play S01E01');
  await page.screenshot({ path: join(results, 'browse-show.png'), fullPage: true });

  await page.goto(`${server.base}/#/items/${ids[EPISODES[1]]}`);
  const nextLink = page.locator('#next-episode');
  await nextLink.waitFor({ timeout: STEP });
  assert.match(await nextLink.textContent(), /Next episode · S02E01/);
  await nextLink.click();
  await page.waitForURL(new RegExp(`#/items/${ids[EPISODES[2]]}\\?play=1$`), { timeout: STEP });
  await page.locator('.item-sub').filter({ hasText: 'S02E01' }).waitFor({ timeout: STEP });
  assert.equal(await page.locator('#next-episode').count(), 0, 'the last episode has no next one');
  await page.click('#all-episodes');
  await page.waitForURL(/#\/shows\/media\/Sea%20Shanties$/, { timeout: STEP });
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('at the end of an episode the next one plays after a countdown, unless cancelled', async () => {

  test.setTimeout(90_000);
  const { page, problems } = await openPage(context);
  const playToEnd = async () => {
    await page.waitForFunction(() => window.manofwarPlayer?.video && window.__mow.levels.length > 0, null, { timeout: STEP });
    await page.evaluate(() => {
      const v = window.manofwarPlayer.video;
      v.muted = true;
      v.currentTime = Math.max(0, (v.duration || 3) - 0.8);
      return v.play();
    });
  };
  await page.goto(`${server.base}/#/items/${ids[EPISODES[0]]}`);
  await playToEnd();
  const upNext = page.locator('#up-next');
  await upNext.waitFor({ timeout: STEP });
  assert.match(await upNext.textContent(), /Next: S01E02 in (10|9) s/);
  assert.equal(await upNext.getAttribute('aria-label'), 'Up next: S01E02, plays in 10 seconds', 'said once, on focus');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'up-next-play', 'focus on "Play now"');
  await page.screenshot({ path: join(results, 'browse-up-next.png') });
  // Nobody touches anything: the countdown runs out and S01E02 plays by itself.
  await page.waitForURL(new RegExp(`#/items/${ids[EPISODES[1]]}\\?play=1$`), { timeout: 15_000 });
  await page.waitForFunction(() => window.manofwarPlayer?.video && window.manofwarPlayer.video.currentTime > 0.5
    && !window.manofwarPlayer.video.paused, null, { timeout: STEP });
  log('S01E02 plays on its own');

  // At S01E02's end: Cancel stops the countdown, and the page stays.
  await playToEnd();
  await upNext.waitFor({ timeout: STEP });
  await page.click('#up-next-cancel');
  await upNext.waitFor({ state: 'detached', timeout: 5_000 });
  await page.waitForTimeout(1500);
  assert.match(page.url(), new RegExp(`#/items/${ids[EPISODES[1]]}\\?play=1$`), 'still on S01E02');
  // S01E01 and S01E02 were watched to the end: the show goes on at S02E01.
  await page.click('#all-episodes');
  await page.waitForURL(/#\/shows\/media\/Sea%20Shanties$/, { timeout: STEP });
  await page.locator('#show-next').waitFor({ timeout: STEP });
  assert.equal((await page.textContent('#show-next')).trim(), 'Play S02E01');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});
