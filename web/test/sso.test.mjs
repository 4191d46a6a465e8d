// Single sign-on in the browser through a REAL OpenID provider: zitadel/oidc's example OP (built
// by `bash e2e/oidc-op.sh` into ~/.cache/manofwar/bin/oidc-example-op), with `manofwar up` as its
// client `web` (--oidc-role-claim email, ann@home.test=member).
//
// 1. Ann, signed out, opens the app: the login page offers "Sign in with Example", which leads
//    the whole page to the provider's login form; she signs in there and lands back in the app
//    signed in as ann, member (user menu, GET /api/v1/auth/me), with the library (one small
//    generated clip) in front of her.
// 2. Eve (eve@elsewhere.test: no role mapping), in a fresh browser: a wrong password keeps her on
//    the provider's form; the right one brings her back to our login page with the reason (her
//    account has no role here), and no session (GET /api/v1/auth/me: 401).
//
// manofwar is at http://127.0.0.1:PORT (its session cookie and the redirect URI are there), the
// provider at http://localhost:OPPORT/ (its issuer): two different sites, as in real life.
//
// Screenshots (login-sso, op-login, signed-in-library, user-menu, op-wrong-password, eve-error)
// and the logs (server.log, op.log) land in web/test-results/sso/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  cleanup, freePort, launchBrowser, openPage, setup, sleep, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const OP_BIN = process.env.OIDC_EXAMPLE_OP || join(homedir(), '.cache', 'manofwar', 'bin', 'oidc-example-op');
const PASSWORD = 'a long enough password';
const CLIP = 'Garden Walk (2021).mp4';
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 400}
`;
// Generous: the machine may be busy with other work.
const STEP = 30_000;

const log = stopwatch();
let tmp;
let results;
let op;
let server;
let clip;

const opUser = (id, email) => ({
  ID: id, Username: id, Password: PASSWORD, FirstName: id, LastName: 'Test', Email: email,
  EmailVerified: true, PreferredLanguage: 'en',
});

/** The example OP on `port`, with ann and eve, accepting `redirectUri`; resolves once its discovery answers. */
async function startProvider(port, redirectUri) {
  const usersFile = join(tmp, 'op-users.json');
  writeFileSync(usersFile, JSON.stringify({
    ann: opUser('ann', 'ann@home.test'),
    eve: opUser('eve', 'eve@elsewhere.test'),
  }));
  const logPath = join(results, 'op.log');
  const opLog = createWriteStream(logPath);
  let tail = '';
  const child = spawn(OP_BIN, [], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(port), USERS_FILE: usersFile, REDIRECT_URI: redirectUri },
  });
  const provider = {
    child, issuer: `http://localhost:${port}/`, origin: `http://localhost:${port}`, exited: null,
    context: () => `\n${provider.exited ? `provider exited: ${JSON.stringify(provider.exited)}\n` : ''}--- last lines of ${logPath} ---\n${tail.trim().split('\n').slice(-15).join('\n')}`,
  };
  const onData = (chunk) => {
    opLog.write(chunk);
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.on('exit', (code, signal) => { provider.exited = { code, signal }; opLog.end(); });
  child.on('error', (err) => { provider.exited = { error: err.message }; });
  const deadline = Date.now() + STEP;
  for (;;) {
    if (provider.exited) throw new Error(`the example OpenID provider did not start${provider.context()}`);
    const ok = await fetch(`${provider.issuer}.well-known/openid-configuration`).then((r) => r.ok, () => false);
    if (ok) return provider;
    if (Date.now() > deadline) {
      await stopProvider(provider);
      throw new Error(`the example OpenID provider did not answer in ${STEP / 1000}s${provider.context()}`);
    }
    await sleep(100);
  }
}

async function stopProvider(provider) {
  if (!provider || provider.exited) return;
  provider.child.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (!provider.exited && Date.now() < deadline) await sleep(50);
  if (!provider.exited) provider.child.kill('SIGKILL');
}

// Whatever happens to the test process, the provider does not outlive it.
process.on('exit', () => {
  if (op && !op.exited) op.child.kill('SIGKILL');
  if (server && !server.exited) server.child.kill('SIGKILL');
});

/** The signed-in user as the page's own context sees it: GET /api/v1/auth/me. */
const me = (page) => page.evaluate(async () => {
  const res = await fetch('/api/v1/auth/me');
  return { status: res.status, body: await res.json().catch(() => null) };
});

