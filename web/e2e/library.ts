// A library for the specs: the real `manofwar up` on two films and a show of two episodes (one
// tiny clip copied under four names), signed-in contexts, and where screenshots go.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, BrowserContextOptions } from '@playwright/test';
import { WEB_DIR, cleanup, libraryDirs, login, setup, smallProfile, startServer, stopServer, testClip } from '../test/harness.mjs';

export const SIZES = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1366, height: 900 },
  tv: { width: 1920, height: 1080 },
} as const;
export type Size = keyof typeof SIZES;

export const SCREENS = join(WEB_DIR, 'test-results', 'screens');

const PROFILE_YAML = smallProfile({ segmentSeconds: 1 });
export const FILM = 'Harbour Lights (2023).mp4';
const NAMES = [FILM, 'Aurora (2019).mp4', 'Sea Shanties S01E01.mp4', 'Sea Shanties S01E02.mp4'];

export interface Library {
  base: string;
  /** Item ids by file name. */
  ids: Record<string, number>;
  signedIn(browser: Browser, viewport: { width: number; height: number }, options?: BrowserContextOptions): Promise<BrowserContext>;
  stop(): Promise<void>;
}

export async function startLibrary(name: string): Promise<Library> {
  const { tmp, results } = setup(name);
  mkdirSync(SCREENS, { recursive: true });
  const dirs = libraryDirs(tmp, PROFILE_YAML);
  const clip = join(tmp, 'clip.mp4');
  await testClip(clip, { seconds: 4, size: '320x180', preset: 'ultrafast' });
  for (const file of NAMES) copyFileSync(clip, join(dirs.media, file));
  const server = await startServer({ media: dirs.media, data: dirs.data, profile: dirs.profile, logPath: join(results, 'server.log') });
  const ids: Record<string, number> = {};
  for (const file of NAMES) ids[file] = (await server.waitForItem(file, 120_000)).id;
  return {
    base: server.base,
    ids,
    async signedIn(browser, viewport, options = {}) {
      const context = await browser.newContext({ ...options, viewport });
      await login(context, server);
      return context;
    },
    async stop() {
      await stopServer(server);
      cleanup(tmp);
    },
  };
}
