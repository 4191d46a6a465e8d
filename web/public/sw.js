// manofwar's service worker (served at /sw.js, scope /; registered by src/lib/offline.ts).
// Plain JavaScript, not bundled: it must keep its name, and the server sends it with no-cache.
//
// 1. The app shell, so the app opens without the server: the page (/) and the /assets/* files it
//    loads, the lazily loaded chunks (hls.js, the QR code) included, and the icons and manifest.
//    The page is network first (updates arrive as soon as the server answers; after 5 s without
//    an answer, or none at all, the cached copy); each page fetched from the network refreshes
//    the cache (what it names, and the chunks those files import), and drops stale assets.
//    Assets: a page that came from the network loads them from the network as before (the
//    browser's own cache applies); a page that came from the cache loads them from the cache.
// 2. Downloads (src/lib/offline.ts): each finished download is a cache `mow-dl-{item}` holding
//    every file of one rendition under the exact URL the player asks for (signed /s/… URLs).
//    Requests for an item that has a finished download are answered from that cache (the
//    network for what is not in it); nothing else of /s/ and /hls/ is touched.
// API calls (/api/…, /healthz, /peers/…) always go to the network.

const SHELL = 'mow-shell-v1';
const META = 'mow-downloads';
const MEDIA_PREFIX = 'mow-dl-';
const PUBLIC_FILES = ['/manifest.webmanifest', '/icon.svg', '/apple-touch-icon.png', '/icon-192.png', '/icon-512.png'];
const NETWORK_WAIT_MS = 5000;
const REFRESH_EVERY_MS = 60_000;

/** Pages (client ids) that came from the network: their assets come from the network too. */
const onlineClients = new Set();
/** Item ids with a finished download (null until read from the caches). */
let downloaded = null;
let loadingDownloads = null;
let lastRefresh = 0;

/** The item ids of finished downloads, from the downloads' metadata (see offline.ts). */
function loadDownloads() {
  if (!loadingDownloads) {
    loadingDownloads = (async () => {
      const ids = new Set();
      try {
        const names = new Set(await caches.keys());
        const meta = await caches.open(META);
        for (const request of await meta.keys()) {
          const answer = await meta.match(request);
          const d = answer ? await answer.json().catch(() => null) : null;
          if (d && d.state === 'done' && names.has(MEDIA_PREFIX + d.id)) ids.add(String(d.id));
        }
      } catch (err) {
        console.warn('sw: reading the downloads', err);
      }
      downloaded = ids;
      loadingDownloads = null;
      return ids;
    })();
  }
  return loadingDownloads;
}
void loadDownloads();

