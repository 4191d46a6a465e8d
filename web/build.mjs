// Builds web/dist/: the files the `manofwar` binary serves at /<filename>.
// No bundler on purpose: the app is hand-written ES modules (src/*.js, app.js the entry), a
// page and a stylesheet, plus hls.js; and what installs it as an app: the web app manifest and
// its icons (the PNGs are rendered from icon.svg by icons.mjs, and committed).
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');

const modules = readdirSync(join(root, 'src')).filter((name) => name.endsWith('.js')).sort();
const files = [
  ['src/index.html', 'index.html'],
  ['src/style.css', 'style.css'],
  ...['manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png', 'icon-maskable-512.png', 'apple-touch-icon.png']
    .map((name) => [`src/${name}`, name]),
  ...modules.map((name) => [`src/${name}`, name]),
  ['node_modules/hls.js/dist/hls.min.js', 'hls.min.js'],
];

for (const [from] of files) {
  try {
    statSync(join(root, from));
  } catch {
    console.error(`build: missing ${from}${from.startsWith('node_modules') ? ' (run `npm ci` first)' : ''}`);
    process.exit(1);
  }
}
// Replace each file atomically and never leave dist/ empty: a `cargo build` embedding it may be
// reading it at the same moment.
mkdirSync(dist, { recursive: true });
for (const [from, to] of files) {
  copyFileSync(join(root, from), join(dist, `.${to}.tmp`));
  renameSync(join(dist, `.${to}.tmp`), join(dist, to));
}
const wanted = new Set(files.map(([, to]) => to));
for (const name of readdirSync(dist)) {
  if (!wanted.has(name)) rmSync(join(dist, name), { recursive: true, force: true });
}
console.log(`build: ${files.length} files -> ${dist}`);
