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

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: { Accept: 'application/json', ...(options.headers || {}) },
  });
  const text = await res.text();
  if (!res.ok) {
    let message = text.trim();
    try {
      const body = JSON.parse(text);
      message = body.error || body.message || message;
    } catch {
      // Plain-text error body: use it as is.
    }
    throw new HttpError(res.status, message || `${res.status} ${res.statusText}`);
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
  const bar = h('div', { class: 'progress-bar', style: `width:${pct}%` });
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct }, bar);
}

export function setProgress(el, progress) {
  const pct = percentOf(progress);
  el.setAttribute('aria-valuenow', pct);
  el.firstChild.style.width = `${pct}%`;
}

export function posterUrl(id, bust) {
  return `/api/v1/items/${encodeURIComponent(id)}/poster${bust ? `?v=${bust}` : ''}`;
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
  img.src = posterUrl(item.id);
  // Poster generation usually finishes with the transcode: ask again once it is ready.
  let lastState = item.state;
  wrap.refresh = (state) => {
    if (state === 'ready' && lastState !== 'ready' && wrap.classList.contains('is-missing')) {
      img.src = posterUrl(item.id, Date.now());
    }
    lastState = state;
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