/** The item a media URL belongs to: /s/SIG/hls/ID/…, /hls/ID/…, /s/SIG/api/v1/items/ID/poster. */
function mediaItem(path) {
  const m = path.match(/^\/(?:s\/[^/]+\/)?hls\/(\d+)\//) || path.match(/^\/s\/[^/]+\/api\/v1\/items\/(\d+)\/poster$/);
  return m ? m[1] : null;
}

async function fromDownload(request, id) {
  const cache = await caches.open(MEDIA_PREFIX + id);
  return (await cache.match(request, { ignoreVary: true })) || fetch(request);
}

/** The names of the /assets/ files that `text` (the page, or a script) refers to. */
function assetsIn(text) {
  const found = new Set();
  for (const m of text.matchAll(/["'`(]\/assets\/([\w.-]+\.(?:js|css|woff2?|svg|png))/g)) found.add(`/assets/${m[1]}`);
  // Chunks imported relative to the script that imports them: import(`./hls-AbC123.js`).
  for (const m of text.matchAll(/["'`]\.\/([\w.-]+-[\w-]{6,}\.(?:js|css))["'`]/g)) found.add(`/assets/${m[1]}`);
  return found;
}

/**
 * Caches the page `html` (already fetched) and every asset it needs, following scripts' imports;
 * removes the assets no longer needed. Files the cache has are not fetched again (their names
 * change with their content).
 */
async function refreshShell(html) {
  lastRefresh = Date.now();
  const cache = await caches.open(SHELL);
  const wanted = new Set([...assetsIn(html)]);
  const seen = new Set();
  const queue = [...wanted];
  while (queue.length) {
    const path = queue.shift();
    if (seen.has(path)) continue;
    seen.add(path);
    let answer = await cache.match(path);
    if (!answer) {
      try {
        const fresh = await fetch(path, { cache: 'no-cache' });
        if (!fresh.ok) {
          wanted.delete(path);
          continue;
        }
        await cache.put(path, fresh.clone());
        answer = fresh;
      } catch {
        continue; // offline again: next time
      }
    }
    if (path.endsWith('.js')) {
      for (const next of assetsIn(await answer.text())) {
        wanted.add(next);
        if (!seen.has(next)) queue.push(next);
      }
    }
  }
  for (const path of PUBLIC_FILES) {
    if (await cache.match(path)) continue;
    try {
      const fresh = await fetch(path);
      if (fresh.ok) await cache.put(path, fresh);
    } catch {
      // next time
    }
  }
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (path.startsWith('/assets/') && !wanted.has(path)) await cache.delete(request);
  }
}

/** Fetches the page; the cached copy when the server does not answer (in 5 s). */
async function page(event) {
  const cache = await caches.open(SHELL);
  const network = fetch(event.request).then(async (answer) => {
    if (answer.ok && answer.type === 'basic') {
      const html = await answer.clone().text();
      await cache.put('/', answer.clone());
      if (Date.now() - lastRefresh > REFRESH_EVERY_MS) event.waitUntil(refreshShell(html).catch((err) => console.warn('sw: caching the app', err)));
    }
    return answer;
  });
  network.catch(() => {}); // when the copy answered first
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, NETWORK_WAIT_MS, null); });
  try {
    const answer = await Promise.race([network, late]);
    if (answer) {
      if (event.resultingClientId) onlineClients.add(event.resultingClientId);
      return answer;
    }
  } catch {
    // No server: the copy.
  } finally {
    clearTimeout(timer);
  }
  const copy = await cache.match('/');
  if (copy) return copy;
  return network; // nothing cached: whatever the network says, at last
}

async function shellFile(request) {
  const cache = await caches.open(SHELL);
  const path = new URL(request.url).pathname;
  const copy = await cache.match(path);
  if (copy) return copy;
  const answer = await fetch(request);
  if (answer.ok && path.startsWith('/assets/')) await cache.put(path, answer.clone());
  return answer;
}

/**
 * The API, the health check and friends' media go straight to the network without waking this
 * worker (Chromium's static routing, where there is one). Besides saving a hop, it matters for
 * the `keepalive` PUT that saves the playback position as a page unloads: routed through a
 * worker, Chromium dropped it about one reload in two (web/test/resume.test.mjs).
 */
const NETWORK_ONLY = ['/api/*', '/healthz', '/peers/*', '/metrics'];

self.addEventListener('install', (event) => {
  self.skipWaiting();
  if (event.addRoutes && typeof URLPattern !== 'undefined') {
    const routes = NETWORK_ONLY.map((pathname) => ({ condition: { urlPattern: new URLPattern({ pathname }) }, source: 'network' }));
    event.waitUntil(event.addRoutes(routes).catch((err) => console.warn('sw: static routes', err)));
  }
  event.waitUntil((async () => {
    try {
      const answer = await fetch('/', { cache: 'no-cache' });
      if (!answer.ok) return;
      const cache = await caches.open(SHELL);
      await cache.put('/', answer.clone());
      await refreshShell(await answer.text());
    } catch (err) {
      console.warn('sw: caching the app', err);
    }
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith('mow-shell-') && name !== SHELL) await caches.delete(name);
    }
    // The pages open now came from the network: their assets keep coming from there.
    for (const client of await self.clients.matchAll({ type: 'window' })) onlineClients.add(client.id);
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  const what = event.data && event.data.type;
  // offline.ts: a download finished or was deleted.
  if (what === 'downloads-changed') {
    downloaded = null;
    event.waitUntil(loadDownloads());
  } else if (what === 'refresh-shell') {
    event.waitUntil(fetch('/', { cache: 'no-cache' })
      .then(async (answer) => {
        if (!answer.ok) return;
        await (await caches.open(SHELL)).put('/', answer.clone());
        await refreshShell(await answer.text());
      })
      .catch(() => {}));
  }
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (request.mode === 'navigate') {
    if (path === '/' || path === '/index.html') event.respondWith(page(event));
    return;
  }
  if (path.startsWith('/assets/') || PUBLIC_FILES.includes(path)) {
    if (!onlineClients.has(event.clientId)) event.respondWith(shellFile(request));
    return;
  }
  const id = mediaItem(path);
  if (id === null) return;
  if (downloaded && !downloaded.has(id)) return;
  event.respondWith((async () => {
    const ids = downloaded || (await loadDownloads());
    return ids.has(id) ? fromDownload(request, id) : fetch(request);
  })());
});
