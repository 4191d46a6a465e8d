// Playwright's test runner for the specs in e2e/ (the page sweep: every page at phone, desktop and
// TV sizes, screenshots and axe-core; the TV remote): Debian's Chromium, never a downloaded
// browser; the real `manofwar` binary (MANOFWAR_BIN), started by each spec (e2e/server.ts).
// Screenshots land in test-results/screens/, Playwright's own output in test-results/playwright/.
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './test/harness.mjs';

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/playwright',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 120_000,
  reporter: [['list']],
  use: {
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
});
