// Every page at phone (390×844), desktop (1366×900) and TV (1920×1080) sizes: a full-page
// screenshot (test-results/screens/PAGE-SIZE.png, also attached to the report), no sideways
// scrolling, and axe-core with no serious or critical violation.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { join } from 'node:path';
import { FILM, SCREENS, SIZES, startLibrary, type Library, type Size } from './library';

test.describe.configure({ mode: 'serial' });

let library: Library;
test.beforeAll(async () => {
  library = await startLibrary('pages');
});
test.afterAll(async () => {
  await library?.stop();
});

/** Each page: where it is, and what shows once it is loaded. */
const PAGES: { name: string; path: () => string; ready: string; signedIn?: false }[] = [
  { name: 'login', path: () => '#/login', ready: '#login-form', signedIn: false },
  { name: 'library', path: () => '#/', ready: '#library-grid .card' },
  { name: 'search', path: () => '#/?q=zeppelin', ready: '#library-filter-empty h2' },
  { name: 'show', path: () => '#/shows/media/Sea%20Shanties', ready: '.season .card' },
  { name: 'item', path: () => `#/items/${library.ids[FILM]}`, ready: '#play-toggle' },
  { name: 'admin', path: () => '#/admin', ready: '#libraries-table tbody tr' },
  { name: 'tokens', path: () => '#/tokens', ready: '#new-token-label' },
  { name: 'friends', path: () => '#/friends', ready: '#p2p-off' },
  { name: 'downloads', path: () => '#/downloads', ready: '#downloads-empty h2' },
  { name: 'not-found', path: () => '#/nowhere', ready: '.empty h2' },
];

for (const page of PAGES) {
  for (const size of Object.keys(SIZES) as Size[]) {
    test(`${page.name} at ${size} size`, async ({ browser }, testInfo) => {
      const viewport = SIZES[size];
      const context = page.signedIn === false ? await browser.newContext({ viewport }) : await library.signedIn(browser, viewport);
      const tab = await context.newPage();
      const cspErrors: string[] = [];
      tab.on('console', (msg) => {
        if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) cspErrors.push(msg.text());
      });
      await tab.goto(`${library.base}/${page.path()}`);
      await tab.locator(page.ready).first().waitFor();
      await tab.waitForLoadState('networkidle');
      const file = join(SCREENS, `${page.name}-${size}.png`);
      await tab.screenshot({ path: file, fullPage: true });
      await testInfo.attach(`${page.name}-${size}`, { path: file, contentType: 'image/png' });

      const sideways = await tab.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(sideways, 'the page scrolls sideways').toBeLessThanOrEqual(0);
      const { violations } = await new AxeBuilder({ page: tab }).analyze();
      const serious = violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join(' | ')}`);
      expect(serious, 'serious or critical axe-core violations').toEqual([]);
      expect(cspErrors, 'Content Security Policy violations').toEqual([]);
      await context.close();
    });
  }
}
