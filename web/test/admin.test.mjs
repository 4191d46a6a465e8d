// The admin page's user editor and the login page's single sign-on, end to end against the real
// `manofwar up` (two empty libraries: nothing to transcode):
//
// 1. The admin opens the editor under a member's row, and through it changes her libraries, her
//    limits (maximum bit rate, streams at once: the API reports them, the table shows them) and
//    her password (the old one stops working, the new one works, her open session ends). Wrong
//    input and the API's errors are shown in the editor; Escape closes it. At 390 px the editor
//    fits the screen even though the table scrolls sideways.
// 2. The login page: no single sign-on button on a server without it (GET /api/v1/auth/oidc:
//    404 or enabled: false); `#/login?error=…` (where a failed sign-on lands) shows the reason;
//    with single sign-on on (the answer stubbed: no identity provider here), "Sign in with
//    {name}" leads the whole page to /api/v1/auth/oidc/start?next=… .
//
// Screenshots (admin-edit, admin-edit-error, admin-limits, admin-edit-narrow, login-sso-error,
// login-sso-error-narrow, login-sso) land in web/test-results/admin/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN, cleanup, launchBrowser, login, openPage, setup, startServer, stopServer, stopwatch,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 400}
`;
const MEMBER = { username: 'ann', password: 'the first long password' };
const NEW_PASSWORD = 'a brand new long password';

const log = stopwatch();
let tmp;
let results;
let server;

/** POST /api/v1/auth/login without a browser: the status, and the session cookie on a 200. */
async function signIn(credentials) {
  const res = await fetch(`${server.base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(credentials),
  });
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  await res.text();
  return { status: res.status, cookie };
}

const userOf = async (name) => (await server.json('/api/v1/users')).users.find((u) => u.name === name);

test.beforeAll(async () => {
  ({ tmp, results } = setup('admin'));
  const movies = join(tmp, 'movies');
  const home = join(tmp, 'home');
  mkdirSync(movies);
  mkdirSync(home);
  writeFileSync(join(tmp, 'profile.yaml'), PROFILE_YAML);
  server = await startServer({
    media: [`Movies=${movies}`, `Home Videos=${home}`], data: join(tmp, 'data'), profile: join(tmp, 'profile.yaml'),
    logPath: join(results, 'server.log'),
  });
  log(`server healthy at ${server.base}`);
});

test.afterAll(async () => {
  await stopServer(server);
  cleanup(tmp);
});

