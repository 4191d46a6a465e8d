// Accounts in the browser, end to end against the real `manofwar up`:
//
// 1. Two libraries (Movies, Home Videos) and the harness's admin. Signed out, the app shows the
//    login form (and remembers the page asked for); a wrong password says so; signed in, the
//    grid has a chip per library, an item plays, and every media request goes to a signed /s/
//    URL. The admin page adds a user with one library, creates and revokes an API token and
//    shows the audit log; that user sees only their library. Logging out shows the login form
//    again and the API answers 401. Too many attempts are throttled (429), with the wait shown.
// 2. First run: no account; the setup link the server prints creates the admin, who lands in
//    the library.
//
// Screenshots (login, login-error, library, admin, member, setup…) and the server logs land in
// web/test-results/auth/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN, cleanup, ffmpeg, launchBrowser, login, openPage, setup, startServer, stopServer, stopwatch,
  videoState,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const MOVIE = 'Signed Reel (2023).mp4';
const HOME_VIDEO = 'Birthday (2019).mp4';
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 400}
`;
const MEMBER = { username: 'ann', password: 'a long enough password' };

const log = stopwatch();
let tmp;
let results;

async function makeClip(path, seconds, frequency) {
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=24', '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=48000`,
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '48', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', '-movflags', '+faststart', path,
  );
}

/** A request for media: a playlist, segment, thumbnail or poster. */
const isMedia = (pathname) => /\/hls\//.test(pathname) || /\/poster$/.test(pathname);

test.beforeAll(() => {
  ({ tmp, results } = setup('auth'));
});

test.afterAll(() => cleanup(tmp));

