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

/** Whether the 10-foot layout is on, and how much larger the page is drawn. */
const layout = (page: Page) => page.evaluate(() => ({
  tv: document.documentElement.classList.contains('tv'),
  zoom: Number(getComputedStyle(document.body).zoom),
}));

test('a TV\'s own browser gets the TV layout in a small window; the user menu and ?tv= choose it', async ({ browser }) => {
  // A Samsung TV's browser: a 1080p screen that its browser reports as a 960×540 window.
  const small = { width: 960, height: 540 };
  const tizen = 'Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) 85.0.4183.93/6.5 TV Safari/537.36';
  const tv = await library.signedIn(browser, small, { userAgent: tizen });
  const onTv = await tv.newPage();
  await onTv.goto(`${library.base}/#/`);
  await onTv.locator('#library-grid .card').first().waitFor();
  // Not zoomed further (its browser draws each pixel twice already), and nothing off the side.
  expect(await layout(onTv)).toEqual({ tv: true, zoom: 1 });
  expect(await onTv.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await onTv.screenshot({ path: join(SCREENS, 'tv-browser-960.png') });
  await tv.close();

  // A laptop's window of the same size: not a TV, until the user says so in the user menu.
  const laptop = await library.signedIn(browser, small);
  const page = await laptop.newPage();
  await page.goto(`${library.base}/#/`);
  await page.locator('#library-grid .card').first().waitFor();
  expect(await layout(page)).toEqual({ tv: false, zoom: 1 });
  await page.click('#user-menu-button');
  await page.selectOption('#tv-layout', 'on');
  expect(await layout(page)).toEqual({ tv: true, zoom: 1 });
  await page.reload();
  await page.locator('#library-grid .card').first().waitFor();
  expect(await layout(page), 'the choice is kept').toEqual({ tv: true, zoom: 1 });
  await page.setViewportSize({ width: 1600, height: 900 });
  await expect.poll(() => layout(page), { message: 'on, below 1800 px: drawn as if 1370 px wide' }).toEqual({ tv: true, zoom: 1.17 });
  await page.setViewportSize(small);

  // ?tv=off in the address (typed once on a TV without a mouse): off, kept, and gone from the address.
  await page.goto(`${library.base}/?tv=off#/`);
  await page.locator('#library-grid .card').first().waitFor();
  expect(await layout(page)).toEqual({ tv: false, zoom: 1 });
  expect(new URL(page.url()).search).toBe('');
  await page.setViewportSize(SIZES.tv);
  await page.waitForFunction(() => document.documentElement.style.getPropertyValue('--tv-zoom') === '1.4');
  expect(await layout(page), '"Off" holds on a wide window too').toEqual({ tv: false, zoom: 1 });
  await page.goto(`${library.base}/?tv=auto#/`);
  await page.locator('#library-grid .card').first().waitFor();
  expect(await layout(page), 'auto: on, for a window 1920 px wide').toEqual({ tv: true, zoom: 1.4 });
  await laptop.close();
});