/** From our login page through "Sign in with Example" to the provider's login form. */
async function toProvider(page, screenshot) {
  await page.goto(`${server.base}/`);
  await page.locator('#login-form').waitFor({ state: 'visible', timeout: STEP });
  const button = page.locator('#login-sso-start');
  await button.waitFor({ state: 'visible', timeout: STEP });
  assert.equal((await button.textContent()).trim(), 'Sign in with Example');
  assert.match(String(await button.getAttribute('href')), /^\/api\/v1\/auth\/oidc\/start\?next=/, 'the button leads to the start');
  if (screenshot) await page.screenshot({ path: join(results, screenshot) });
  await button.click();
  await page.waitForURL((u) => u.origin === op.origin && u.pathname === '/login/username', { timeout: STEP });
  await page.locator('form[action="/login/username"] #username').waitFor({ state: 'visible', timeout: STEP });
  assert.match(page.url(), /[?&]authRequestID=/, 'the provider\'s login form for our request');
}

/** Fills the provider's form and submits it. */
async function submitProvider(page, username, password) {
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('form[action="/login/username"] button[type="submit"]');
}

test.beforeAll(async () => {
  ({ tmp, results } = setup('sso'));
  assert.ok(existsSync(OP_BIN), `the example OpenID provider is missing at ${OP_BIN}: run \`bash e2e/oidc-op.sh\` (or set OIDC_EXAMPLE_OP)`);
  const media = join(tmp, 'media');
  mkdirSync(media);
  writeFileSync(join(tmp, 'profile.yaml'), PROFILE_YAML);
  await testClip(join(media, CLIP), { seconds: 3, preset: 'ultrafast', gop: 48 });
  // Our port first: the provider accepts only the redirect URIs it is told at start.
  const port = await freePort();
  op = await startProvider(await freePort(), `http://127.0.0.1:${port}/api/v1/auth/oidc/callback`);
  log(`provider at ${op.issuer}`);
  server = await startServer({
    media, data: join(tmp, 'data'), profile: join(tmp, 'profile.yaml'), logPath: join(results, 'server.log'), port,
    args: [
      '--oidc-issuer', op.issuer, '--oidc-client-id', 'web', '--oidc-client-secret', 'secret',
      '--oidc-name', 'Example', '--oidc-role-claim', 'email', '--oidc-role', 'ann@home.test=member',
    ],
  });
  log(`server healthy at ${server.base}`);
  assert.deepEqual(await server.json('/api/v1/auth/oidc'), { enabled: true, name: 'Example' }, 'GET /api/v1/auth/oidc');
  clip = await server.waitForItem(CLIP, 240_000);
  log(`item ${clip.id} ready`);
});

test.afterAll(async () => {
  await stopServer(server);
  await stopProvider(op);
  cleanup(tmp);
});

