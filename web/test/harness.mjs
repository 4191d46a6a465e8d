// Shared pieces of the browser tests: the real `manofwar up` binary, generated media, headless
// Chromium driven by playwright-core, and an hls.js event recorder installed in the page.
//
// Environment:
//   MANOFWAR_BIN     the binary (default ../target/debug/manofwar relative to web/)
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium)
//   MANOFWAR_KEEP=1  keep the temporary media/data folders for inspection
//
// Accounts: `startServer` creates the admin (ADMIN) in the data folder before `manofwar up`
// starts, and an API token that `server.json()` sends; `login(page, server)` signs a browser
// context in. `admin: false` starts with no account (the setup test, and `manofwar serve`,
// which has no accounts).
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = resolve(WEB_DIR, process.env.MANOFWAR_BIN || '../target/debug/manofwar');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The account the tests sign in with. */
export const ADMIN = { username: 'admin', password: 'correct horse battery staple' };

/** A stopwatch for progress lines: `[12.3s] message`. */
export function stopwatch() {
  const started = Date.now();
  return (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);
}

/** Checks the prerequisites, and gives a fresh temporary folder and results folder. */
export function setup(name) {
  assert.ok(existsSync(BIN), `manofwar binary not found at ${BIN}: build it (cargo build -p manofwar-node) or set MANOFWAR_BIN`);
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  assert.ok(existsSync(join(WEB_DIR, 'dist', 'index.html')), 'web/dist is missing: run `npm run build` first');
  const results = join(WEB_DIR, 'test-results', name);
  rmSync(results, { recursive: true, force: true });
  mkdirSync(results, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), `manofwar-web-${name}-`));
  return { results, tmp };
}

// Ports are taken below the kernel's ephemeral range (32768 and up), from a counter of this
// process: a port the kernel hands out with `:0` is free again once probed, and an outgoing
// connection (the browser's) may take it before the server binds it, or while a server that
// restarts on its port is down.
const PORTS = { first: 20_000, count: 12_000 };
let nextPort = (process.pid % 1_000) * 12;

