// Shared pieces of the web app: a tiny DOM builder, the JSON API client, formatting, badges,
// progress bars and posters.

export const POLL_MS = 2000;
export const FAST_POLL_MS = 1000;
export const IDLE_POLL_MS = 10000;
export const ERROR_RETRY_MS = 5000;
export const app = document.getElementById('app');
export const topbarStatus = document.getElementById('topbar-status');

// ---------------------------------------------------------------- helpers

/** Tiny DOM builder: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A "Copy" button for a read-only `input`: copies its value, or selects it for Ctrl+C. */
export function copyButton(input, attrs = {}) {
  const button = h('button', { class: 'button button-small', type: 'button', ...attrs }, 'Copy');
  button.addEventListener('click', async () => {
    input.select();
    try {
      await navigator.clipboard.writeText(input.value);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Press Ctrl+C';
    }
  });
  return button;
}

/** A section of the page with a heading, a status line and a body. */
export function panel(id, title, description) {
  const status = h('p', { class: 'panel-status', role: 'status', id: `${id}-status` });
  const body = h('div', { class: 'panel-body' });
  const heading = h('h2', { id: `${id}-heading` }, title);
  const root = h('section', { class: 'panel', id, 'aria-labelledby': `${id}-heading` },
    h('div', { class: 'panel-head' }, heading, description ? h('p', { class: 'panel-sub' }, description) : null),
    status, body);
  const say = (message, bad = false) => {
    status.textContent = message || '';
    status.classList.toggle('is-bad', Boolean(bad));
  };
  return { root, body, say };
}

export class HttpError extends Error {
  constructor(status, message, headers) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

// ---------------------------------------------------------------- the signed-in user

/**
 * Who is signed in: `user` ({name, role, libraries}) and the `csrf` token that every
 * state-changing request carries. `accounts` is false on a server without accounts (`manofwar
 * serve`, behind its cluster's network policy), where nobody signs in.
 */
export const session = { user: null, csrf: null, accounts: true };
const sessionListeners = new Set();

/** Calls `fn` whenever the signed-in user changes (sign in, sign out, session expired). */
export function onSessionChange(fn) {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
}

/** Sets the session from a login / setup / me answer ({user, csrf}), or clears it (null). */
export function setSession(signedIn) {
  session.user = (signedIn && signedIn.user) || null;
  session.csrf = (signedIn && signedIn.csrf) || null;
  for (const fn of sessionListeners) fn(session);
}

export const isAdmin = () => Boolean(session.user && session.user.role === 'admin');

/** The current route, e.g. "/items/12", for coming back to it after signing in. */
export const currentRoute = () => location.hash.replace(/^#/, '') || '/';

/** A route that may be returned to after signing in (never the login or setup page itself). */
export function safeNext(next) {
  const route = String(next || '');
  return route.startsWith('/') && !route.startsWith('//') && !/^\/(login|setup)\b/.test(route) ? route : '/';
}

/** Sends the browser to the login page, to come back to `next` (default: where it is now). */
export function goToLogin(next = currentRoute()) {
  const back = safeNext(next);
  location.hash = back === '/' ? '#/login' : `#/login?next=${encodeURIComponent(back)}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The JSON API client. `json` is sent as the request body; a state-changing request carries
 * the session's CSRF token. A 401 (signed out, or the session expired) clears the session and
 * goes to the login page, to come back here afterwards; pass `{auth: false}` to handle 401s
 * yourself (the login and setup calls do). Errors are `HttpError`s with the server's message.
 */
export async function api(path, options = {}) {
  const { json, auth = true, headers: extra, ...rest } = options;
  const method = String(rest.method || 'GET').toUpperCase();
  const headers = { Accept: 'application/json', ...(extra || {}) };
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    rest.body = JSON.stringify(json);
  }
  if (!SAFE_METHODS.has(method) && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  const res = await fetch(path, { ...rest, method, headers, credentials: 'same-origin' });
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      const body = JSON.parse(text);
      message = body.error || body.message || message;
    } catch {
      // Plain-text error body: use it as is.
    }
    if (res.status === 401 && auth && session.accounts) {
      setSession(null);
      if (!/^\/(login|setup)\b/.test(currentRoute())) goToLogin();
    }
    throw new HttpError(res.status, message || `${res.status} ${res.statusText}`, res.headers);
  }
  return text ? JSON.parse(text) : null;
}

export function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !isFinite(seconds) || seconds < 0) return '';
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

export function formatMbps(bitsPerSecond) {
  if (!bitsPerSecond) return '';
  return bitsPerSecond >= 1e6 ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbps` : `${Math.round(bitsPerSecond / 1e3)} kbps`;
}

export const pad2 = (n) => String(n).padStart(2, '0');

/** "2019", "S01E02", "2019 · S01E02" or "". */
export function subtitleOf(item) {
  const parts = [];
  if (item.season !== null && item.season !== undefined && item.episode !== null && item.episode !== undefined) {
    parts.push(`S${pad2(item.season)}E${pad2(item.episode)}`);
  } else if (item.episode !== null && item.episode !== undefined) {
    parts.push(`E${pad2(item.episode)}`);
  }
  if (item.year) parts.unshift(String(item.year));
  return parts.join(' · ');
}

export function titleOf(item) {
  if (item.title) return item.title;
  const base = String(item.path || `Item ${item.id}`).split('/').pop();
  return base.replace(/\.[^.]+$/, '');
}

export const STATE_LABELS = { pending: 'Queued', transcoding: 'Transcoding', ready: 'Ready', failed: 'Failed' };
export const isBusy = (state) => state === 'pending' || state === 'transcoding';
export const percentOf = (progress) => Math.max(0, Math.min(100, Math.floor((Number(progress) || 0) * 100)));

export function badge(state) {
  return h('span', { class: `badge badge-${state}` }, STATE_LABELS[state] || state);
}

export function progressBar(progress) {
  const pct = percentOf(progress);
  const bar = h('div', { class: 'progress-bar' });
  // Through the CSSOM: the server's Content-Security-Policy refuses style attributes.
  bar.style.width = `${pct}%`;
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct }, bar);
}