test.describe('signed in and out', () => {
  let server;
  let context;
  let movie;
  let homeVideo;

  test.beforeAll(async () => {
    const movies = join(tmp, 'movies');
    const home = join(tmp, 'home');
    const profile = join(tmp, 'profile.yaml');
    mkdirSync(movies);
    mkdirSync(home);
    writeFileSync(profile, PROFILE_YAML);
    await Promise.all([makeClip(join(movies, MOVIE), 6, 440), makeClip(join(home, HOME_VIDEO), 4, 660)]);
    server = await startServer({
      media: [`Movies=${movies}`, `Home Videos=${home}`], data: join(tmp, 'data'), profile,
      logPath: join(results, 'server.log'),
    });
    log(`server healthy at ${server.base}`);
    [movie, homeVideo] = await Promise.all([server.waitForItem(MOVIE, 120_000), server.waitForItem(HOME_VIDEO, 120_000)]);
    log(`items ${movie.id} and ${homeVideo.id} ready`);
    context = await launchBrowser(join(tmp, 'browser'));
  });

  test.afterAll(async () => {
    if (context) await context.close().catch(() => {});
    await stopServer(server);
  });

  test('the API answers 401 without credentials, and the items carry their library and signed URLs', async () => {
    const res = await fetch(`${server.base}/api/v1/items`);
    assert.equal(res.status, 401, 'GET /api/v1/items without a session or token');
    const body = await res.json();
    assert.equal(typeof body.error, 'string', `401 body: ${JSON.stringify(body)}`);
    const { items } = await server.json('/api/v1/items');
    const byName = Object.fromEntries(items.map((i) => [String(i.path).split('/').pop(), i]));
    assert.equal(byName[MOVIE].library, 'Movies');
    assert.equal(byName[HOME_VIDEO].library, 'Home Videos');
    for (const item of items) {
      assert.match(String(item.poster_url), /^\/s\/[^/]+\/api\/v1\/items\/\d+\/poster$/, `poster_url of ${item.path}`);
      assert.match(String(item.hls_url), /^\/s\/[^/]+\/hls\/\d+\/master\.m3u8$/, `hls_url of ${item.path}`);
    }
    const { libraries } = await server.json('/api/v1/libraries');
    assert.deepEqual(libraries.map((l) => l.name).sort(), ['Home Videos', 'Movies']);
  });

  test('login form, wrong password, sign in, library chips, play through signed URLs, admin page, log out', async () => {

    test.setTimeout(180_000);
    const { page, problems } = await openPage(context, { reuseFirst: true });
    const requested = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));

    // 1. Signed out: an item's page leads to the login form, which remembers it.
    await page.goto(`${server.base}/#/items/${movie.id}`);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(page.url(), new RegExp(`#/login\\?next=${encodeURIComponent(`/items/${movie.id}`)}$`), page.url());
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'login-username', 'the user name has the focus');
    assert.ok(await page.locator('#user-menu-button').isHidden(), 'no user menu while signed out');
    await page.screenshot({ path: join(results, 'login.png') });

    // 2. A wrong password.
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', 'not the password');
    await page.click('#login-submit');
    await page.locator('#login-error').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal((await page.locator('#login-error').textContent()).trim(), 'Wrong user name or password');
    assert.equal(await page.inputValue('#login-password'), '', 'the password field is cleared');
    await page.screenshot({ path: join(results, 'login-error.png') });

    // 3. The right one: back to the item asked for, which plays.
    await page.fill('#login-password', ADMIN.password);
    await page.press('#login-password', 'Enter');
    await page.waitForURL(`**/#/items/${movie.id}`, { timeout: 10_000 });
    await page.waitForFunction(() => window.manofwarPlayer && window.manofwarPlayer.hls, null, { timeout: 15_000 });
    await page.evaluate(() => { window.manofwarPlayer.video.muted = true; return window.manofwarPlayer.video.play(); });
    const played = await page.waitForFunction(() => (window.__mow.playing && window.manofwarPlayer.video.currentTime > 1) ||
      window.__mow.errors.some((e) => e.fatal), null, { timeout: 30_000 }).then(() => true, () => false);
    const events = await page.evaluate(() => window.__mow);
    const why = `\nvideo: ${JSON.stringify(await videoState(page))}\nhls errors: ${JSON.stringify(events.errors)}` +
      `\nfailed requests: ${problems.failedRequests.join(', ')}${server.context()}`;
    assert.deepEqual(events.errors.filter((e) => e.fatal), [], `fatal hls.js errors${why}`);
    assert.ok(played, `no playback${why}`);
    const poster = await page.getAttribute('#player', 'poster');
    assert.match(String(poster), /^\/s\//, 'the <video> poster is the signed poster_url');
    log(`signed in; item ${movie.id} plays`);

    // 4. The library: a chip per library, each card says its library, the filter works.
    await page.click('.back');
    await page.locator(`.card[data-id="${movie.id}"]`).waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('#library-filters').waitFor({ state: 'visible', timeout: 10_000 });
    const chips = (await page.locator('#library-filters .filter-name').allTextContents()).map((t) => t.trim());
    assert.deepEqual(chips, ['All', 'Movies', 'Home Videos'], 'library chips');
    assert.equal((await page.locator(`.card[data-id="${homeVideo.id}"] .card-library`).textContent()).trim(), 'Home Videos');
    await page.waitForFunction(() => [...document.querySelectorAll('.poster-img')].every((img) => img.complete), null, { timeout: 10_000 }).catch(() => {});
    await page.mouse.move(5, 5);
    await page.screenshot({ path: join(results, 'library.png') });
    await page.click('#library-filters .filter[data-library="Home Videos"]');
    assert.equal(await page.getAttribute('#library-filters .filter[data-library="Home Videos"]', 'aria-pressed'), 'true');
    assert.ok(await page.locator(`.card[data-id="${movie.id}"]`).isHidden(), 'the Movies card is filtered out');
    assert.ok(await page.locator(`.card[data-id="${homeVideo.id}"]`).isVisible(), 'the Home Videos card is shown');
    assert.match(page.url(), /#\/\?library=Home%20Videos$/, 'the filter is in the address');
    await page.screenshot({ path: join(results, 'library-filtered.png') });
    await page.click('#library-filters .filter[data-library=""]');
    assert.ok(await page.locator(`.card[data-id="${movie.id}"]`).isVisible(), 'All shows every card again');

    // 5. Media went through signed URLs only.
    const media = requested.filter(isMedia);
    assert.ok(media.some((p) => p.endsWith('.m4s') || p.endsWith('.ts')), `no segments requested: ${media.join(' ')}`);
    assert.deepEqual(media.filter((p) => !p.startsWith('/s/')), [], 'media requests outside /s/ (unsigned)');
    log(`${media.length} media requests, all signed`);

    // 6. The user menu.
    await page.click('#user-menu-button');
    await page.locator('#user-menu').waitFor({ state: 'visible' });
    assert.equal((await page.locator('#user-menu-name').textContent()).trim(), ADMIN.username);
    assert.equal((await page.locator('#user-menu-role').textContent()).trim(), 'Admin');
    await page.screenshot({ path: join(results, 'user-menu.png') });
    await page.keyboard.press('Escape');
    assert.ok(await page.locator('#user-menu').isHidden(), 'Escape closes the menu');

    // 7. Admin: add a member who sees Home Videos only; create, show and revoke a token.
    await page.click('[data-nav="admin"]');
    await page.waitForURL('**/#/admin');
    await page.locator(`#users-rows tr[data-user="${ADMIN.username}"]`).waitFor({ timeout: 10_000 });
    await page.locator('#new-user-libraries input[value="Home Videos"]').waitFor({ timeout: 10_000 });
    await page.fill('#new-user-name', MEMBER.username);
    await page.fill('#new-user-password', MEMBER.password);
    await page.selectOption('#new-user-role', 'member');
    await page.uncheck('#new-user-all');
    await page.check('#new-user-libraries input[value="Home Videos"]');
    await page.click('#new-user-submit');
    const annRow = page.locator(`#users-rows tr[data-user="${MEMBER.username}"]`);
    await annRow.waitFor({ timeout: 10_000 });
    assert.match(await annRow.textContent(), /Home Videos/);
    const users = (await server.json('/api/v1/users')).users;
    const ann = users.find((u) => u.name === MEMBER.username);
    assert.deepEqual({ role: ann.role, libraries: ann.libraries, disabled: ann.disabled },
      { role: 'member', libraries: ['Home Videos'], disabled: false }, 'the new user, by the API');

    await page.fill('#new-token-label', 'living-room TV');
    await page.click('#new-token-submit');
    await page.locator('#new-token-value').waitFor({ timeout: 10_000 });
    const secret = await page.inputValue('#new-token-value');
    assert.match(secret, /^mow_/, 'the new token is shown once');
    const withToken = await fetch(`${server.base}/api/v1/items`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(withToken.status, 200, 'the new token works');
    const tokenRow = page.locator('#tokens-rows tr', { hasText: 'living-room TV' });
    await tokenRow.waitFor({ timeout: 10_000 });
    await page.locator('#audit-rows tr').first().waitFor({ timeout: 10_000 });
    await page.click('#audit-refresh');
    await page.locator('#audit-rows', { hasText: 'token.create' }).waitFor({ timeout: 10_000 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(results, 'admin.png'), fullPage: true });
    await tokenRow.locator('[data-action="revoke"]').click();
    await tokenRow.locator('[data-action="revoke"]', { hasText: 'Really revoke?' }).click();
    await page.locator('#tokens-rows tr', { hasText: 'living-room TV' }).locator('.state', { hasText: 'Revoked' }).waitFor({ timeout: 10_000 });
    const revoked = await fetch(`${server.base}/api/v1/items`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(revoked.status, 401, 'a revoked token is refused');
    const audit = (await page.locator('#audit-rows').textContent());
    assert.match(audit, /login/, 'the audit log shows the logins');
    assert.ok(await page.locator('#audit-rows tr').count() <= 50, 'at most 50 audit events');
    log('admin: added ann, created and revoked a token');

    // 8. Disable and enable ann.
    await annRow.locator('[data-action="disable"]').click();
    await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] .state`, { hasText: 'Disabled' }).waitFor({ timeout: 10_000 });
    await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] [data-action="enable"]`).click();
    await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] .state`, { hasText: 'Active' }).waitFor({ timeout: 10_000 });

    // 9. Log out: the login form, and the API says 401 in this browser.
    await page.click('#user-menu-button');
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    assert.ok(await page.locator('#user-menu-button').isHidden(), 'no user menu after logging out');
    const status = await page.evaluate(async () => (await fetch('/api/v1/items')).status);
    assert.equal(status, 401, 'GET /api/v1/items after logging out');
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    // The server's Content-Security-Policy (no inline scripts or style attributes) refused nothing.
    assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
    await page.close();
    log('logged out');
  });

  test('a member sees their library only, and no admin page', async () => {

    test.setTimeout(60_000);
    const memberContext = await launchBrowser(join(tmp, 'browser-member'));
    try {
      const { page, problems } = await openPage(memberContext, { reuseFirst: true });
      const signedIn = await login(page, server, MEMBER);
      assert.deepEqual(signedIn.user, { ...signedIn.user, name: MEMBER.username, role: 'member', libraries: ['Home Videos'] });
      assert.equal(typeof signedIn.csrf, 'string');
      await page.goto(`${server.base}/#/`);
      await page.locator(`.card[data-id="${homeVideo.id}"]`).waitFor({ state: 'visible', timeout: 10_000 });
      assert.equal(await page.locator('.card').count(), 1, 'only the Home Videos item');
      assert.ok(await page.locator('#library-filters').isHidden(), 'one library: no chips');
      assert.ok(await page.locator('[data-nav="admin"]').isHidden(), 'no Admin link');
      await page.goto(`${server.base}/#/admin`);
      await page.locator('.empty', { hasText: 'Admins only' }).waitFor({ timeout: 10_000 });
      await page.goto(`${server.base}/#/tokens`);
      await page.locator('#new-token-form').waitFor({ timeout: 10_000 });
      await page.screenshot({ path: join(results, 'member-tokens.png') });
      // CSRF: a state-changing call with the session cookie needs X-CSRF-Token (a token that does
      // not exist: 404 once past the CSRF check), which the app's api() sends: creating a token
      // through the page works, with the session's CSRF token.
      const bare = await page.evaluate(async () => (await fetch('/api/v1/tokens/999999', { method: 'DELETE' })).status);
      assert.equal(bare, 403, 'DELETE without X-CSRF-Token');
      const posted = page.waitForResponse((res) => res.request().method() === 'POST' && new URL(res.url()).pathname === '/api/v1/tokens');
      await page.locator('#new-token-label').fill('csrf check');
      await page.locator('#new-token-submit').click();
      const viaApp = await posted;
      assert.equal(viaApp.request().headers()['x-csrf-token'], signedIn.csrf, 'POST through api(): X-CSRF-Token');
      assert.ok(viaApp.ok(), `POST /api/v1/tokens through api(): ${viaApp.status()}`);
      await page.locator('#new-token-value').waitFor({ timeout: 10_000 });
      const other = await page.evaluate(async (id) => (await fetch(`/api/v1/items/${id}`)).status, movie.id);
      assert.equal(other, 404, 'an item of another library does not exist for her');
      assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    } finally {
      await memberContext.close().catch(() => {});
    }
  });

  test('too many attempts: the login form says how long to wait', async () => {

    test.setTimeout(90_000);
    const { page } = await openPage(context);
    await page.goto(`${server.base}/#/login`);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    let message = '';
    for (let attempt = 1; attempt <= 40; attempt += 1) {
      await page.fill('#login-username', 'mallory');
      await page.fill('#login-password', `guess number ${attempt}`);
      await page.click('#login-submit');
      await page.waitForFunction(() => {
        const error = document.getElementById('login-error');
        return !error.hidden && !document.getElementById('login-submit').textContent.includes('Signing in');
      }, null, { timeout: 10_000 });
      message = (await page.locator('#login-error').textContent()).trim();
      if (/Too many/.test(message)) break;
    }
    assert.match(message, /^Too many attempts, try again in \d+ s$/, 'the throttled message');
    assert.ok(await page.locator('#login-submit').isDisabled(), 'the button waits out the throttle');
    await page.screenshot({ path: join(results, 'login-throttled.png') });
    await page.close();
  });
});