/** Resolves whether `port` can be listened on now. */
function canListen(port) {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

export async function freePort() {
  for (let tries = 0; tries < PORTS.count; tries += 1) {
    const port = PORTS.first + (nextPort++ % PORTS.count);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${PORTS.first}..${PORTS.first + PORTS.count}`);
}

export async function ffmpeg(...args) {
  await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args.flat()]);
}

/** An H.264 + AAC test clip (testsrc2 and a 440 Hz tone, faststart MP4) at `path`. */
export function testClip(path, { seconds = 4, size = '640x360', preset = 'veryfast', gop = 24 } = {}) {
  return ffmpeg(
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=24`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', preset, '-g', String(gop), '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '64k', '-ac', '2', '-movflags', '+faststart', path,
  );
}

/** A transcode profile with one small rendition, quick to make on 2 cores. */
export function smallProfile({ segmentSeconds = 2, preset = 'ultrafast', height = 180, kbps = 200 } = {}) {
  return `segmentSeconds: ${segmentSeconds}
preset: ${preset}
audioBitrateKbps: 64
sourceRung: false
renditions:
  - {name: ${height}p, height: ${height}, videoBitrateKbps: ${kbps}}
`;
}

/** A library's folders under `tmp`: `media/` and `data/` (made) and `profile.yaml` (written). */
export function libraryDirs(tmp, profileYaml) {
  const dirs = { media: join(tmp, 'media'), data: join(tmp, 'data'), profile: join(tmp, 'profile.yaml') };
  mkdirSync(dirs.media);
  mkdirSync(dirs.data);
  writeFileSync(dirs.profile, profileYaml);
  return dirs;
}

/** Runs the binary with `input` on stdin; resolves with its stdout (rejects with its stderr). */
export function runBin(args, input = '') {
  return new Promise((res, rej) => {
    const child = spawn(BIN, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('error', rej);
    child.on('exit', (code) => (code === 0 ? res(stdout)
      : rej(new Error(`manofwar ${args.join(' ')}: exit ${code}\n${stderr.trim()}`))));
    child.stdin.end(input);
  });
}

/** Adds a user to a data folder (`manofwar user add`, the password on stdin). */
export async function addUser(data, { username, password }, role = 'admin', libraries = []) {
  mkdirSync(data, { recursive: true });
  await runBin(['user', 'add', username, '--data', data, '--role', role, ...libraries.flatMap((l) => ['--library', l])], `${password}\n`);
}

/** An API token for a user of a data folder (`manofwar token create`: its first line). */
export async function createToken(data, user, label = 'browser tests') {
  const stdout = await runBin(['token', 'create', '--data', data, '--user', user, '--label', label]);
  const token = stdout.split('\n')[0].trim();
  assert.match(token, /^\S+$/, `manofwar token create printed ${JSON.stringify(stdout)}`);
  return token;
}

/**
 * Starts `manofwar up`; resolves once /healthz answers. With `admin` (default: for `up`), the
 * data folder gets the ADMIN account first and `server.token` an API token for it. `port`: the
 * port to listen on (default: a free one), for when something else must know it beforehand.
 */
export async function startServer({
  media, data, profile, logPath, role = ['up'], args = [], admin = ['up', 'hub'].includes(role[0]), port: wanted = 0,
}) {
  let token = null;
  if (admin) {
    await addUser(data, ADMIN, 'admin');
    token = await createToken(data, ADMIN.username);
  }
  const port = wanted || await freePort();
  const log = createWriteStream(logPath);
  let tailText = '';
  let output = '';
  // (`manofwar hub` has neither media nor profile.)
  const medias = (Array.isArray(media) ? media : media ? [media] : []).flatMap((m) => ['--media', m]);
  const profiles = profile ? ['--profile', profile] : [];
  const child = spawn(BIN, [
    ...role, ...medias, '--data', data, '--listen', `127.0.0.1:${port}`, ...profiles, ...args,
  ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const onData = (chunk) => {
    log.write(chunk);
    output += chunk.toString();
    tailText = (tailText + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const server = {
    child,
    base: `http://127.0.0.1:${port}`,
    logPath,
    token,
    exited: null,
    /** Everything the server has written to stdout and stderr so far. */
    output: () => output,
    tail: () => tailText.trim().split('\n').slice(-25).join('\n'),
    context() {
      const status = server.exited ? `server exited: ${JSON.stringify(server.exited)}\n` : '';
      return `\n${status}--- last lines of ${logPath} ---\n${server.tail()}`;
    },
    /** An API call as the admin (Authorization: Bearer, when the server has accounts). */
    async json(path, options = {}) {
      const headers = { ...(options.headers || {}) };
      if (server.token && !headers.Authorization) headers.Authorization = `Bearer ${server.token}`;
      const res = await fetch(server.base + path, { ...options, headers });
      if (!res.ok) throw new Error(`${(options && options.method) || 'GET'} ${path}: HTTP ${res.status} ${await res.text().catch(() => '')}`);
      const text = await res.text();
      return text ? JSON.parse(text) : null;
    },
    /** Polls `check` until it returns something truthy; errors with `fatal` set end the wait. */
    async waitFor(what, timeoutMs, check, intervalMs = 250) {
      const deadline = Date.now() + timeoutMs;
      let last;
      for (;;) {
        if (server.exited) throw new Error(`${what}: the server is gone${server.context()}`);
        try {
          const value = await check();
          if (value) return value;
        } catch (err) {
          if (err.fatal) throw err;
          last = err;
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}${server.context()}`);
        }
        await sleep(intervalMs);
      }
    },
    /** The catalog entry whose path ends with `name`, once it is in one of `states`. */
    async waitForItem(name, timeoutMs, states = ['ready']) {
      return server.waitFor(`"${name}" to be ${states.join(' or ')}`, timeoutMs, async () => {
        const { items } = await server.json('/api/v1/items');
        const it = items.find((i) => String(i.path).endsWith(name));
        if (it && it.state === 'failed' && !states.includes('failed')) {
          const err = new Error(`transcode of ${name} failed: ${it.error}${server.context()}`);
          err.fatal = true;
          throw err;
        }
        return it && states.includes(it.state) ? it : null;
      }, 200);
    },
  };
  child.on('exit', (code, signal) => {
    server.exited = { code, signal };
    log.end();
  });
  child.on('error', (err) => {
    server.exited = { error: err.message };
  });
  await server.waitFor('/healthz', 30_000, async () => (await fetch(`${server.base}/healthz`)).ok);
  return server;
}

/**
 * Signs a page's browser context in (POST /api/v1/auth/login: the session cookie lands in the
 * context's cookie jar, which all its pages share); `target` is a page or a context. Resolves
 * with the answer ({user, csrf}).
 */
export async function login(target, server, credentials = ADMIN) {
  const res = await target.request.post(`${server.base}/api/v1/auth/login`, { data: credentials });
  assert.equal(res.status(), 200, `POST /api/v1/auth/login as ${credentials.username}: ${res.status()} ${await res.text()}`);
  return res.json();
}

/**
 * `startServer(options)` that can run again after a stop: on the same port and data folder,
 * with the same admin token (made once, on the first start). Each start logs to its own file
 * in `logDir`.
 */
export function restartable({ logDir, ...options }) {
  let port = 0;
  let token = null;
  return async () => {
    const server = await startServer({ ...options, logPath: join(logDir, `server-${Date.now()}.log`), port, admin: !port });
    if (port) server.token = token;
    port = Number(new URL(server.base).port);
    token = server.token;
    return server;
  };
}

export async function stopServer(server) {
  if (!server || server.exited) return;
  server.child.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (!server.exited && Date.now() < deadline) await sleep(50);
  if (!server.exited) server.child.kill('SIGKILL');
}

export function cleanup(tmp) {
  if (tmp && process.env.MANOFWAR_KEEP !== '1') rmSync(tmp, { recursive: true, force: true });
  else if (tmp) console.log(`kept ${tmp}`);
}

export async function launchBrowser(tmp) {
  return chromium.launchPersistentContext(join(tmp, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
  });
}

/** A page with the player recorder installed and page / console / HTTP errors collected. */
export async function openPage(context, { reuseFirst = false } = {}) {
  const page = (reuseFirst && context.pages()[0]) || (await context.newPage());
  const problems = { pageErrors: [], consoleErrors: [], failedRequests: [] };
  page.on('pageerror', (err) => problems.pageErrors.push(err.stack || err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.consoleErrors.push(`${msg.text()} ${msg.location().url || ''}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.failedRequests.push(`${res.status()} ${res.url()}`);
  });
  await page.addInitScript(instrumentPlayer);
  return { page, problems };
}

/** The video element's state, for assertion messages. */
export async function videoState(page) {
  return page.evaluate(() => {
    const v = window.manofwarPlayer && window.manofwarPlayer.video;
    if (!v) return null;
    const b = v.buffered;
    return {
      currentTime: v.currentTime, duration: v.duration, ended: v.ended, paused: v.paused,
      readyState: v.readyState, error: v.error && { code: v.error.code, message: v.error.message },
      buffered: Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]),
    };
  });
}

// Runs in the page before any of its scripts: records what the player does as soon as the app
// exposes it (window.manofwarPlayer = { hls, video }). Must be self-contained.
function instrumentPlayer() {
  const log = {
    errors: [], switched: [], fragsLoaded: [], pageEvents: [], ended: false, playing: false, levels: [],
    audioSwitched: [], subtitleSwitched: [], playlists: [], manifests: 0,
  };
  window.__mow = log;
  let player;
  Object.defineProperty(window, 'manofwarPlayer', {
    configurable: true,
    get() { return player; },
    set(value) {
      player = value;
      if (!value || !value.hls || value.hls.__instrumented) return;
      const { hls, video } = value;
      const { Events } = window.Hls;
      const now = () => Math.round(performance.now());
      hls.__instrumented = true;
      hls.on(Events.ERROR, (_e, d) => log.errors.push({
        type: d.type, details: d.details, fatal: d.fatal, reason: d.reason,
        error: d.error ? String(d.error.message || d.error) : undefined,
        url: (d.frag && d.frag.url) || (d.context && d.context.url) || d.url,
        level: d.frag ? d.frag.level : d.level,
        response: d.response ? { code: d.response.code, text: d.response.text } : undefined,
        mimeType: d.mimeType, t: video.currentTime,
      }));
      hls.on(Events.MANIFEST_PARSED, (_e, d) => {
        log.manifests += 1;
        log.manifestParsedAt = now();
        log.levels = d.levels.map((l) => ({
          width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecs, url: l.url && l.url[0],
        }));
      });
      hls.on(Events.LEVEL_SWITCHED, (_e, d) => log.switched.push({ level: d.level, t: video.currentTime }));
      const onPlaylist = (kind) => (_e, d) => log.playlists.push({
        kind, id: d.id !== undefined ? d.id : d.level, live: d.details.live, type: d.details.type,
        fragments: d.details.fragments.length, edge: d.details.edge, at: now(),
      });
      hls.on(Events.LEVEL_LOADED, onPlaylist('main'));
      hls.on(Events.AUDIO_TRACK_LOADED, onPlaylist('audio'));
      hls.on(Events.SUBTITLE_TRACK_LOADED, onPlaylist('subtitle'));
      hls.on(Events.FRAG_LOADED, (_e, d) => log.fragsLoaded.push({
        type: d.frag.type, level: d.frag.level, sn: d.frag.sn, start: d.frag.start, duration: d.frag.duration,
        url: d.frag.url, t: video.currentTime, at: now(),
      }));
      hls.on(Events.AUDIO_TRACK_SWITCHED, (_e, d) => log.audioSwitched.push({ id: d.id, t: video.currentTime }));
      hls.on(Events.SUBTITLE_TRACK_SWITCH, (_e, d) => log.subtitleSwitched.push({ id: d.id, t: video.currentTime }));
      for (const name of ['playing', 'waiting', 'stalled', 'ended', 'error', 'seeking', 'seeked']) {
        video.addEventListener(name, () => {
          log.pageEvents.push({ name, t: video.currentTime, at: now() });
          if (name === 'ended') log.ended = true;
          if (name === 'playing') log.playing = true;
        });
      }
    },
  });
}
