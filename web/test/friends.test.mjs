// Sharing with friends in the browser, end to end: two `manofwar up` servers, each with its own
// gateway identity and a peers file that lists the other. A (ann) has a 6 s clip; B (ben) has an
// empty library and dials A at start (`--peer-address`). Signed in to B, the Friends page shows
// B's PeerId and friend code and ann connected, with her item; the item plays in B's player from
// B's own `/peers/{A}/hls/…` URLs (fetched from A over libp2p), and switching hls.js to the other
// quality fetches that rendition's segments through the gateway too while playback goes on.
//
// On ben's home page, a row "From ann" holds her item; a search narrows it.
//
// Then ben's admin adds a third server (cleo, whose peers file lists ben and who dials him) by
// pasting her friend code into "Add a friend" (the API's 422/409 refusals show as it words them;
// a code that meets at another coordinator shows the API's hint), sees her connect, and removes
// her with "Remove" / "Really remove?". A member of ben's sees no friends until the admin's user
// editor grants her "Friends' libraries" (@friends), and then sees ann. Where the gateway says its
// friends are a PeerGroup's (peersEditable: false), the admin gets no form and is told where to edit.
//
// Screenshots (friends.png, friends-phone.png (390×844), friend-player.png at 1366×900, friend-item.png the whole page,
// friends-add.png / friends-add-phone.png the form filled in, friends-added.png cleo connected,
// friends-hint.png, friends-declared.png, admin-friends-grant.png the user editor, friends-member-none.png / friends-member.png), both server logs and the
// recorded hls.js events land in web/test-results/friends/; the screenshots are copied to
// /tmp/friends-shots/ (FRIENDS_SHOTS overrides it) to look at.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  cleanup, ffmpeg, freePort, launchBrowser, login, openPage, runBin, setup, startServer, stopServer, stopwatch,
  videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Harbour Lights (2023).mp4';
const CLIP_SECONDS = 6;
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: 360p, height: 360, videoBitrateKbps: 800}
  - {name: 240p, height: 240, videoBitrateKbps: 300}
`;
const VIEWPORT = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
const MEMBER = { username: 'cat', password: 'a long enough password' };
const CONNECT_TIMEOUT_MS = 20_000;
const SHOTS = process.env.FRIENDS_SHOTS || '/tmp/friends-shots';

const log = stopwatch();
let tmp;
let results;
let ann; // server A: the clip, shared with ben
let ben; // server B: no media, watches ann's
let context;
let p2p; // (name, port) => the P2P arguments of a server
let benPort; // ben's P2P port

/** `manofwar identity --key FILE`: creates the key; its first line is the PeerId. */
async function identity(key) {
  const peerId = (await runBin(['identity', '--key', key])).split('\n')[0].trim();
  assert.match(peerId, /^12D3KooW\w+$/, `manofwar identity printed ${JSON.stringify(peerId)}`);
  return peerId;
}

test.beforeAll(async () => {
  ({ tmp, results } = setup('friends'));
  const profile = join(tmp, 'profile.yaml');
  writeFileSync(profile, PROFILE_YAML);
  const dirs = Object.fromEntries(['media-a', 'media-b', 'data-a', 'data-b'].map((name) => [name, join(tmp, name)]));
  for (const dir of Object.values(dirs)) mkdirSync(dir);
  const [, idA, idB, portA, portB] = await Promise.all([
    ffmpeg(
      '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(CLIP_SECONDS), '-c:v', 'libx264', '-preset', 'veryfast', '-g', '30', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', '-ac', '2', '-movflags', '+faststart', join(dirs['media-a'], CLIP_NAME),
    ),
    identity(join(tmp, 'a.key')),
    identity(join(tmp, 'b.key')),
    freePort(),
    freePort(),
  ]);
  writeFileSync(join(tmp, 'peers-a.yaml'), `- {peerId: ${idB}, name: ben, libraries: ["*"]}\n`);
  writeFileSync(join(tmp, 'peers-b.yaml'), `- {peerId: ${idA}, name: ann, libraries: ["*"]}\n`);
  benPort = portB;
  p2p = (name, port) => [
    '--identity', join(tmp, `${name}.key`), '--peers', join(tmp, `peers-${name}.yaml`),
    '--p2p-listen', `/ip4/127.0.0.1/tcp/${port}`, '--no-lan',
  ];
  log(`generated ${CLIP_NAME}; ann is ${idA}, ben is ${idB}`);

  ann = await startServer({
    media: dirs['media-a'], data: dirs['data-a'], profile, logPath: join(results, 'server-a.log'), args: p2p('a', portA),
  });
  ann.peerId = idA;
  const item = await ann.waitForItem(CLIP_NAME, 120_000);
  assert.ok(item.hls_url, `ann's item has no hls_url: ${JSON.stringify(item)}`);
  ann.item = item;
  log(`ann at ${ann.base}: item ${item.id} ready`);

  ben = await startServer({
    media: dirs['media-b'], data: dirs['data-b'], profile, logPath: join(results, 'server-b.log'),
    args: [...p2p('b', portB), '--peer-address', `/ip4/127.0.0.1/tcp/${portA}/p2p/${idA}`],
  });
  ben.peerId = idB;
  log(`ben at ${ben.base}`);
  context = await launchBrowser(tmp);
  await login(context, ben);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await Promise.all([stopServer(ben), stopServer(ann)]);
  cleanup(tmp);
});