export function setProgress(el, progress) {
  const pct = percentOf(progress);
  el.setAttribute('aria-valuenow', pct);
  el.firstChild.style.width = `${pct}%`;
}

/**
 * The item's poster: the API's `poster_url` (signed for the user, so an <img> or a <video
 * poster> needs no cookie); `bust` asks for it again. '' while the API has none.
 */
export function posterUrl(item, bust) {
  const url = (item && item.poster_url) || '';
  if (!url || !bust) return url;
  return `${url}${url.includes('?') ? '&' : '?'}v=${bust}`;
}

/** A poster that falls back to a neutral tile with the title while the image 404s. */
export function poster(item, className) {
  const initial = (titleOf(item).match(/[\p{L}\p{N}]/u) || ['?'])[0].toUpperCase();
  const fallback = h('div', { class: 'poster-fallback', 'aria-hidden': 'true' },
    h('span', { class: 'poster-initial' }, initial),
    h('span', { class: 'poster-title' }, titleOf(item)));
  const img = h('img', { class: 'poster-img', alt: '', loading: 'lazy', decoding: 'async' });
  const wrap = h('div', { class: `${className} poster is-missing` }, fallback, img);
  img.addEventListener('load', () => wrap.classList.remove('is-missing'));
  img.addEventListener('error', () => wrap.classList.add('is-missing'));
  if (posterUrl(item)) img.src = posterUrl(item);
  // Poster generation usually finishes with the transcode: ask again once it is ready (with
  // the fresh item's URL: a signed URL expires).
  let lastState = item.state;
  wrap.refresh = (fresh) => {
    if (fresh.state === 'ready' && lastState !== 'ready' && wrap.classList.contains('is-missing') && posterUrl(fresh)) {
      img.src = posterUrl(fresh, Date.now());
    }
    lastState = fresh.state;
  };
  return wrap;
}

export function setTopbarStatus(items) {
  const busy = items.filter((i) => isBusy(i.state));
  const working = items.find((i) => i.state === 'transcoding');
  topbarStatus.replaceChildren();
  if (!busy.length) return;
  topbarStatus.append(
    h('span', { class: 'spinner', 'aria-hidden': 'true' }),
    working
      ? `Transcoding ${titleOf(working)} · ${percentOf(working.progress)}%${busy.length > 1 ? ` · ${busy.length - 1} queued` : ''}`
      : `${busy.length} queued`,
  );
}
