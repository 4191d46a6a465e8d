// Builds web/dist/, which the `manofwar` binary serves (debug builds read it at run time, release
// builds embed it): index.html, public/ as it is (the web app manifest and its icons, at /), and
// the app under /assets/ with content hashes in the file names. hls.js is its own chunk, which
// only the player imports (dynamically): the library page never loads it.
//
// `npm run dev`: Vite's dev server, with the API and media of a running server (MANOFWAR_URL,
// default http://127.0.0.1:8080) behind the same origin.
import { readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig, loadEnv, type Plugin } from 'vite';

/** Every file under `dir`, as paths relative to it ('/'-separated); none if it does not exist. */
function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
  } catch {
    return [];
  }
}

/**
 * dist/ is never empty, nor index.html half written: a `cargo build` may be embedding it, or a
 * debug binary serving it, at that very moment. So the build does not empty it first: it writes
 * the new (hashed) files next to the old ones, index.html last and atomically (a temporary file
 * renamed over it), and then removes what the build no longer has.
 */
function replaceDist(): Plugin {
  let outDir = '';
  let publicDir = '';
  let html: { fileName: string; source: string | Uint8Array } | null = null;
  const written = new Set<string>();
  return {
    name: 'manofwar:replace-dist',
    apply: 'build',
    enforce: 'post', // after Vite's own plugins: index.html is in the bundle by then
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
      publicDir = config.publicDir;
    },
    generateBundle(_options, bundle) {
      const page = bundle['index.html'];
      if (page && page.type === 'asset') {
        html = { fileName: page.fileName, source: page.source };
        delete bundle['index.html'];
      }
    },
    writeBundle(_options, bundle) {
      for (const name of Object.keys(bundle)) written.add(name);
    },
    closeBundle() {
      if (html) {
        const target = join(outDir, html.fileName);
        writeFileSync(`${target}.tmp`, html.source);
        renameSync(`${target}.tmp`, target);
        written.add(html.fileName);
      }
      const keep = new Set([...written, ...(publicDir ? filesUnder(publicDir) : [])]);
      for (const file of filesUnder(outDir)) {
        if (!keep.has(file)) rmSync(join(outDir, file), { force: true });
      }
      // And the folders that are empty now, the deepest first.
      const folders = readdirSync(outDir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => join(entry.parentPath, entry.name))
        .sort((a, b) => b.length - a.length);
      for (const folder of folders) {
        if (readdirSync(folder).length === 0) rmSync(folder, { recursive: true, force: true });
      }
    },
  };
}

export default defineConfig(({ mode }) => {
  const server = loadEnv(mode, '.', 'MANOFWAR_').MANOFWAR_URL || 'http://127.0.0.1:8080';
  const proxy = Object.fromEntries(['/api/', '/s/', '/hls/', '/peers/', '/healthz'].map((path) => [path, server]));
  return {
    plugins: [svelte(), replaceDist()],
    server: { proxy },
    build: {
      outDir: 'dist',
      emptyOutDir: false, // replaceDist() removes what is stale, afterwards
      target: 'es2022',
      // Every browser the app supports has <link rel="modulepreload">.
      modulePreload: { polyfill: false },
      // hls.js (~175 KB gzipped) is a chunk of its own: no warning for it.
      chunkSizeWarningLimit: 600,
    },
  };
});
