// Every page against the real `manofwar up` binary, for what no other test looks at as a whole:
//
// 1. Label in name (WCAG 2.5.3): each link, button and slider that shows text has an accessible
//    name (as Chromium computes it) that holds that text: a button's as one string, a link's
//    (a card shows its state and duration above its title) piece by piece; text under
//    aria-hidden or hidden does not count.
// 2. The Content-Security-Policy: no page logs a violation, nor any error but the browser's own
//    line for an HTTP error the app expects (401 signed out, 404 sharing off).
//
// Pages: the library, an item playing, the admin page with a user's editor open and a Delete
// button armed, the tokens page with a token created, the friends page (sharing off), a route
// that does not exist; signed out: the login and setup pages. Screenshots land in
// web/test-results/a11y/.
import { test } from '@playwright/test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  cleanup, launchBrowser, libraryDirs, login, openPage, setup, startServer, stopServer, stopwatch, testClip,
} from './harness.mjs';

test.describe.configure({ mode: 'serial' });

const CLIP_NAME = 'Short Film (2022).mp4';
const PROFILE_YAML = `segmentSeconds: 2
preset: ultrafast
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: 240p, height: 240, videoBitrateKbps: 300}
`;
const MEMBER = { username: 'ann', password: 'ann has a long password' };

const log = stopwatch();
let tmp;
let results;
let server;
let context;

test.beforeAll(async () => {
  ({ tmp, results } = setup('a11y'));
  const { media, data, profile } = libraryDirs(tmp, PROFILE_YAML);
  await testClip(join(media, CLIP_NAME));
  server = await startServer({ media, data, profile, logPath: join(results, 'server.log') });
  await server.json('/api/v1/users', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: MEMBER.username, password: MEMBER.password, role: 'member', libraries: ['*'] }),
  });
  log(`server healthy at ${server.base}`);
  context = await launchBrowser(tmp);
  await login(context, server);
});

test.afterAll(async () => {
  if (context) await context.close().catch(() => {});
  await stopServer(server);
  cleanup(tmp);
});

const ROLES = new Set(['link', 'button', 'slider', 'menuitem', 'tab', 'switch']);

/**
 * The controls of `page` whose accessible name misses a piece of their visible text:
 * ["button \"Copy\": misses \"Copied\"", …].
 */
