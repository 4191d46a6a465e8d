// The scrub bar: seeking with thumbnail previews from the item's WebVTT sprite index.

import { h } from './dom';
import { pad2 } from './format';

/** One thumbnail: the sprite sheet's URL and the tile's place in it, for `start`…`end` s. */
export interface ThumbnailCue {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

function parseVttTime(text: string): number {
  const m = String(text).trim().match(/^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$/);
  if (!m) return NaN;
  return (Number(m[1] || 0) * 3600) + (Number(m[2]) * 60) + Number(m[3]) + (Number((m[4] || '0').padEnd(3, '0')) / 1000);
}

/** Parses a thumbnail index: cues whose text is `sheet.jpg#xywh=x,y,w,h`, relative to `base`. */
export function parseThumbnailVtt(text: string, base: URL | string): ThumbnailCue[] {
  const cues: ThumbnailCue[] = [];
  for (const block of String(text).replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
    const lines = block.split('\n').map((l) => l.trim()).filter(Boolean);
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0 || !lines[at + 1]) continue;
    const [from, to] = lines[at].split('-->').map((s) => parseVttTime(s.trim().split(/\s+/)[0]));
    let url: URL;
    try {
      url = new URL(lines[at + 1], base);
    } catch {
      continue;
    }
    const m = url.hash.match(/^#xywh=(\d+),(\d+),(\d+),(\d+)$/);
    if (!m || !isFinite(from)) continue;
    url.hash = '';
    cues.push({ start: from, end: isFinite(to) ? to : from, url: url.href, x: +m[1], y: +m[2], w: +m[3], h: +m[4] });
  }
  return cues.sort((a, b) => a.start - b.start);
}

function formatClock(seconds: number): string {
  if (!isFinite(seconds) || seconds < 0) seconds = 0;
  const total = Math.floor(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = pad2(total % 60);
  return hours > 0 ? `${hours}:${pad2(minutes)}:${secs}` : `${minutes}:${secs}`;
}

/**
 * A seek bar under the video: played / buffered / transcoded ranges, a thumbnail preview and
 * the time on hover, click or drag to seek, arrow keys. The native controls stay as they are.
 */
export interface Scrubber {
  el: HTMLElement;
  setDuration(seconds: number | null | undefined): void;
  /** Seconds playable so far while transcoding; null once everything is there. */
  setAvailable(seconds: number | null | undefined): void;
  setThumbnails(list: ThumbnailCue[]): void;
  destroy(): void;
}

export function createScrubber(video: HTMLVideoElement, { duration }: { duration?: number | null }): Scrubber {
  const available = h('div', { class: 'scrub-available' });
  const buffered = h('div', { class: 'scrub-buffered' });
  const hover = h('div', { class: 'scrub-hover' });
  const played = h('div', { class: 'scrub-played' });
  const handle = h('div', { class: 'scrub-handle' });
  const rail = h('div', { class: 'scrub-rail' }, available, buffered, hover, played, handle);
  const thumb = h('div', { class: 'scrub-thumb', id: 'scrub-thumb', hidden: true });
  const previewTime = h('div', { class: 'scrub-preview-time', id: 'scrub-preview-time' });
  const preview = h('div', { class: 'scrub-preview', id: 'scrub-preview', hidden: true, 'aria-hidden': 'true' }, thumb, previewTime);
  const track = h('div', {
    class: 'scrub-track', id: 'scrub', role: 'slider', tabindex: '0', 'aria-label': 'Seek', 'aria-valuemin': '0',
  }, rail, preview);
  const current = h('span', { class: 'scrub-time', id: 'scrub-current' }, '0:00');
  const total = h('span', { class: 'scrub-time scrub-total', id: 'scrub-total' }, '');
  const el = h('div', { class: 'scrubber' }, current, track, total);

  let knownDuration = Number(duration) || 0;
  let availableEnd: number | null = null; // seconds transcoded so far, while the item is still transcoding
  let cues: ThumbnailCue[] = [];
  let dragging: number | null = null; // seconds under the pointer while dragging
  let frame = 0;
  let hoverX: number | null = null;

  const length = () => Math.max(knownDuration, isFinite(video.duration) ? video.duration : 0);
  const limit = () => (availableEnd === null ? length() : Math.min(length(), availableEnd));
  const pct = (t: number): string => `${Math.max(0, Math.min(100, (t / (length() || 1)) * 100))}%`;

  function thumbnailAt(t: number): ThumbnailCue | null {
    if (!cues.length) return null;
    let lo = 0;
    let hi = cues.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (cues[mid].start <= t) lo = mid;
      else hi = mid - 1;
    }
    return cues[lo];
  }

  function render() {
    const d = length();
    const t = dragging !== null ? dragging : video.currentTime;
    played.style.width = pct(t);
    handle.style.left = pct(t);
    let end = 0;
    const b = video.buffered;
    for (let i = 0; i < b.length; i += 1) {
      if (b.start(i) <= video.currentTime + 0.5 && b.end(i) >= video.currentTime) end = b.end(i);
    }
    buffered.style.width = pct(end);
    available.style.width = availableEnd === null ? '100%' : pct(availableEnd);
    el.classList.toggle('is-partial', availableEnd !== null);
    current.textContent = formatClock(t);
    total.textContent = d ? formatClock(d) : '';
    track.setAttribute('aria-valuemax', String(Math.round(d)));
    track.setAttribute('aria-valuenow', String(Math.round(t)));
    track.setAttribute('aria-valuetext', `${formatClock(t)} of ${formatClock(d)}`);
  }

  function loop() {
    render();
    frame = !video.paused && !video.ended ? requestAnimationFrame(loop) : 0;
  }

  function timeAt(clientX: number): { t: number; x: number; width: number } {
    const rect = track.getBoundingClientRect();
    const ratio = rect.width ? Math.max(0, Math.min(1, (clientX - rect.left) / rect.width)) : 0;
    return { t: ratio * length(), x: ratio * rect.width, width: rect.width };
  }

  function showPreview(clientX: number) {
    const d = length();
    if (!d) return;
    const { t, x, width } = timeAt(clientX);
    hoverX = clientX;
    const cue = thumbnailAt(t);
    const ready = availableEnd === null || t <= availableEnd;
    if (cue && ready) {
      thumb.hidden = false;
      thumb.style.width = `${cue.w}px`;
      thumb.style.height = `${cue.h}px`;
      thumb.style.backgroundImage = `url("${cue.url}")`;
      thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      thumb.dataset.sprite = cue.url;
      thumb.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
    } else {
      thumb.hidden = true;
    }
    previewTime.textContent = ready ? formatClock(t) : `${formatClock(t)} · not transcoded yet`;
    preview.hidden = false;
    hover.style.width = pct(t);
    hover.hidden = false;
    // Keep the bubble inside the bar.
    const half = preview.offsetWidth / 2;
    preview.style.left = `${Math.max(half, Math.min(width - half, x))}px`;
  }

  function hidePreview() {
    if (dragging !== null) return;
    hoverX = null;
    preview.hidden = true;
    hover.hidden = true;
  }

  function seek(t: number) {
    const end = limit();
    const target = Math.max(0, Math.min(t, end > 0.5 ? end - 0.25 : end));
    video.currentTime = target;
    render();
  }

  track.addEventListener('pointermove', (e) => {
    showPreview(e.clientX);
    if (dragging !== null) {
      dragging = timeAt(e.clientX).t;
      render();
    }
  });
  track.addEventListener('pointerleave', hidePreview);
  track.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 || !length()) return;
    e.preventDefault();
    track.focus({ preventScroll: true });
    track.setPointerCapture(e.pointerId);
    dragging = timeAt(e.clientX).t;
    el.classList.add('is-dragging');
    showPreview(e.clientX);
    render();
  });
  const endDrag = (e: PointerEvent) => {
    if (dragging === null) return;
    const t = timeAt(e.clientX).t;
    dragging = null;
    el.classList.remove('is-dragging');
    seek(t);
    if (e.type === 'pointercancel' || !track.matches(':hover')) hidePreview();
  };
  track.addEventListener('pointerup', endDrag);
  track.addEventListener('pointercancel', endDrag);
  track.addEventListener('keydown', (e) => {
    const d = length();
    const steps: Record<string, number> = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5, PageDown: -d / 10, PageUp: d / 10 };
    const step = steps[e.key];
    if (step !== undefined) seek(video.currentTime + step);
    else if (e.key === 'Home') seek(0);
    else if (e.key === 'End') seek(limit());
    else return;
    e.preventDefault();
  });
  const events = ['timeupdate', 'progress', 'durationchange', 'seeking', 'seeked', 'loadedmetadata', 'emptied'];
  for (const name of events) video.addEventListener(name, render);
  video.addEventListener('play', () => {
    if (!frame) frame = requestAnimationFrame(loop);
  });
  render();

  return {
    el,
    setDuration(seconds) {
      if (Number(seconds) > 0) knownDuration = Number(seconds);
      render();
    },
    setAvailable(seconds) {
      availableEnd = seconds === null || seconds === undefined ? null : Number(seconds);
      render();
    },
    setThumbnails(list) {
      cues = list || [];
      // Warm the cache so the first hover shows a picture at once.
      for (const url of new Set(cues.map((c) => c.url))) new Image().src = url;
      if (hoverX !== null) showPreview(hoverX);
    },
    destroy() {
      if (frame) cancelAnimationFrame(frame);
      frame = 0;
    },
  };
}