/** Saves a screenshot in the results, and a copy in SHOTS. */
async function screenshot(page, name, options = {}) {
  const path = join(results, name);
  await page.screenshot({ path, ...options });
  mkdirSync(SHOTS, { recursive: true });
  copyFileSync(path, join(SHOTS, name));
}

test('the Friends page shows ann connected, and her item plays through the gateway, switching quality', async () => {

  test.setTimeout(180_000);
  const { page, problems } = await openPage(context, { reuseFirst: true });
  await page.setViewportSize(VIEWPORT);
  const requests = [];
  page.on('request', (req) => requests.push({ url: new URL(req.url()).pathname, at: Date.now() }));
  const why = async () => `\nvideo: ${JSON.stringify(await videoState(page).catch(() => null))}` +
    `\nhls errors: ${JSON.stringify(await page.evaluate(() => window.__mow && window.__mow.errors).catch(() => null))}` +
    `\nfailed requests: ${problems.failedRequests.join(', ')}\npage errors: ${problems.pageErrors.join(' | ')}` +
    `\nben's peers: ${JSON.stringify(await ben.json('/api/v1/peers').catch((err) => err.message))}` +
    `\n--- ann ---${ann.context()}\n--- ben ---${ben.context()}`;
  const until = async (what, fn, arg, timeout = 15_000) => {
    const ok = await page.waitForFunction(fn, arg, { timeout }).then(() => true, () => false);
    if (!ok) {
      writeFileSync(join(results, 'hls-events.json'), JSON.stringify({
        video: await videoState(page).catch(() => null), log: await page.evaluate(() => window.__mow).catch(() => null), requests, ...problems,
      }, null, 2));
      assert.fail(`timed out after ${timeout / 1000}s waiting for ${what}${await why()}`);
    }
  };

  // 1. The Friends page: our identity, then ann, connected, with her item.
  await page.goto(`${ben.base}/#/friends`);
  assert.equal(await page.locator('[data-nav="friends"]').getAttribute('aria-current'), 'page', 'the Friends nav link is current');
  await page.locator('#p2p-peer-id').waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#p2p-peer-id').inputValue(), ben.peerId, 'our PeerId');
  assert.match(await page.locator('#p2p-friend-code').inputValue(), /^mow1:/, 'our friend code');
  // …and as a QR code (uqr, loaded with the page): one path of dark modules.
  const qr = page.locator('#p2p-friend-qr svg');
  await qr.waitFor({ timeout: 10_000 });
  assert.equal(await qr.getAttribute('role'), 'img');
  assert.equal(await qr.getAttribute('aria-label'), 'QR code of your friend code');
  assert.match(await qr.locator('path').getAttribute('d'), /^M\d+ \d+h1v1h-1z(M\d+ \d+h1v1h-1z){100,}$/);
  const modules = Number((await qr.getAttribute('viewBox')).split(' ')[2]);
  assert.ok(modules >= 25 && (modules - 4 - 17) % 4 === 0, `a QR code of ${modules} modules (quiet zone included)`);
  const friend = page.locator(`.friend[data-peer="${ann.peerId}"]`);
  const started = Date.now();
  await until('ann to show as connected', (id) => {
    const state = document.getElementById(`friend-${id}-connection`);
    return state && /^(Direct|Relayed)$/.test(state.textContent);
  }, ann.peerId, CONNECT_TIMEOUT_MS);
  log(`ann connected after ${((Date.now() - started) / 1000).toFixed(1)}s: ` +
    `${await friend.locator('.state').textContent()}, ${await friend.locator('.traffic').textContent()}`);
  assert.equal((await friend.locator('h2').textContent()).trim(), 'ann');
  const card = friend.locator(`.card[data-id="${ann.item.id}"]`);
  await until('ann\'s item on the Friends page', (sel) => {
    const el = document.querySelector(sel);
    return el && el.offsetParent !== null;
  }, `.friend[data-peer="${ann.peerId}"] .card[data-id="${ann.item.id}"]`);
  assert.equal((await card.locator('.card-title').textContent()).trim(), 'Harbour Lights');
  assert.equal(await card.getAttribute('href'), `#/friends/${ann.peerId}/${ann.item.id}`);
  await page.waitForFunction((sel) => {
    const img = document.querySelector(`${sel} .poster-img`);
    return img && img.complete && img.naturalWidth > 0;
  }, `.friend[data-peer="${ann.peerId}"] .card[data-id="${ann.item.id}"]`, { timeout: 10_000 })
    .catch(() => assert.fail(`ann's poster did not load${problems.failedRequests.length ? `: ${problems.failedRequests}` : ''}`));
  await screenshot(page, 'friends.png');
  await page.setViewportSize(PHONE);
  await screenshot(page, 'friends-phone.png');
  await page.setViewportSize(VIEWPORT);

  // 2. Her item, in B's player: every media request through B's gateway.
  await card.click();
  await page.waitForURL(`**/#/friends/${ann.peerId}/${ann.item.id}`);
  await until('the player\'s levels', () => (window.__mow.levels.length >= 2 && window.manofwarPlayer && window.manofwarPlayer.hls) ||
    window.__mow.errors.some((e) => e.fatal));
  const levels = await page.evaluate(() => window.__mow.levels);
  assert.deepEqual(levels.map((l) => l.height).sort((a, b) => a - b), [240, 360], `levels: ${JSON.stringify(levels)}`);
  assert.match((await page.locator('.item-title').textContent()).trim(), /^Harbour Lights/);
  assert.equal((await page.locator('#friend-name').textContent()).trim(), 'from ann');
  assert.equal(await page.locator('#quality option').count(), 3, 'quality menu: Auto + 2 levels');

  await page.evaluate(() => window.manofwarPlayer.video.play());
  await until('playback', () => window.__mow.playing && window.manofwarPlayer.video.currentTime > 1.0);
  const beforeSwitch = await videoState(page);
  const playing = await page.evaluate(() => {
    const frags = window.__mow.fragsLoaded.filter((f) => f.type === 'main' && f.sn !== 'initSegment');
    return frags.length ? frags[frags.length - 1].level : window.manofwarPlayer.hls.currentLevel;
  });
  const other = playing === 0 ? 1 : 0;
  // The level's folder, e.g. /peers/A/hls/ID/profile/240p/: under B's gateway, named after its rendition.
  const otherDir = new URL(levels[other].url).pathname.replace(/[^/]*$/, '');
  const rendition = `${levels[other].height}p`;
  assert.ok(otherDir.startsWith(`/peers/${ann.peerId}/hls/${ann.item.id}/`) && otherDir.endsWith(`/${rendition}/`),
    `level ${other}'s playlist ${levels[other].url} is not a ${rendition} playlist under B's gateway`);
  log(`playing level ${playing} at t=${beforeSwitch.currentTime.toFixed(2)}s; switching to level ${other} (${rendition})`);

  // 3. The other quality, through hls.js: its segments come through the gateway, playback goes on.
  // (A segment hls.js loaded before, at the start, may come from the browser's cache: wait for
  // one it asks the gateway for.)
  const switchedAt = Date.now();
  const switchedTime = beforeSwitch.currentTime;
  const fragsBefore = await page.evaluate(() => window.__mow.fragsLoaded.length);
  await page.evaluate((level) => { window.manofwarPlayer.hls.currentLevel = level; }, other);
  await until(`a ${rendition} segment from ${otherDir}`, ([level, dir, from]) => window.__mow.fragsLoaded.slice(from).some((f) =>
    f.type === 'main' && f.level === level && f.sn !== 'initSegment' && new URL(f.url).pathname.startsWith(dir)),
  [other, otherDir, fragsBefore]);
  const segmentRequests = () => requests.filter((r) => r.at >= switchedAt && r.url.startsWith(otherDir) && /\.m4s$/.test(r.url));
  for (const deadline = Date.now() + 15_000; !segmentRequests().length && Date.now() < deadline;) await page.waitForTimeout(100);
  const segments = segmentRequests();
  assert.ok(segments.length > 0, `no request for a ${rendition} segment after the switch: ${JSON.stringify(requests)}`);
  await until('playback to go on after the switch', (t) => {
    const v = window.manofwarPlayer.video;
    return v.ended || (!v.paused && v.currentTime > t + 1.0);
  }, switchedTime);
  assert.match((await page.locator('#now-playing').textContent()) || '', new RegExp(rendition), 'the "now playing" label follows the switch');
  const box = await page.locator('#player').boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2 + 10, { steps: 3 });
  await page.waitForTimeout(250);
  await screenshot(page, 'friend-player.png');
  const afterSwitch = await videoState(page);
  log(`after the switch: t=${afterSwitch.currentTime.toFixed(2)}s, ${segments.length} ${rendition} segment requests ` +
    `(${segments.map((s) => s.url.split('/').pop()).join(', ')})`);

  // 4. An admin keeps it for offline viewing (POST …/pin): one rendition, copied to B.
  await page.locator('#pin').click();
  await until('"Keep offline" to finish', () => /^(Kept|Could not)/.test(document.getElementById('pin-status').textContent), null, 30_000);
  const kept = (await page.locator('#pin-status').textContent()).trim();
  assert.match(kept, /^Kept (\S+ )?for offline viewing: \d+ files, [\d.]+ [kMG]?B\.$/, 'the pin status');
  log(kept);
  await page.evaluate(() => window.scrollTo(0, 0)); // (the sticky top bar stays at the top of a full-page shot)
  await screenshot(page, 'friend-item.png', { fullPage: true });

  const events = await page.evaluate(() => window.__mow);
  writeFileSync(join(results, 'hls-events.json'), JSON.stringify({ video: afterSwitch, log: events, requests, ...problems }, null, 2));
  assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${await why()}`);
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  const media = requests.filter((r) => /\/hls\//.test(r.url) || /\/poster$/.test(r.url));
  assert.ok(media.every((r) => r.url.startsWith(`/peers/${ann.peerId}/`) || r.url.startsWith(`/api/v1/peers/${ann.peerId}/`)),
    `a media request not through the gateway: ${JSON.stringify(media.filter((r) => !r.url.includes('/peers/')))}`);
  assert.deepEqual(problems.failedRequests, [], 'failed requests');
  await page.close();
});

test('ben\'s home page has a row of ann\'s library, which search narrows', async () => {

  test.setTimeout(60_000);
  const { page, problems } = await openPage(context);
  await page.setViewportSize(VIEWPORT);
  await page.goto(`${ben.base}/#/`);
  const row = page.locator(`.friend-row[data-peer="${ann.peerId}"]`);
  await row.waitFor({ timeout: 20_000 });
  assert.equal((await row.locator('h2').textContent()).trim(), 'From ann');
  const card = row.locator(`.card[data-id="${ann.item.id}"]`);
  assert.equal(await card.getAttribute('href'), `#/friends/${ann.peerId}/${ann.item.id}`);
  assert.equal(await row.locator('a.row-more').getAttribute('href'), '#/friends');
  await screenshot(page, 'home-friends.png');
  // A search that does not match her item hides her row; one that does shows it again.
  await page.fill('#library-search', 'zeppelin');
  await row.waitFor({ state: 'detached', timeout: 5_000 });
  await page.fill('#library-search', 'harbour');
  await card.waitFor({ timeout: 5_000 });
  // Her card opens her item in ben's player.
  await card.click();
  await page.waitForURL(`**/#/friends/${ann.peerId}/${ann.item.id}`);
  await page.locator('.item-title', { hasText: 'Harbour Lights' }).waitFor({ timeout: 10_000 });
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('ben\'s admin adds cleo by her friend code, sees her connect, and removes her', async () => {

  test.setTimeout(120_000);
  // cleo: a third gateway whose peers file lists ben, dialing him (again every few seconds).
  const cleoId = await identity(join(tmp, 'c.key'));
  writeFileSync(join(tmp, 'peers-c.yaml'), `- {peerId: ${ben.peerId}, name: ben, libraries: ["*"]}\n`);
  for (const dir of ['media-cleo', 'data-cleo']) mkdirSync(join(tmp, dir));
  const cleo = await startServer({
    media: join(tmp, 'media-cleo'), data: join(tmp, 'data-cleo'), profile: join(tmp, 'profile.yaml'), logPath: join(results, 'server-cleo.log'),
    args: [...p2p('c', await freePort()), '--peer-address', `/ip4/127.0.0.1/tcp/${benPort}/p2p/${ben.peerId}`],
  });
  try {
    const cleoCode = (await cleo.json('/api/v1/p2p')).friendCode;
    assert.match(cleoCode, /^mow1:/, 'cleo\'s friend code');
    const { libraries } = await ben.json('/api/v1/libraries');
    const library = libraries[0].name;
    const { page, problems } = await openPage(context);
    await page.setViewportSize(VIEWPORT);
    await page.goto(`${ben.base}/#/friends`);
    const form = page.locator('#add-friend-form');
    await form.waitFor({ timeout: 10_000 });
    await page.locator(`#add-friend-libraries input[value="${library}"]`).waitFor();
    const error = page.locator('#add-friend-error');
    const submit = async (code, name) => {
      await page.fill('#add-friend-code', code);
      await page.fill('#add-friend-name', name);
      await page.click('#add-friend-submit');
    };

    // The API's refusals, as it words them: our own code and a damaged one (422), a name taken (409).
    await submit(await page.locator('#p2p-friend-code').inputValue(), 'me');
    await error.filter({ hasText: /own code/ }).waitFor({ timeout: 5_000 });
    await submit('mow1:!!', 'broken');
    await error.filter({ hasText: /damaged/ }).waitFor({ timeout: 5_000 });
    await submit(cleoCode, 'ann');
    await error.filter({ hasText: /\S/ }).waitFor({ timeout: 5_000 });
    await page.waitForFunction(() => !/damaged/.test(document.getElementById('add-friend-error').textContent));
    log(`409: ${await error.textContent()}`);
    assert.deepEqual((await ben.json('/api/v1/peers')).peers.map((p) => p.name), ['ann'], 'nothing was added');

    // cleo, with one library.
    await page.fill('#add-friend-name', 'cleo');
    await page.uncheck('#add-friend-all');
    await page.check(`#add-friend-libraries input[value="${library}"]`);
    assert.ok(await error.isHidden(), 'typing clears the error');
    await page.mouse.move(5, 5);
    await page.locator('#add-friend').screenshot({ path: join(results, 'friends-add.png') });
    await page.setViewportSize(PHONE);
    await page.locator('#add-friend').scrollIntoViewIfNeeded();
    await screenshot(page, 'friends-add-phone.png');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `at 390 px the Friends page scrolls sideways by ${overflow}px`);
    await page.setViewportSize(VIEWPORT);
    await page.click('#add-friend-submit');
    await page.locator('#add-friend-done').filter({ hasText: 'Added cleo' }).waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('#add-friend-hint').count(), 0, 'no hint: cleo meets nowhere else');
    assert.equal(await page.inputValue('#add-friend-code'), '', 'the form is emptied');
    // (The gateway reads its peers file again within 2 s.)
    const added = await ben.waitFor('cleo in ben\'s peers', 5_000, async () => (await ben.json('/api/v1/peers')).peers.find((p) => p.peerId === cleoId));
    assert.deepEqual(added && { name: added.name, libraries: added.libraries }, { name: 'cleo', libraries: [library] });

    // Listed, and connected once ben's gateway trusts her (cleo keeps dialing).
    const panel = page.locator(`.friend[data-peer="${cleoId}"]`);
    await panel.waitFor({ timeout: 10_000 });
    assert.match(await panel.locator('.friend-id').textContent(), new RegExp(`sees your ${library}`));
    const started = Date.now();
    const connected = await page.waitForFunction((id) => /^(Direct|Relayed)$/.test(
      document.getElementById(`friend-${id}-connection`)?.textContent || ''), cleoId, { timeout: CONNECT_TIMEOUT_MS })
      .then(() => true, () => false);
    assert.ok(connected, `cleo did not connect: ${JSON.stringify(await ben.json('/api/v1/peers'))}${cleo.context()}${ben.context()}`);
    log(`cleo connected ${((Date.now() - started) / 1000).toFixed(1)}s after being added`);
    await panel.scrollIntoViewIfNeeded();
    await screenshot(page, 'friends-added.png');

    // Her own upload limit: too low is stopped by the field (64 at least), 512 kbit/s is kept,
    // and emptying the field gives her the gateway's per-friend limit again.
    const limit = panel.locator(`#friend-${cleoId}-limit`);
    const limitStatus = panel.locator(`#friend-${cleoId}-limit-status`);
    const cleoLimit = async () => (await ben.json('/api/v1/peers')).peers.find((p) => p.peerId === cleoId)?.uploadKbps ?? null;
    await limit.fill('10');
    await panel.locator('.friend-limit button').click();
    assert.equal(await limit.evaluate((input) => input.validity.rangeUnderflow), true, '10 kbit/s is refused');
    assert.equal(await cleoLimit(), null, 'and not sent');
    await limit.fill('512');
    await panel.locator('.friend-limit button').click();
    await limitStatus.filter({ hasText: '512 kbit/s' }).waitFor({ timeout: 5_000 });
    await ben.waitFor('cleo\'s limit in ben\'s peers', 5_000, async () => (await cleoLimit()) === 512);
    await limit.fill('');
    await panel.locator('.friend-limit button').click();
    await limitStatus.filter({ hasText: 'per-friend limit' }).waitFor({ timeout: 5_000 });
    await ben.waitFor('cleo back on the per-friend limit', 5_000, async () => (await cleoLimit()) === null);

    // A code that meets at a coordinator ben does not use: added, with the API's hint shown.
    const doraId = await identity(join(tmp, 'd.key'));
    const coordinator = await identity(join(tmp, 'coordinator.key'));
    const doraCode = `mow1:${Buffer.from(`${doraId}\n/ip4/192.0.2.7/tcp/4001/p2p/${coordinator}/p2p-circuit`).toString('base64url')}`;
    await submit(doraCode, 'dora');
    const hint = page.locator('#add-friend-hint');
    await hint.waitFor({ timeout: 5_000 });
    assert.match(await hint.textContent(), /coordinator/);
    log(`hint: ${await hint.textContent()}`);
    await page.locator('#add-friend').screenshot({ path: join(results, 'friends-hint.png') });

    // Remove both: "Remove", then "Really remove?".
    for (const [id, name] of [[doraId, 'dora'], [cleoId, 'cleo']]) {
      const friend = page.locator(`.friend[data-peer="${id}"]`);
      await friend.waitFor({ timeout: 10_000 });
      const remove = friend.locator('[data-action="remove"]');
      assert.equal(await remove.getAttribute('aria-label'), null);
      assert.equal((await remove.textContent()).trim(), `Remove ${name}`);
      await remove.click();
      assert.match(await remove.textContent(), /Really remove\? \(/);
      await remove.click();
      await friend.waitFor({ state: 'detached', timeout: 5_000 });
      assert.match(await page.locator('#friends-removed').textContent(), new RegExp(`Removed ${name}`));
    }
    await ben.waitFor('only ann in ben\'s peers', 5_000, async () => (await ben.json('/api/v1/peers')).peers.map((p) => p.name).join() === 'ann');
    await page.waitForTimeout(3000); // the gateway has re-read its peers file: they stay gone
    assert.equal(await page.locator('.friend').count(), 1, 'only ann is listed');
    // (409, 422: the refusals above; 502: dora's and cleo's items while they were not connected.)
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    assert.deepEqual(problems.failedRequests.filter((r) => !/^(409|422) .*\/api\/v1\/peers$/.test(r) &&
      !/^502 .*\/api\/v1\/peers\/[^/]+\/items$/.test(r)), [], 'failed requests');
    await page.close();
  } finally {
    await stopServer(cleo);
  }
});