async function labelInName(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const problems = [];
    let checked = 0;
    for (const node of nodes) {
      const role = node.role && node.role.value;
      if (node.ignored || !ROLES.has(role) || !node.backendDOMNodeId) continue;
      const name = String((node.name && node.name.value) || '');
      const { object } = await cdp.send('DOM.resolveNode', { backendNodeId: node.backendDOMNodeId });
      if (!object || !object.objectId) continue;
      const { result } = await cdp.send('Runtime.callFunctionOn', {
        objectId: object.objectId,
        returnByValue: true,
        functionDeclaration: `function () {
          if (!(this instanceof Element) || !this.checkVisibility()) return null;
          const pieces = [];
          const walk = (node) => {
            if (node.nodeType === Node.TEXT_NODE) {
              const text = node.data.replace(/\\s+/g, ' ').trim();
              if (text) pieces.push(text);
              return;
            }
            if (node.nodeType !== Node.ELEMENT_NODE) return;
            if (node.getAttribute('aria-hidden') === 'true' || node.hidden || !node.checkVisibility()) return;
            for (const child of node.childNodes) walk(child);
          };
          for (const child of this.childNodes) walk(child);
          return { pieces, what: this.tagName.toLowerCase() + (this.id ? '#' + this.id : '') };
        }`,
      });
      await cdp.send('Runtime.releaseObject', { objectId: object.objectId }).catch(() => {});
      const found = result && result.value;
      if (!found) continue;
      checked += 1;
      const have = name.replace(/\s+/g, ' ').toLowerCase();
      const whole = found.pieces.join(' ').toLowerCase();
      const missing = role === 'button' && found.pieces.length && !have.includes(whole)
        ? [found.pieces.join(' ')]
        : found.pieces.filter((piece) => !have.includes(piece.toLowerCase()));
      if (missing.length) problems.push(`${role} ${found.what} "${name}": misses ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
    }
    return { problems, checked };
  } finally {
    await cdp.detach().catch(() => {});
  }
}

/** Opens `route`, waits for `ready` (a selector or a function), checks the page; `then(page)` before checking. */
async function visit(target, route, ready, { then, shot } = {}) {
  const { page, problems } = await openPage(target);
  await page.goto(`${server.base}/#${route}`);
  if (typeof ready === 'function') await page.waitForFunction(ready, null, { timeout: 15_000 });
  else await page.locator(ready).first().waitFor({ state: 'visible', timeout: 15_000 });
  if (then) await then(page);
  await page.waitForTimeout(300); // let what the last step started settle
  const { problems: names, checked } = await labelInName(page);
  if (shot) {
    await page.evaluate(() => window.scrollTo(0, 0)); // (the sticky top bar stays at the top of a full-page shot)
    await page.screenshot({ path: join(results, shot), fullPage: true });
  }
  log(`${route}: ${checked} controls checked`);
  await page.close();
  return { route, names, checked, problems };
}

test('every control names what it shows, and no page breaks the CSP', async () => {

  test.setTimeout(240_000);
  const item = await server.waitForItem(CLIP_NAME, 120_000);
  const pages = [];
  pages.push(await visit(context, '/', `.card[data-id="${item.id}"]`, { shot: 'library.png' }));
  pages.push(await visit(context, `/items/${item.id}`, () => window.manofwarPlayer && window.manofwarPlayer.hls, {
    then: (page) => page.locator('#quality option').nth(1).waitFor({ state: 'attached', timeout: 15_000 }),
    shot: 'item.png',
  }));
  pages.push(await visit(context, '/admin', `#users-rows tr[data-user="${MEMBER.username}"]`, {
    then: async (page) => {
      await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] [data-action="edit"]`).click();
      await page.locator('#user-editor').waitFor({ state: 'visible', timeout: 5_000 });
      await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] [data-action="delete"]`).click();
      await page.locator(`#users-rows tr[data-user="${MEMBER.username}"] [data-action="delete"]`, { hasText: 'Really delete?' })
        .waitFor({ timeout: 5_000 });
    },
    shot: 'admin.png',
  }));
  pages.push(await visit(context, '/tokens', '#new-token-form', {
    then: async (page) => {
      await page.fill('#new-token-label', 'a11y');
      await page.click('#new-token-submit');
      await page.locator('#new-token-value').waitFor({ timeout: 10_000 });
    },
    shot: 'tokens.png',
  }));
  pages.push(await visit(context, '/friends', '#p2p-off', { shot: 'friends.png' }));
  pages.push(await visit(context, '/no/such/page', 'text=Page not found'));

  const signedOut = await launchBrowser(join(tmp, 'signed-out'));
  try {
    pages.push(await visit(signedOut, '/login', '#login-form', { shot: 'login.png' }));
    pages.push(await visit(signedOut, '/setup?token=nothing', '#setup-message', { shot: 'setup.png' }));
  } finally {
    await signedOut.close().catch(() => {});
  }

  const names = pages.flatMap((p) => p.names.map((n) => `#${p.route}: ${n}`));
  assert.deepEqual(names, [], 'controls whose accessible name does not hold their visible text');
  assert.ok(pages.every((p) => p.checked > 0), `controls checked: ${pages.map((p) => `${p.route} ${p.checked}`).join(', ')}`);
  const csp = pages.flatMap((p) => p.problems.consoleErrors.filter((e) => /Content Security Policy/i.test(e)).map((e) => `#${p.route}: ${e}`));
  assert.deepEqual(csp, [], 'CSP violations');
  const expected = /^Failed to load resource: the server responded with a status of (401|404)\b/;
  const errors = pages.flatMap((p) => [...p.problems.pageErrors, ...p.problems.consoleErrors.filter((e) => !expected.test(e))]
    .map((e) => `#${p.route}: ${e}`));
  assert.deepEqual(errors, [], 'page and console errors');
});