test.describe('the admin edits a user', () => {
  let context;

  test.beforeAll(async () => {
    await server.json('/api/v1/users', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: MEMBER.username, password: MEMBER.password, role: 'member', libraries: ['Home Videos'] }),
    });
    context = await launchBrowser(join(tmp, 'browser-admin'));
  });

  test.afterAll(async () => {
    if (context) await context.close().catch(() => {});
  });

  test('libraries, limits and password through the editor', async () => {

    test.setTimeout(120_000);
    const { page, problems } = await openPage(context, { reuseFirst: true });
    await login(page, server);
    await page.goto(`${server.base}/#/admin`);
    const annRow = page.locator(`#users-rows tr[data-user="${MEMBER.username}"]`);
    await annRow.waitFor({ timeout: 10_000 });
    assert.equal((await annRow.locator('.cell-limits').textContent()).trim(), '—', 'no limits yet');
    const edit = annRow.locator('[data-action="edit"]');
    assert.equal(await edit.getAttribute('aria-label'), `Edit ${MEMBER.username}`);

    // Open: prefilled with her libraries, no limits; the focus moves into the editor.
    await edit.click();
    const editor = page.locator('#user-editor');
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await edit.getAttribute('aria-expanded'), 'true');
    assert.equal(await page.evaluate(() => document.getElementById('user-editor-row').previousElementSibling.dataset.user), MEMBER.username,
      'the editor is the row under hers');
    assert.ok(await editor.evaluate((el) => el.contains(document.activeElement)), 'the focus is in the editor');
    assert.equal((await page.locator('#user-editor-heading').textContent()).trim(), `Edit ${MEMBER.username}`);
    assert.ok(!(await page.isChecked('#edit-user-all')), 'not all libraries');
    assert.ok(await page.isChecked('#edit-user-libraries input[value="Home Videos"]'));
    assert.ok(!(await page.isChecked('#edit-user-libraries input[value="Movies"]')));
    assert.equal(await page.inputValue('#edit-user-max-kbps'), '');
    assert.equal(await page.inputValue('#edit-user-max-streams'), '');
    assert.match(await page.locator('#edit-user-password-hint').textContent(), /signs ann out everywhere/);
    // Every field has a label.
    for (const id of ['edit-user-max-kbps', 'edit-user-max-streams', 'edit-user-password']) {
      assert.ok(await page.locator(`label[for="${id}"]`).count(), `a label for #${id}`);
    }

    // Wrong input is caught before it is sent.
    await page.uncheck('#edit-user-libraries input[value="Home Videos"]');
    await page.click('#edit-user-save');
    await page.locator('#edit-user-error', { hasText: 'at least one library' }).waitFor({ timeout: 5_000 });
    await page.check('#edit-user-libraries input[value="Movies"]');
    await page.fill('#edit-user-password', 'short');
    await page.click('#edit-user-save');
    await page.locator('#edit-user-error', { hasText: 'at least 10 characters' }).waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => document.activeElement.id), 'edit-user-password', 'the focus goes to the wrong field');
    await page.fill('#edit-user-password', '');

    // Libraries and limits.
    await page.fill('#edit-user-max-kbps', '1500');
    await page.fill('#edit-user-max-streams', '2');
    await page.mouse.move(5, 5);
    await page.screenshot({ path: join(results, 'admin-edit.png'), fullPage: true });
    await page.click('#edit-user-save');
    await editor.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('#users-status', { hasText: `Saved ${MEMBER.username}: libraries, limits.` }).waitFor({ timeout: 10_000 });
    let ann = await userOf(MEMBER.username);
    assert.deepEqual({ libraries: ann.libraries, max_kbps: ann.max_kbps, max_streams: ann.max_streams },
      { libraries: ['Movies'], max_kbps: 1500, max_streams: 2 }, 'the API reports the new libraries and limits');
    await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] .cell-limits`, { hasText: '1,500 kbit/s' }).waitFor({ timeout: 5_000 });
    const limitsText = (await annRow.locator('.cell-limits').textContent()).replace(/\s+/g, ' ').trim();
    assert.match(limitsText, /1,500 kbit\/s ?2 streams/, 'the table shows the limits');
    assert.match(await annRow.textContent(), /Movies/);
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.dataset.action), 'edit',
      'the focus is back on the Edit button');
    await page.screenshot({ path: join(results, 'admin-limits.png') });
    log('libraries and limits saved');

    // The password: her open session ends, the old one stops working, the new one works.
    const earlier = await signIn(MEMBER);
    assert.equal(earlier.status, 200, 'ann signs in with her first password');
    const me = () => fetch(`${server.base}/api/v1/auth/me`, { headers: { Cookie: earlier.cookie } }).then((r) => r.status);
    assert.equal(await me(), 200, 'her session works');
    await edit.click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    assert.ok(await page.isChecked('#edit-user-libraries input[value="Movies"]'), 'the editor shows what was saved');
    assert.equal(await page.inputValue('#edit-user-max-kbps'), '1500');
    assert.equal(await page.inputValue('#edit-user-max-streams'), '2');
    await page.fill('#edit-user-password', NEW_PASSWORD);
    await page.press('#edit-user-password', 'Enter');
    await editor.waitFor({ state: 'detached', timeout: 15_000 });
    await page.locator('#users-status', { hasText: 'password' }).waitFor({ timeout: 10_000 });
    assert.equal((await signIn(MEMBER)).status, 401, 'the old password is refused');
    assert.equal((await signIn({ username: MEMBER.username, password: NEW_PASSWORD })).status, 200, 'the new password works');
    assert.equal(await me(), 401, 'her session from before ended');
    ann = await userOf(MEMBER.username);
    assert.deepEqual({ libraries: ann.libraries, max_kbps: ann.max_kbps, max_streams: ann.max_streams },
      { libraries: ['Movies'], max_kbps: 1500, max_streams: 2 }, 'a password change leaves the rest as it was');
    log('password reset');

    // All libraries, and no limits again (empty fields).
    await edit.click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    await page.check('#edit-user-all');
    assert.ok(await page.isDisabled('#edit-user-libraries input[value="Movies"]'), '"All libraries" covers the others');
    await page.fill('#edit-user-max-kbps', '');
    await page.fill('#edit-user-max-streams', '0');
    await page.click('#edit-user-save');
    await editor.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] .cell-limits`, { hasText: '—' }).waitFor({ timeout: 10_000 });
    ann = await userOf(MEMBER.username);
    assert.deepEqual({ libraries: ann.libraries, max_kbps: ann.max_kbps, max_streams: ann.max_streams },
      { libraries: ['*'], max_kbps: null, max_streams: null }, 'all libraries, no limits');
    assert.match(await annRow.textContent(), /All libraries/);

    // Escape closes the editor, and the focus goes back to its button; a second click on Edit too.
    await edit.click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    await page.keyboard.press('Escape');
    await editor.waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await edit.getAttribute('aria-expanded'), 'false');
    assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label')), `Edit ${MEMBER.username}`);

    // The admin's own row: every library anyway.
    await page.locator(`#users-rows tr[data-user="${ADMIN.username}"] [data-action="edit"]`).click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    assert.ok(await page.isDisabled('#edit-user-all'), 'no library choice for an admin');
    assert.match(await page.locator('#edit-user-libraries-hint').textContent(), /Admins see every library/);
    await page.click('#edit-user-cancel');
    await editor.waitFor({ state: 'detached', timeout: 5_000 });

    // The API's errors are shown: a user deleted meanwhile.
    await server.json('/api/v1/users', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'bob', password: 'bob has a password', role: 'guest', libraries: ['*'] }),
    });
    await page.reload();
    const bobRow = page.locator('#users-rows tr[data-user="bob"]');
    await bobRow.waitFor({ timeout: 10_000 });
    await bobRow.locator('[data-action="edit"]').click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    await server.json('/api/v1/users/bob', { method: 'DELETE' });
    await page.fill('#edit-user-max-streams', '1');
    await page.click('#edit-user-save');
    const error = page.locator('#edit-user-error');
    await error.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await error.textContent(), /^Could not save: no user named "bob"/, 'the API\'s error');
    assert.ok(await editor.isVisible(), 'the editor stays open on an error');
    await page.screenshot({ path: join(results, 'admin-edit-error.png') });
    await page.click('#edit-user-cancel');

    // A phone: the editor fits the screen, though the table scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await annRow.waitFor({ timeout: 10_000 });
    await edit.click();
    await editor.waitFor({ state: 'visible', timeout: 5_000 });
    const box = await page.locator('#user-editor-row .editor-frame').boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the editor fits 390 px: ${JSON.stringify(box)}`);
    for (const id of ['edit-user-max-kbps', 'edit-user-password', 'edit-user-save']) {
      const b = await page.locator(`#${id}`).boundingBox();
      assert.ok(b.x >= 0 && b.x + b.width <= 390, `#${id} is on the screen: ${JSON.stringify(b)}`);
    }
    await page.locator('#user-editor').scrollIntoViewIfNeeded();
    await page.locator('#users').screenshot({ path: join(results, 'admin-edit-narrow.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
    await page.close();
  });
});