test.describe('single sign-on through the example OpenID provider', () => {
  test('ann (email maps to member) signs in at the provider and lands in the library', async () => {
    test.setTimeout(240_000);
    const context = await launchBrowser(join(tmp, 'browser-ann'));
    try {
      const { page, problems } = await openPage(context, { reuseFirst: true });
      const why = () => `\npage: ${page.url()}\nfailed requests: ${problems.failedRequests.join(', ')}${server.context()}${op.context()}`;

      await toProvider(page, 'login-sso.png');
      assert.ok(await page.locator('#password[type="password"]').isVisible(), 'the provider asks for the password');
      await page.screenshot({ path: join(results, 'op-login.png') });
      log('at the provider\'s login form');

      await submitProvider(page, 'ann', PASSWORD);
      await page.waitForURL((u) => u.origin === server.base && u.hash === '#/', { timeout: STEP })
        .catch((err) => assert.fail(`not back in the app: ${err.message}${why()}`));
      log('back in the app');

      // Signed in: the user menu says so, and so does the API, from the page's own context.
      const button = page.locator('#user-menu-button');
      await button.filter({ hasText: 'ann' }).waitFor({ state: 'visible', timeout: STEP });
      // Its name holds its visible text (name, then role), after what it is.
      assert.equal(await button.getAttribute('aria-label'), 'Account: ann Member');
      const mine = await me(page);
      assert.equal(mine.status, 200, `GET /api/v1/auth/me: ${JSON.stringify(mine.body)}`);
      assert.equal(mine.body.user.name, 'ann');
      assert.equal(mine.body.user.role, 'member');
      const cookies = await context.cookies(server.base);
      assert.ok(cookies.length > 0 && cookies.every((c) => c.domain === '127.0.0.1'), `session cookie: ${JSON.stringify(cookies)}`);

      // The library: her clip (a new single sign-on user sees every library).
      await page.locator('.library h1').waitFor({ timeout: STEP });
      const card = page.locator(`.card[data-id="${clip.id}"]`);
      await card.waitFor({ state: 'visible', timeout: STEP });
      await page.waitForFunction(() => [...document.querySelectorAll('.poster-img')].every((img) => img.complete), null, { timeout: STEP }).catch(() => {});
      await page.mouse.move(5, 5);
      await page.screenshot({ path: join(results, 'signed-in-library.png') });

      await button.click();
      await page.locator('#user-menu').waitFor({ state: 'visible', timeout: STEP });
      assert.equal((await page.locator('#user-menu-name').textContent()).trim(), 'ann');
      assert.equal((await page.locator('#user-menu-role').textContent()).trim(), 'Member');
      await page.screenshot({ path: join(results, 'user-menu.png') });
      await page.keyboard.press('Escape');

      // The server knows her as a single sign-on member now.
      const users = (await server.json('/api/v1/users')).users;
      const ann = users.find((u) => u.name === 'ann');
      assert.ok(ann, `ann among the users: ${JSON.stringify(users.map((u) => u.name))}`);
      assert.equal(ann.role, 'member');

      assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
      assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
      log(`signed in as ann, member; item ${clip.id} in the library`);
    } finally {
      await context.close().catch(() => {});
    }
  });

  test('eve (email maps to no role): a wrong password stays at the provider; the right one comes back with the reason, signed out', async () => {

    test.setTimeout(240_000);
    const context = await launchBrowser(join(tmp, 'browser-eve'));
    try {
      const { page, problems } = await openPage(context, { reuseFirst: true });
      const why = () => `\npage: ${page.url()}\nfailed requests: ${problems.failedRequests.join(', ')}${server.context()}${op.context()}`;

      await toProvider(page);

      // A wrong password: the provider shows its form again, with its error.
      await submitProvider(page, 'eve', 'not the password');
      await page.waitForFunction(() => {
        const p = document.querySelector('form[action="/login/username"] p');
        return p && p.textContent.trim() !== '';
      }, null, { timeout: STEP }).catch((err) => assert.fail(`no error on the provider's form: ${err.message}${why()}`));
      assert.equal(new URL(page.url()).origin, op.origin, 'still at the provider');
      assert.ok(await page.locator('#username').isVisible(), 'the provider\'s form again');
      const opError = (await page.locator('form[action="/login/username"] p').textContent()).trim();
      log(`wrong password at the provider: "${opError}"`);
      await page.screenshot({ path: join(results, 'op-wrong-password.png') });

      // The right one: back at our login page, with the reason.
      await submitProvider(page, 'eve', PASSWORD);
      await page.waitForURL((u) => u.origin === server.base && u.hash.startsWith('#/login'), { timeout: STEP })
        .catch((err) => assert.fail(`not back at the login page: ${err.message}${why()}`));
      const error = page.locator('#login-error');
      await error.waitFor({ state: 'visible', timeout: STEP });
      const message = (await error.textContent()).trim();
      assert.match(message, /has no role here/, 'the reason');
      assert.match(message, /eve@elsewhere\.test/, 'the claim\'s value');
      await page.waitForFunction(() => location.hash === '#/login', null, { timeout: STEP })
        .catch(() => assert.fail(`the error stays in the address: ${page.url()}`));
      assert.ok(await page.locator('#login-form').isVisible(), 'the login form');
      assert.ok(await page.locator('#login-sso-start').isVisible(), 'the single sign-on button, to try again');
      assert.ok(await page.locator('#user-menu-button').isHidden(), 'no user menu');
      await page.screenshot({ path: join(results, 'eve-error.png') });
      log(`eve: "${message}"`);

      // No session.
      const mine = await me(page);
      assert.equal(mine.status, 401, `GET /api/v1/auth/me: ${JSON.stringify(mine.body)}`);
      assert.deepEqual(await context.cookies(server.base), [], 'no cookie from us');
      const users = (await server.json('/api/v1/users')).users;
      assert.ok(!users.some((u) => u.name === 'eve'), 'no account for eve');

      assert.deepEqual(problems.pageErrors, [], 'uncaught page errors');
      assert.deepEqual(problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)), [], 'CSP violations');
    } finally {
      await context.close().catch(() => {});
    }
  });
});
