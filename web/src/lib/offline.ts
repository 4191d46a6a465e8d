// Downloads for offline viewing: one rendition of an item, with its audio and subtitles, kept in
// the browser (Cache Storage), and the service worker (public/sw.js) that serves them, and the
// app itself, without the server.
//
// A download fetches the item's one-rendition master playlist (`hls_url` + `?rendition=NAME`,
// see node/src/hls.rs `one_rendition`), then each playlist it names (the video rendition, its
// audio, its subtitles), then every file those name (init segments, media segments, WebVTT),
// and the poster and scrubbing thumbnails. Each answer goes into the cache `mow-dl-{item}` under
// the exact URL the player asks for: the signed URLs work without a cookie and resolve below the
// master's, so the player plays the stored master (`meta.master`) as it would online, and the
// service worker answers from the cache. What a download is (title, rendition, bytes, files
// done of total, state, the item's detail JSON for the player) is a JSON entry of the cache
// `mow-downloads` (`/__mow/downloads/{item}`), which the service worker reads too.
//
// Interrupted (the network or the server goes away), a download is paused ("paused — will
// resume when back online"): it resumes on the `online` event, when /healthz answers again
// (asked every few seconds: a server that stopped does not make the browser offline), with the
// Resume button, or when the app next starts; what is stored is not fetched again. A signed URL
// that expired (403) is renewed from the API, and what is stored moves to the new URLs. One tab
// at a time downloads an item (a Web Lock); the pages of every tab hear of changes
// (BroadcastChannel).

import { api, messageOf, session, statusOf, whenServerUp } from './api';
import { titleOf } from './format';
import type { ItemDetail } from './types';

export type DownloadState = 'queued' | 'downloading' | 'paused' | 'done' | 'failed';

export interface DownloadMeta {
  /** The item's id. */
  id: string;
  title: string;
  /** The rendition's name (its folder: `720p`) and size. */
  rendition: string;
  resolution: string | null;
  /** The one-rendition master playlist's URL: what the player plays. */
  master: string;
  /** The item as GET /api/v1/items/{id} answered (the player's input), `hls_url` = `master`. */
  item: ItemDetail;
  /** Who downloaded it (null: a server without accounts). */
  user: string | null;
  bytes: number;
  /** Files stored, of `total` (0 until the playlists are read). */
  done: number;
  total: number;
  state: DownloadState;
  /** Why it is paused or failed. */
  error: string | null;
  /** When it was started, and finished (ms since the epoch). */
  savedAt: number;
  finishedAt: number | null;
  /** Where the viewer stopped watching it (seconds), and when; kept here for offline viewing. */
  position?: { position_s: number; updated_ms: number } | null;
}

export const PAUSED_TEXT = 'paused — will resume when back online';

/** How far a download is, in whole percent of its files (100 once done). */
export const downloadPercent = (d: DownloadMeta): number =>
  d.state === 'done' ? 100 : d.total ? Math.floor((d.done / d.total) * 100) : 0;

const META_CACHE = 'mow-downloads';
const MEDIA_PREFIX = 'mow-dl-';
const metaKey = (id: string) => `/__mow/downloads/${encodeURIComponent(id)}`;
const mediaCache = (id: string) => `${MEDIA_PREFIX}${id}`;
/** Files fetched at once. */
const PARALLEL = 3;
/** Between two writes of a download's progress. */
const SAVE_EVERY_MS = 400;
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 15000;
/** The header of a stored answer that says its size (the body's, decompressed). */
const SIZE_HEADER = 'x-mow-bytes';

/** Cache Storage and service workers: a secure context (HTTPS, or localhost / 127.0.0.1). */
export const offlineSupported = (): boolean =>
  typeof window !== 'undefined' && window.isSecureContext && 'caches' in window && 'serviceWorker' in navigator;

// ------------------------------------------------------------------ service worker

