// The TV: at 1920×1080, with nothing but a remote's keys (arrows and Enter; no mouse, no
// focus() from the test), from the library to an item and on to playing it. Every step the
// focus is visible.
import { expect, test, type Page } from '@playwright/test';
import { join } from 'node:path';
import { SCREENS, SIZES, startLibrary, type Library } from './library';

let library: Library;
test.beforeAll(async () => {
  library = await startLibrary('tv');
});
test.afterAll(async () => {
  await library?.stop();
});

/** What has the focus: its id, classes and name, and whether a ring shows around it. */
const focused = (page: Page) => page.evaluate(() => {
  const el = document.activeElement as HTMLElement | null;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ringed = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2)
    || /rgb/.test(getComputedStyle(el.querySelector('.card-poster') || el).boxShadow);
  return { id: el.id, className: String(el.className), label: el.getAttribute('aria-label') || el.textContent?.trim() || '', ringed };
});

/** Presses `key` until `done(focus)` (at most `max` times); the focus after each press must show. */
async function pressUntil(page: Page, key: string, done: (f: NonNullable<Awaited<ReturnType<typeof focused>>>) => boolean, max = 12) {
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(key);
    const f = await focused(page);
    if (f) expect(f.ringed, `no visible focus on ${JSON.stringify(f)}`).toBe(true);
    if (f && done(f)) return f;
  }
  throw new Error(`${key} × ${max} never reached it; focus on ${JSON.stringify(await focused(page))}`);
}

test('arrow keys and Enter: from the library to a playing video', async ({ browser }) => {
  const context = await library.signedIn(browser, SIZES.tv);
  const page = await context.newPage();
  await page.goto(`${library.base}/#/`);
  await page.locator('#library-grid .card').first().waitFor();

  const card = await pressUntil(page, 'ArrowDown', (f) => /\bcard\b/.test(f.className));
  await pressUntil(page, 'ArrowRight', (f) => /\bcard\b/.test(f.className) && f.label !== card.label, 4);
  await page.screenshot({ path: join(SCREENS, 'tv-remote-library.png') });
  await page.keyboard.press('Enter');
  await page.waitForURL(/#\/items\/\d+$/);
  await page.locator('#play-toggle').waitFor();

  await pressUntil(page, 'ArrowDown', (f) => f.id === 'play-toggle');
  await page.screenshot({ path: join(SCREENS, 'tv-remote-item.png') });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => {
    const v = document.querySelector('video');
    return v && !v.paused && v.currentTime > 0.5;
  });
  expect(await page.getAttribute('#play-toggle', 'aria-label')).toBe('Pause');
  await context.close();
});