test.describe('single sign-on on the login page', () => {
  let context;

  test.beforeAll(async () => {
    context = await launchBrowser(join(tmp, 'browser-signed-out'));
  });

  test.afterAll(async () => {
    if (context) await context.close().catch(() => {});
  });

  test('no button without single sign-on; a failed sign-on says why', async () => {

    test.setTimeout(60_000);
    const res = await fetch(`${server.base}/api/v1/auth/oidc`);
    const answer = res.status === 200 ? await res.json() : null;
    log(`GET /api/v1/auth/oidc: ${res.status} ${JSON.stringify(answer)}`);
    assert.ok(res.status === 404 || (res.status === 200 && answer.enabled === false),
      `GET /api/v1/auth/oidc on a server without single sign-on: ${res.status} ${JSON.stringify(answer)}`);

    const { page, problems } = await openPage(context, { reuseFirst: true });
    const asked = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/oidc', { timeout: 10_000 });
    await page.goto(`${server.base}/#/login`);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    await asked;
    await page.waitForTimeout(200);
    assert.ok(await page.locator('#login-sso').isHidden(), 'no single sign-on button');
    assert.equal(await page.locator('text=/Sign in with/').count(), 0);

    await page.goto(`${server.base}/#/login?error=Something%20failed`);
    await page.locator('#login-error', { hasText: 'Something failed' }).waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal((await page.locator('#login-error').textContent()).trim(), 'Something failed');
    assert.equal(new URL(page.url()).hash, '#/login', 'the message is not in the address any more');
    await page.screenshot({ path: join(results, 'login-sso-error.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(results, 'login-sso-error-narrow.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Signing in with the password still works after it, and leads to the library.
    await page.fill('#login-username', ADMIN.username);
    await page.fill('#login-password', ADMIN.password);
    await page.press('#login-password', 'Enter');
    await page.waitForURL((u) => u.hash === '#/', { timeout: 10_000 });
    await page.click('#user-menu-button');
    await page.click('#logout');
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    await page.close();
  });

  test('with single sign-on on, "Sign in with {name}" goes to the provider and back', async () => {

    test.setTimeout(60_000);
    // No identity provider here: the two answers are stubbed, as the server gives them.
    const { page, problems } = await openPage(context);
    await page.route('**/api/v1/auth/oidc', (route) => route.fulfill({
      status: 200, contentType: 'application/json', body: JSON.stringify({ enabled: true, name: 'Keycloak' }),
    }));
    const starts = [];
    await page.route('**/api/v1/auth/oidc/start**', (route) => {
      starts.push(route.request());
      return route.fulfill({ status: 303, headers: { Location: '/#/login?error=the%20identity%20provider%20said%3A%20access_denied' } });
    });
    await page.goto(`${server.base}/#/items/3`);
    await page.locator('#login-form').waitFor({ state: 'visible', timeout: 10_000 });
    const button = page.locator('#login-sso-start');
    await button.waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal((await button.textContent()).trim(), 'Sign in with Keycloak');
    assert.equal(await button.getAttribute('href'), '/api/v1/auth/oidc/start?next=%2Fitems%2F3');
    await page.screenshot({ path: join(results, 'login-sso.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(results, 'login-sso-narrow.png') });
    await page.setViewportSize({ width: 1280, height: 800 });

    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('#login-error', { hasText: 'The identity provider said: access_denied' }).waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(starts.length, 1, 'one visit to /api/v1/auth/oidc/start');
    assert.ok(starts[0].isNavigationRequest(), 'a whole-page navigation, not a fetch');
    assert.equal(new URL(starts[0].url()).searchParams.get('next'), '/items/3');
    assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
    await page.close();
  });
});