/** Registers /sw.js (scope /): the app opens without the server, and downloads play. */
export async function registerServiceWorker(): Promise<void> {
  if (!offlineSupported() || !import.meta.env.PROD) return;
  try {
    await navigator.serviceWorker.register('/sw.js', { scope: '/' });
  } catch (err) {
    console.warn(`service worker: ${messageOf(err)}`);
  }
}

/** Tells the service worker that the finished downloads changed. */
async function tellWorker(): Promise<void> {
  if (!offlineSupported()) return;
  const registration = await navigator.serviceWorker.getRegistration('/').catch(() => undefined);
  for (const worker of [registration?.active, navigator.serviceWorker.controller]) {
    worker?.postMessage({ type: 'downloads-changed' });
  }
}

/** Whether the app itself is stored (the page and the hls.js chunk): it opens without the server. */
export async function shellStored(): Promise<boolean> {
  if (!offlineSupported()) return false;
  const cache = await caches.open('mow-shell-v1');
  const keys = (await cache.keys()).map((r) => new URL(r.url).pathname);
  return keys.includes('/') && keys.some((p) => /^\/assets\/hls-[\w-]+\.js$/.test(p));
}

// ------------------------------------------------------------------ metadata and events

type Listener = (id: string, meta: DownloadMeta | null) => void;
const listeners = new Set<Listener>();
const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel('mow-downloads') : null;