test('where the friends are a PeerGroup\'s (the gateway says peersEditable: false), the admin is told to edit its spec.peers', async () => {

  test.setTimeout(60_000);
  // On a cluster the peers file is a read-only ConfigMap mount (e2e/k8s/cluster_test.sh checks
  // that the gateway says so); here ben's real answer is changed in that one field.
  const gateway = await ben.json('/api/v1/p2p');
  assert.equal(gateway.peersEditable, true, 'ben\'s own peers file is writable');
  const { page, problems } = await openPage(context);
  await page.route('**/api/v1/p2p', async (route) => {
    const answer = await route.fetch();
    await route.fulfill({ response: answer, json: { ...(await answer.json()), peersEditable: false } });
  });
  await page.setViewportSize(VIEWPORT);
  await page.goto(`${ben.base}/#/friends`);
  await page.locator(`.friend[data-peer="${ann.peerId}"]`).waitFor({ timeout: 20_000 });
  const note = page.locator('#friends-declared');
  await note.waitFor({ timeout: 5_000 });
  assert.match(await note.textContent(), /PeerGroup’s spec\.peers/);
  assert.equal(await page.locator('#add-friend').count(), 0, 'no "Add a friend" form');
  assert.equal(await page.locator('[data-action="remove"]').count(), 0, 'no "Remove" button');
  assert.equal(await page.locator('.friend-limit').count(), 0, 'no upload limit editor');
  await screenshot(page, 'friends-declared.png');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('a member sees friends only once the admin grants her "Friends\' libraries"', async () => {

  test.setTimeout(90_000);
  const { libraries } = await ben.json('/api/v1/libraries');
  await ben.json('/api/v1/users', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: MEMBER.username, password: MEMBER.password, role: 'member', libraries: [libraries[0].name] }),
  });
  const member = await launchBrowser(join(tmp, 'member'));
  try {
    await login(member, ben, MEMBER);
    const { page: hers, problems: herProblems } = await openPage(member, { reuseFirst: true });
    await hers.setViewportSize(VIEWPORT);
    await hers.goto(`${ben.base}/#/friends`);
    await hers.locator('#friends-not-shared').waitFor({ timeout: 10_000 });
    assert.equal(await hers.locator('.friend').count(), 0, 'no friends without the grant');
    assert.equal(await hers.locator('#add-friend').count(), 0, 'no "Add a friend" for a member');
    await hers.screenshot({ path: join(results, 'friends-member-none.png') });
    // Nor any row of theirs on her home page: the libraries' answer says none are shared with her.
    const librariesAsked = hers.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/libraries');
    await hers.goto(`${ben.base}/#/`);
    assert.equal((await (await librariesAsked).json()).friends, false);
    await hers.locator('.library .page-head h1').waitFor({ timeout: 5_000 });
    assert.equal(await hers.locator('.friend-row').count(), 0, 'no friend\'s row without the grant');

    // The admin grants it in the user editor (the box shows: sharing is on).
    const { page } = await openPage(context);
    await page.setViewportSize(VIEWPORT);
    await page.goto(`${ben.base}/#/admin`);
    const row = page.locator(`#users-rows tr[data-user="${MEMBER.username}"]`);
    await row.waitFor({ timeout: 10_000 });
    await page.locator('#new-user-friends').waitFor({ timeout: 5_000 });
    assert.ok(await page.isChecked('#new-user-friends') && await page.isDisabled('#new-user-friends'),
      '"All libraries" includes friends\' libraries');
    await row.locator('[data-action="edit"]').click();
    const box = page.locator('#edit-user-friends');
    await box.waitFor({ timeout: 5_000 });
    assert.ok(!(await box.isChecked()), 'not granted yet');
    await box.check();
    await page.mouse.move(5, 5);
    await page.evaluate(() => window.scrollTo(0, 0)); // (the sticky top bar stays at the top of a full-page shot)
    await page.screenshot({ path: join(results, 'admin-friends-grant.png'), fullPage: true });
    await page.click('#edit-user-save');
    await page.locator('#users-status', { hasText: `Saved ${MEMBER.username}: libraries` }).waitFor({ timeout: 5_000 });
    await row.locator('td.cell-wrap', { hasText: `${libraries[0].name}, Friends’ libraries` }).waitFor({ timeout: 5_000 });
    const user = (await ben.json('/api/v1/users')).users.find((u) => u.name === MEMBER.username);
    assert.deepEqual(user.libraries, [libraries[0].name, '@friends']);
    await page.close();

    // Now she sees ann (connected, with her item), on the Friends page and on her home page.
    await hers.reload();
    await hers.locator(`.friend-row[data-peer="${ann.peerId}"] .card[data-id="${ann.item.id}"]`).waitFor({ timeout: 20_000 });
    await hers.goto(`${ben.base}/#/friends`);
    const friend = hers.locator(`.friend[data-peer="${ann.peerId}"]`);
    await friend.locator(`.card[data-id="${ann.item.id}"]`).waitFor({ timeout: 20_000 });
    assert.equal(await hers.locator('#friends-not-shared').count(), 0);
    assert.equal(await friend.locator('[data-action="remove"]').count(), 0, 'no "Remove" for a member');
    await screenshot(hers, 'friends-member.png');
    assert.deepEqual(herProblems.pageErrors, [], 'uncaught page errors');
  } finally {
    await member.close().catch(() => {});
  }
});

