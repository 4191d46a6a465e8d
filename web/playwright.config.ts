// Playwright's test runner for every browser test: the specs in e2e/ (the page sweep: every page
// at phone, desktop and TV sizes, screenshots and axe-core; the TV remote) and the end-to-end
// stories in test/*.test.mjs (sign-in, playing, resume, offline, friends, admin…). Debian's
// Chromium, never a downloaded browser; the real `manofwar` binary (MANOFWAR_BIN), started by
// each file. One file at a time, its tests in order (they share its server). Screenshots land in
// test-results/screens/ and test-results/NAME/, Playwright's own output in test-results/playwright/.
import { defineConfig } from '@playwright/test';
import { CHROMIUM, CHROMIUM_ARGS } from './test/harness.mjs';

export default defineConfig({
  testDir: '.',
  testMatch: ['e2e/**/*.spec.ts', 'test/**/*.test.mjs'],
  outputDir: 'test-results/playwright',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  // A test that waits longer says so (test.setTimeout); a file's beforeAll transcodes its clips.
  timeout: 300_000,
  reporter: [['list']],
  use: {
    headless: true,
    launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS },
  },
});