/** Calls `fn(id, meta)` whenever a download changes (here or in another tab); meta null: deleted. */
export function onDownloadsChange(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(id: string, meta: DownloadMeta | null, broadcast = true) {
  for (const fn of listeners) fn(id, meta);
  if (broadcast) channel?.postMessage({ id, meta });
}

channel?.addEventListener('message', (event: MessageEvent<{ id: string; meta: DownloadMeta | null }>) => {
  const { id, meta } = event.data || {};
  if (!id) return;
  // Deleted in another tab: stop fetching it here.
  if (!meta) running.get(id)?.controller.abort();
  emit(id, meta, false);
});

async function readMeta(id: string): Promise<DownloadMeta | null> {
  const cache = await caches.open(META_CACHE);
  const answer = await cache.match(metaKey(id));
  return answer ? ((await answer.json()) as DownloadMeta) : null;
}

async function writeMeta(meta: DownloadMeta): Promise<void> {
  const cache = await caches.open(META_CACHE);
  await cache.put(metaKey(meta.id), new Response(JSON.stringify(meta), { headers: { 'Content-Type': 'application/json' } }));
}

/** Every download of this browser, the newest first (the signed-in user's, when someone is). */
export async function listDownloads(): Promise<DownloadMeta[]> {
  if (!offlineSupported()) return [];
  const cache = await caches.open(META_CACHE);
  const all: DownloadMeta[] = [];
  for (const request of await cache.keys()) {
    const answer = await cache.match(request);
    const meta = answer ? ((await answer.json().catch(() => null)) as DownloadMeta | null) : null;
    if (meta && meta.id) all.push(meta);
  }
  const me = session.user?.name;
  return all.filter((d) => !me || !d.user || d.user === me).sort((a, b) => b.savedAt - a.savedAt);
}

export async function getDownload(id: string | number): Promise<DownloadMeta | null> {
  if (!offlineSupported()) return null;
  return readMeta(String(id));
}

/** Keeps where the viewer is in a download (for watching it offline later). */
export async function savePosition(id: string, position_s: number): Promise<void> {
  const meta = await readMeta(id);
  if (!meta) return;
  meta.position = { position_s, updated_ms: Date.now() };
  const live = running.get(id);
  if (live) live.meta.position = meta.position;
  await writeMeta(meta);
}

// ------------------------------------------------------------------ storage

export interface StorageInfo {
  usage: number | null;
  quota: number | null;
  /** The browser keeps the downloads under storage pressure (navigator.storage.persist()). */
  persisted: boolean | null;
}

export async function storageInfo(): Promise<StorageInfo> {
  const storage = navigator.storage;
  const estimate = storage?.estimate ? await storage.estimate().catch(() => null) : null;
  const persisted = storage?.persisted ? await storage.persisted().catch(() => null) : null;
  return { usage: estimate?.usage ?? null, quota: estimate?.quota ?? null, persisted };
}

/** Asks the browser to keep our storage (it may say no, or ask the user). */
export async function requestPersistence(): Promise<boolean> {
  try {
    return Boolean(await navigator.storage?.persist?.());
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------ playlists

/** The URIs a playlist names (segments, init segments, renditions, variants), resolved. */
export function playlistUris(text: string, base: string): string[] {
  const out: string[] = [];
  const add = (uri: string) => {
    const url = new URL(uri, base).href;
    if (!out.includes(url)) out.push(url);
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#')) {
      // #EXT-X-MAP (init segments) and #EXT-X-MEDIA (audio, subtitles); not I-frame playlists.
      if (/^#EXT-X-(MAP|MEDIA):/.test(line)) {
        const m = line.match(/URI="([^"]+)"/);
        if (m) add(m[1]);
      }
      continue;
    }
    add(line);
  }
  return out;
}

/** The one-rendition master playlist of `hlsUrl` (the API's `hls_url`), as an absolute URL. */
export function renditionMaster(hlsUrl: string, rendition: string): string {
  const url = new URL(hlsUrl, location.href);
  url.searchParams.set('rendition', rendition);
  return url.href;
}

/** The thumbnails' sprite sheets a thumbnails VTT names. */
function spriteUris(text: string, base: string): string[] {
  const out = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const m = line.trim().match(/^([^#\s]+\.(?:jpg|jpeg|png|webp))(#.*)?$/i);
    if (m) out.add(new URL(m[1], base).href);
  }
  return [...out];
}

// ------------------------------------------------------------------ downloading

class HttpFailure extends Error {
  readonly status: number;
  constructor(status: number, url: string) {
    super(`HTTP ${status} for ${new URL(url).pathname.split('/').slice(-2).join('/')}`);
    this.status = status;
  }
}

/** No byte for this long: the connection is dead (a Wi-Fi gone quiet), the file is tried again later. */
const STALL_MS = 30_000;

/**
 * GET `url` into a Blob; aborted by `signal`, or when no byte arrives for STALL_MS (a
 * TimeoutError). `ok: false` with the status for an HTTP error.
 */
async function fetchFile(url: string, signal: AbortSignal): Promise<{ ok: boolean; status: number; type: string; body: Blob }> {
  const own = new AbortController();
  const stop = () => own.abort();
  signal.addEventListener('abort', stop, { once: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const watch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      own.abort();
    }, STALL_MS);
  };
  try {
    watch();
    const answer = await fetch(url, { signal: own.signal, credentials: 'same-origin' });
    const type = answer.headers.get('Content-Type') || '';
    if (!answer.ok || !answer.body) return { ok: answer.ok, status: answer.status, type, body: await answer.blob() };
    const reader = answer.body.getReader();
    const parts: Uint8Array[] = [];
    for (;;) {
      watch();
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    return { ok: true, status: answer.status, type, body: new Blob(parts as BlobPart[]) };
  } catch (err) {
    if (stalled) throw new DOMException(`no data for ${STALL_MS / 1000} s`, 'TimeoutError');
    throw err;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);
  }
}

/** The download of an item in progress in this tab. */
interface Running {
  controller: AbortController;
  meta: DownloadMeta;
  finished: Promise<void>;
}
const running = new Map<string, Running>();
let watching = false; // waiting for the server, to resume paused downloads

/** Starts downloading `rendition` of `item` (the API's detail answer, with its `hls_url`). */
export async function startDownload(item: ItemDetail, rendition: string): Promise<void> {
  if (!offlineSupported()) throw new Error('Downloads need a secure connection (HTTPS) and a recent browser.');
  // A plain copy (a page's item may be a reactive proxy, which cannot be stored or posted).
  item = JSON.parse(JSON.stringify(item)) as ItemDetail;
  if (!item.hls_url) throw new Error('This item has nothing to play yet.');
  const id = String(item.id);
  const existing = await readMeta(id);
  if (existing && existing.state !== 'failed') {
    // One download per item: the same again resumes it.
    if (existing.rendition === rendition) return resumeDownload(id);
    await deleteDownload(id);
  } else if (existing) {
    await deleteDownload(id);
  }
  const variant = item.renditions.find((r) => r.name === rendition);
  const master = renditionMaster(item.hls_url, rendition);
  const meta: DownloadMeta = {
    id,
    title: titleOf(item),
    rendition,
    resolution: variant?.width && variant.height ? `${variant.width}×${variant.height}` : null,
    master,
    item: { ...item, hls_url: master, renditions: item.renditions.filter((r) => r.name === rendition) },
    user: session.user?.name ?? null,
    bytes: 0,
    done: 0,
    total: 0,
    state: 'queued',
    error: null,
    savedAt: Date.now(),
    finishedAt: null,
    position: item.resume ? { position_s: item.resume.position_s, updated_ms: item.resume.updated_ms } : null,
  };
  await writeMeta(meta);
  emit(id, meta);
  void requestPersistence();
  void run(id);
}

/** Resumes a paused (or failed) download; nothing if it is running or done. */
export async function resumeDownload(id: string | number): Promise<void> {
  const key = String(id);
  const meta = await readMeta(key);
  if (!meta || meta.state === 'done') return;
  void run(key);
}

/** Deletes a download (stopping it first): its files and its entry. */
export async function deleteDownload(id: string | number): Promise<void> {
  const key = String(id);
  const live = running.get(key);
  if (live) {
    live.controller.abort();
    await live.finished.catch(() => {});
  }
  await caches.delete(mediaCache(key));
  await (await caches.open(META_CACHE)).delete(metaKey(key));
  emit(key, null);
  await tellWorker();
}

/** Resumes the downloads that were under way when the app was closed, or paused. */
export async function resumeInterrupted(): Promise<void> {
  if (!offlineSupported()) return;
  for (const meta of await listDownloads()) {
    if (meta.state === 'queued' || meta.state === 'downloading' || meta.state === 'paused') void run(meta.id);
  }
}

/** Runs the download of `id` in this tab, unless another tab (or this one) runs it. */
function run(id: string): Promise<void> {
  if (running.has(id)) return running.get(id)!.finished;
  const controller = new AbortController();
  const entry = { controller, meta: null as unknown as DownloadMeta, finished: Promise.resolve() };
  entry.finished = (async () => {
    const locks = navigator.locks;
    if (locks) {
      await locks.request(`mow-download-${id}`, { ifAvailable: true }, async (lock) => {
        if (lock) await fetchAll(id, entry);
      });
    } else {
      await fetchAll(id, entry);
    }
  })().finally(() => running.delete(id));
  running.set(id, entry as Running);
  return entry.finished;
}

async function fetchAll(id: string, entry: { controller: AbortController; meta: DownloadMeta }): Promise<void> {
  const { signal } = entry.controller;
  const first = await readMeta(id);
  if (!first || first.state === 'done') return;
  const meta = first;
  entry.meta = meta;
  meta.state = 'downloading';
  meta.error = null;
  let lastSave = 0;
  let saving: Promise<void> = Promise.resolve();
  /** Writes the progress (at most every SAVE_EVERY_MS unless `now`); false once deleted. */
  const save = async (now = false): Promise<boolean> => {
    if (!now && Date.now() - lastSave < SAVE_EVERY_MS) {
      emit(id, { ...meta }, false);
      return true;
    }
    lastSave = Date.now();
    await saving;
    // Deleted meanwhile (another tab): stop.
    if (!(await (await caches.open(META_CACHE)).match(metaKey(id)))) return false;
    saving = writeMeta({ ...meta });
    await saving;
    emit(id, { ...meta });
    return true;
  };
  await save(true);
  const cache = await caches.open(mediaCache(id));
  // This try's own stop: a file that fails stops the others (deleting the download stops all).
  let attempt = new AbortController();
  signal.addEventListener('abort', () => attempt.abort(), { once: true });

  /** A file: the stored copy, or fetched and stored. Resolves with its text when `text`. */
  async function get(url: string, { text = false, optional = false } = {}): Promise<string | null> {
    if (attempt.signal.aborted) throw new DOMException('stopped', 'AbortError');
    let stored = await cache.match(url);
    if (!stored) {
      const fetched = await fetchFile(url, attempt.signal);
      if (!fetched.ok) {
        if (optional) return null;
        throw new HttpFailure(fetched.status, url);
      }
      const headers = new Headers({ 'Content-Type': fetched.type || 'application/octet-stream' });
      headers.set(SIZE_HEADER, String(fetched.body.size));
      stored = new Response(fetched.body, { status: 200, headers });
      if (attempt.signal.aborted) throw new DOMException('stopped', 'AbortError');
      await cache.put(url, stored.clone());
      meta.bytes += fetched.body.size;
    }
    return text ? stored.text() : null;
  }

  /** How many bytes the stored copy of `url` has (0: none). */
  async function storedSize(url: string): Promise<number> {
    const stored = await cache.match(url);
    if (!stored) return 0;
    return Number(stored.headers.get(SIZE_HEADER)) || (await stored.blob()).size;
  }

  try {
    for (let renewed = false; ; renewed = true) {
      try {
        // The playlists (they tell how many files there are), then the rest.
        const master = (await get(meta.master, { text: true })) || '';
        const playlists = playlistUris(master, meta.master).filter((u) => /\.m3u8(\?|$)/.test(u));
        if (!playlists.length) throw new Error('the master playlist names no rendition');
        const files: string[] = [];
        for (const url of playlists) {
          const text = (await get(url, { text: true })) || '';
          if (!/#EXT-X-ENDLIST/.test(text)) {
            throw new Error('it is still being transcoded: download it once it is ready');
          }
          for (const file of playlistUris(text, url)) if (!files.includes(file)) files.push(file);
        }
        const extras: string[] = [];
        if (meta.item.poster_url) extras.push(new URL(meta.item.poster_url, location.href).href);
        const thumbs = meta.item.thumbnails_url ? new URL(meta.item.thumbnails_url, location.href).href : null;
        const required = [meta.master, ...playlists, ...files];
        meta.total = required.length + extras.length + (thumbs ? 1 : 0);
        // What is stored already (a resumed download): counted, not fetched again.
        let done = 0;
        let bytes = 0;
        for (const url of [...required, ...extras, ...(thumbs ? [thumbs] : [])]) {
          const size = await storedSize(url);
          if (size || (await cache.match(url))) {
            done += 1;
            bytes += size;
          }
        }
        meta.done = done;
        meta.bytes = bytes;
        if (!(await save(true))) return;

        const queue = [...files, ...extras];
        let deleted = false;
        let failure: unknown = null;
        const worker = async () => {
          for (let url = queue.shift(); url && !deleted && !failure; url = queue.shift()) {
            try {
              if (await cache.match(url)) continue;
              await get(url, { optional: extras.includes(url) });
            } catch (err) {
              // The first failure stops the others; theirs (aborted) are not the reason.
              if (!failure) failure = err;
              attempt.abort();
              return;
            }
            meta.done += 1;
            if (!(await save())) {
              deleted = true;
              entry.controller.abort();
            }
          }
        };
        // Every worker has stopped before this goes on: none writes after a pause or a retry.
        await Promise.allSettled(Array.from({ length: PARALLEL }, worker));
        if (failure) throw failure;
        if (deleted) return;
        if (thumbs && !(await cache.match(thumbs))) {
          const vtt = await get(thumbs, { text: true, optional: true });
          if (vtt !== null) {
            meta.done += 1;
            for (const sheet of spriteUris(vtt, thumbs)) {
              meta.total += 1;
              await get(sheet, { optional: true });
              meta.done += 1;
            }
          } else {
            meta.total -= 1;
          }
        } else if (thumbs) {
          // Resumed: the sheets of the stored thumbnails.
          const vtt = (await get(thumbs, { text: true })) || '';
          for (const sheet of spriteUris(vtt, thumbs)) {
            meta.total += 1;
            if (!(await cache.match(sheet))) await get(sheet, { optional: true });
            meta.done += 1;
          }
        }
        break;
      } catch (err) {
        // An expired or revoked link: ask the API for a fresh one, once, and move what is stored.
        if (err instanceof HttpFailure && err.status === 403 && !renewed && !signal.aborted && (await renew(meta, cache))) {
          attempt = new AbortController();
          continue;
        }
        throw err;
      }
    }
    meta.done = meta.total;
    meta.state = 'done';
    meta.error = null;
    meta.finishedAt = Date.now();
    if (await save(true)) await tellWorker();
  } catch (err) {
    if (signal.aborted) {
      // Deleted: no entry to update; and nothing left behind by a write that was under way.
      if (!(await readMeta(id))) await caches.delete(mediaCache(id));
      return;
    }
    const status = err instanceof HttpFailure ? err.status : statusOf(err);
    const stalled = err instanceof DOMException && (err.name === 'AbortError' || err.name === 'TimeoutError');
    if (err instanceof TypeError || stalled || (status !== undefined && status >= 500)) {
      // The network or the server went away.
      meta.state = 'paused';
      meta.error = PAUSED_TEXT;
      await save(true);
      watchForServer();
      return;
    }
    meta.state = 'failed';
    if (err instanceof DOMException && err.name === 'QuotaExceededError') {
      meta.error = 'Not enough storage space in this browser: delete other downloads, then resume.';
    } else if (status === 404) {
      meta.error = 'This item (or this rendition) is no longer on the server.';
    } else if (status === 403) {
      meta.error = 'The server refused the download (signed out, or access removed): sign in, then resume.';
    } else {
      meta.error = `Download failed: ${messageOf(err)}`;
    }
    await save(true);
  }
}

/**
 * A fresh signed URL for the item (GET /api/v1/items/{id}): the stored files move to it (the
 * cache keys are the URLs the player asks for) and the download goes on. False when there is
 * none, or it is the same.
 */
async function renew(meta: DownloadMeta, cache: Cache): Promise<boolean> {
  let fresh: ItemDetail;
  try {
    fresh = await api<ItemDetail>(`/api/v1/items/${encodeURIComponent(meta.id)}`, { auth: false });
  } catch {
    return false;
  }
  if (!fresh.hls_url) return false;
  const master = renditionMaster(fresh.hls_url, meta.rendition);
  const prefix = (url: string) => url.slice(0, url.indexOf('/', url.indexOf('/s/') + 3) + 1);
  const [from, to] = [prefix(meta.master), prefix(master)];
  if (!meta.master.includes('/s/') || !master.includes('/s/') || from === to) return false;
  for (const request of await cache.keys()) {
    if (!request.url.startsWith(from)) continue;
    const answer = await cache.match(request);
    if (answer) await cache.put(to + request.url.slice(from.length), answer);
    await cache.delete(request);
  }
  meta.master = master;
  meta.item = {
    ...fresh,
    hls_url: master,
    renditions: fresh.renditions.filter((r) => r.name === meta.rendition),
  };
  return true;
}

/**
 * Resumes the paused downloads when the server can be reached again: on the browser's `online`
 * event, and by asking /healthz every few seconds (more slowly as it goes on).
 */
function watchForServer() {
  if (watching) return;
  watching = true;
  const resume = async () => {
    stop();
    window.removeEventListener('online', resume);
    watching = false;
    for (const meta of await listDownloads()) if (meta.state === 'paused') void run(meta.id);
  };
  const stop = whenServerUp(() => void resume(), { first: RETRY_MIN_MS, grow: 1.5, max: RETRY_MAX_MS });
  window.addEventListener('online', resume);
}
