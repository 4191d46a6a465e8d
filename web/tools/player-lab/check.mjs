// Opens each player's page under manofwar's CSP in Debian's Chromium: CSP violations, console
// errors, whether the controls are laid out (the play button's size) and a screenshot.
import { chromium } from 'playwright-core';
const [port, out] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'] });
for (const [name, ready] of [['mc', 'window.mcLoaded'], ['shaka', 'window.shakaReady']]) {
  const page = await browser.newPage();
  const violations = [];
  const errors = [];
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`.slice(0, 160)));
  });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text().slice(0, 160)); });
  await page.goto(`http://127.0.0.1:${port}/${name}.html`);
  await page.waitForFunction(ready, null, { timeout: 15000 }).catch((e) => errors.push('not ready: ' + e.message.slice(0, 80)));
  await page.waitForTimeout(2500);
  const played = await page.evaluate(() => { const v = document.querySelector('video') || document.querySelector('hls-video'); return v ? v.currentTime : null; });
  const csp = await page.evaluate(() => window.__csp);
  await page.screenshot({ path: `${out}/${name}.png` });
  // Are the controls styled? The play button's size.
  const box = await page.evaluate((n) => {
    const el = n === 'mc' ? document.querySelector('media-play-button') : document.querySelector('.shaka-play-button, .shaka-small-play-button');
    if (!el) return null; const r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)];
  }, name);
  console.log(JSON.stringify({ name, csp: csp.length, cspSamples: [...new Set(csp)].slice(0, 6), errors: errors.slice(0, 4), played, playButton: box }));
  await page.close();
}
await browser.close();
