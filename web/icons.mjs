// Renders the app's PNG icons from public/icon.svg with headless Chromium (playwright-core, as the
// tests use), into public/. Run it after changing icon.svg, and commit the PNGs: `npm run build`
// only copies them, so building needs no browser.
//
//   node icons.mjs          (CHROMIUM_PATH: the browser, default /usr/bin/chromium)
//
// icon-192.png, icon-512.png: the mark as it is, rounded corners and all (transparent outside).
// icon-maskable-512.png, apple-touch-icon.png (180 px): full-bleed squares, corners filled: the
// platform cuts its own shape (a circle, a squircle), and iOS fills transparency with black. The
// play triangle stays well inside the maskable safe zone (the centre circle, 80 % across).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'public');
const svg = readFileSync(join(dir, 'icon.svg'), 'utf8');
const fullBleed = svg.replace(/ rx="[^"]*"/, '');
if (fullBleed === svg) throw new Error('icons: no rx="…" on the rect of public/icon.svg: update icons.mjs');

const icons = [
  ['icon-192.png', 192, svg],
  ['icon-512.png', 512, svg],
  ['icon-maskable-512.png', 512, fullBleed],
  ['apple-touch-icon.png', 180, fullBleed],
];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  for (const [name, px, markup] of icons) {
    const page = await browser.newPage({ viewport: { width: px, height: px } });
    await page.setContent(`<!doctype html><style>html,body{margin:0;background:transparent}svg{display:block;width:${px}px;height:${px}px}</style>${markup}`);
    await page.screenshot({ path: join(dir, name), omitBackground: true });
    await page.close();
    console.log(`icons: public/${name} (${px}x${px})`);
  }
} finally {
  await browser.close();
}