test('with ann offline, the Friends page says so, and the item kept for offline viewing still plays', async () => {

  test.setTimeout(60_000);
  await stopServer(ann);
  const { page, problems } = await openPage(context);
  await page.setViewportSize(VIEWPORT);
  await page.goto(`${ben.base}/#/friends`);
  const friend = page.locator(`.friend[data-peer="${ann.peerId}"]`);
  const offline = await page.waitForFunction((id) => {
    const state = document.getElementById(`friend-${id}-connection`);
    return state && state.textContent === 'Offline';
  }, ann.peerId, { timeout: CONNECT_TIMEOUT_MS }).then(() => true, () => false);
  assert.ok(offline, `ann still shows as ${await friend.locator('.state').textContent().catch(() => '?')}` +
    `\nben's peers: ${JSON.stringify(await ben.json('/api/v1/peers').catch((err) => err.message))}`);
  // The item kept by the first test ("Keep offline") is listed, and only it.
  const card = friend.locator(`.card[data-id="${ann.item.id}"]`);
  await card.waitFor({ state: 'visible', timeout: 15_000 });
  assert.equal(await friend.locator('.card').count(), 1, 'only the kept item while she is offline');
  assert.match(await friend.locator('.friend-note').textContent(), /kept on this server/);
  await screenshot(page, 'friends-offline.png');

  // It plays from what ben's gateway kept: the one rendition it kept.
  await card.click();
  await page.waitForURL(`**/#/friends/${ann.peerId}/${ann.item.id}`);
  const played = await page.waitForFunction(() => window.__mow && window.__mow.levels.length >= 1 && window.manofwarPlayer,
    undefined, { timeout: 15_000 }).then(() => true, () => false);
  assert.ok(played, `the kept item's player did not load: ${problems.failedRequests.join(', ')}`);
  const levels = await page.evaluate(() => window.__mow.levels.map((l) => l.height));
  assert.deepEqual(levels, [240], 'the offline master offers the kept rendition only');
  await page.evaluate(() => window.manofwarPlayer.video.play());
  const advanced = await page.waitForFunction(() => window.manofwarPlayer.video.currentTime > 1.0, undefined, { timeout: 15_000 })
    .then(() => true, () => false);
  assert.ok(advanced, `the kept item did not play offline: ${JSON.stringify(await videoState(page))}`);
  await screenshot(page, 'friend-item-offline.png');
  assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  await page.close();
});

test('without --identity, the Friends page says sharing is off and how to turn it on', async () => {

  test.setTimeout(60_000);
  const data = join(tmp, 'data-c');
  const media = join(tmp, 'media-c');
  mkdirSync(media);
  const plain = await startServer({ media, data, profile: join(tmp, 'profile.yaml'), logPath: join(results, 'server-c.log') });
  try {
    await login(context, plain);
    const { page, problems } = await openPage(context);
    await page.setViewportSize(VIEWPORT);
    await page.goto(`${plain.base}/#/friends`);
    const off = page.locator('#p2p-off');
    await off.waitFor({ timeout: 10_000 });
    assert.match(await off.textContent(), /Sharing is off.*--identity FILE.*--peers FILE/s);
    await screenshot(page, 'friends-off.png');
    await page.goto(`${plain.base}/#/admin`);
    await page.locator('#new-user-all').waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    assert.equal(await page.locator('#new-user-friends').count(), 0, 'no "Friends\' libraries" without sharing');
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    await page.close();
  } finally {
    await stopServer(plain);
  }
});