test.describe('first run', () => {
  let server;
  let context;

  test.beforeAll(async () => {
    const media = join(tmp, 'first-run-media');
    const profile = join(tmp, 'first-run-profile.yaml');
    mkdirSync(media);
    writeFileSync(profile, PROFILE_YAML);
    await makeClip(join(media, MOVIE), 4, 440);
    server = await startServer({
      media, data: join(tmp, 'first-run-data'), profile, logPath: join(results, 'server-first-run.log'), admin: false,
    });
    context = await launchBrowser(join(tmp, 'browser-first-run'));
  });

  test.afterAll(async () => {
    if (context) await context.close().catch(() => {});
    await stopServer(server);
  });

  test('the setup link creates the admin, who lands in the library', async () => {

    test.setTimeout(90_000);
    const url = await server.waitFor('the setup link in the server output', 10_000,
      () => (server.output().match(/https?:\/\/\S+\/#\/setup\?token=\S+/) || [])[0]);
    log(`setup link: ${url.replace(/token=.*/, 'token=…')}`);
    assert.deepEqual(await (await fetch(`${server.base}/api/v1/auth/setup`)).json(), { needed: true });
    const { page, problems } = await openPage(context, { reuseFirst: true });

    // Signed out without an account: the login page points at the setup link.
    await page.goto(`${server.base}/#/`);
    await page.locator('#login-notice', { hasText: 'No account exists yet' }).waitFor({ timeout: 10_000 });

    await page.goto(url);
    await page.locator('#setup-form').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.inputValue('#setup-username'), 'admin', 'the user name is suggested');
    await page.fill('#setup-username', 'owner');
    await page.fill('#setup-password', 'a fine long password');
    await page.fill('#setup-confirm', 'a different password');
    await page.click('#setup-submit');
    await page.locator('#setup-error', { hasText: 'not the same' }).waitFor({ timeout: 5_000 });
    await page.fill('#setup-confirm', 'a fine long password');
    await page.screenshot({ path: join(results, 'setup.png'), fullPage: true });
    await page.click('#setup-submit');
    await page.waitForURL((u) => u.hash === '#/', { timeout: 10_000 });
    await page.locator('.library h1').waitFor({ timeout: 10_000 });
    await page.locator('#user-menu-button', { hasText: 'owner' }).waitFor({ timeout: 10_000 });
    assert.ok(!(await page.evaluate(() => location.href)).includes('token='), 'the token is gone from the address');
    await page.locator('.card').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(results, 'setup-done.png') });
    assert.deepEqual(await (await fetch(`${server.base}/api/v1/auth/setup`)).json(), { needed: false });

    // The link is spent.
    await page.goto(url);
    await page.locator('#setup-message', { hasText: 'set up already' }).waitFor({ timeout: 10_000 });
    const reuse = await fetch(`${server.base}/api/v1/auth/setup`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: new URL(url).hash.split('token=')[1], username: 'eve', password: 'another long password' }),
    });
    assert.equal(reuse.status, 403, 'a used setup token');
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
  });
});
