// Builds web/dist/: the files the `manofwar` binary serves at /<filename>.
// No bundler on purpose: the app is three hand-written files plus hls.js.
import { copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');

const files = [
  ['src/index.html', 'index.html'],
  ['src/app.js', 'app.js'],
  ['src/style.css', 'style.css'],
  ['node_modules/hls.js/dist/hls.min.js', 'hls.min.js'],
];

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
for (const [from, to] of files) {
  const src = join(root, from);
  try {
    statSync(src);
  } catch {
    console.error(`build: missing ${from}${from.startsWith('node_modules') ? ' (run `npm ci` first)' : ''}`);
    process.exit(1);
  }
  copyFileSync(src, join(dist, to));
}
console.log(`build: ${files.length} files -> ${dist}`);
