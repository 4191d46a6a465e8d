// Where the signed-in user stopped watching: the API's `resume` ({position_s, updated_ms} or null)
// on every item, where the item page starts playing, and the library's "Continue watching" row.
// While playing, the item page keeps it up to date (PUT /api/v1/items/{id}/position): every
// ~10 s of playback, on pause and when leaving the page, at most once per 5 s; at the end (or
// near it) it forgets it (position 0). A failed save only logs to the console.

import { api, messageOf, session } from './api';
import type { AnyItem } from './types';

/** A position this close to the start is nothing to resume (and is saved as 0). */
export const RESUME_MIN_S = 5;
const SAVE_EVERY_S = 10; // seconds of playback between saves
const MIN_GAP_MS = 5000; // between two saves

/** Within the item's last 10 s (or last 5 %, whichever is longer): watched to the end. */
export function nearEnd(position: number, duration: number): boolean {
  return duration > 0 && position >= duration - Math.max(10, duration * 0.05);
}

/** The saved position in seconds (0: none). */
export const savedPosition = (item: Pick<AnyItem, 'resume'> | null): number => Math.max(0, Number(item?.resume?.position_s) || 0);

/** Where the player starts `item`: its saved position when it is worth resuming, else null. */
export function resumePosition(item: AnyItem): number | null {
  const position = savedPosition(item);
  if (position <= RESUME_MIN_S || nearEnd(position, Number(item.duration_s) || 0)) return null;
  return position;
}

const inFlight = new Set<Promise<unknown>>();

/** Resolves once the saves already sent are answered (the library waits: it lists the latest). */
export const savesSettled = () => Promise.allSettled([...inFlight]);

/**
 * Saves where `video` is in item `id` for the signed-in user (nothing on a server without
 * accounts). `saved`: the position the server has already. Only once the user has played (or
 * started over) on this page does it save anything: opening a page and leaving it changes
 * nothing. Returns { startOver(), destroy() }; destroy() saves a last time (before the player
 * goes).
 */
export interface PositionTracker {
  /** The user chose to start over: forget the position (the player seeked to 0). */
  startOver(): void;
  /** Saves a last time, and stops. */
  destroy(): void;
}

export function trackPosition(
  video: HTMLVideoElement,
  id: number | string,
  { saved = 0, duration = 0 }: { saved?: number; duration?: number | null } = {},
): PositionTracker {
  if (!session.accounts || !session.user) return { startOver() {}, destroy() {} };
  let sent = saved; // what the server has (NaN after a failed save: send again)
  let engaged = false;
  let lastSentAt = 0;
  let played = 0; // seconds of playback since the last save
  let lastTime: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const lengthOf = (): number => (isFinite(video.duration) && video.duration > 0 ? video.duration : Number(duration) || 0);
  /** The position to save now (0: forget it), or null while the video has nothing loaded. */
  function current(): number | null {
    if (video.ended) return 0;
    if (video.readyState < 1) return null; // not loaded (yet): currentTime is no position
    const t = video.currentTime;
    return t <= RESUME_MIN_S || nearEnd(t, lengthOf()) ? 0 : Math.round(t * 10) / 10;
  }

  function send(keepalive = false) {
    clearTimeout(timer);
    timer = undefined;
    const position = current();
    if (position === null || Math.abs(position - sent) < 0.5) return;
    sent = position;
    lastSentAt = Date.now();
    played = 0;
    // auth: false: a session that ended must not take the user away from the video.
    const request = api(`/api/v1/items/${encodeURIComponent(id)}/position`, {
      method: 'PUT', json: { position_s: position }, auth: false, keepalive,
    }).catch((err) => {
      if (sent === position) sent = NaN;
      console.warn(`Could not save the position in item ${id}: ${messageOf(err)}`);
    });
    inFlight.add(request);
    request.finally(() => inFlight.delete(request));
  }

  /** Saves now, or as soon as the last save is 5 s old. */
  function save() {
    if (!engaged) return;
    const wait = lastSentAt + MIN_GAP_MS - Date.now();
    if (wait <= 0) send();
    else if (!timer) timer = setTimeout(send, wait);
  }

  /** Leaving: a save held back by the 5 s gap goes now; otherwise one if the last is 5 s old. */
  function flush(keepalive: boolean) {
    if (engaged && (timer || Date.now() - lastSentAt >= MIN_GAP_MS)) send(keepalive);
  }

  const onPlay = () => { engaged = true; };
  const onTime = () => {
    const t = video.currentTime;
    if (lastTime !== null && !video.paused && !video.seeking) {
      const step = t - lastTime;
      if (step > 0 && step < 2) played += step; // seeks do not count as playback
    }
    lastTime = t;
    if (played >= SAVE_EVERY_S) save();
  };
  const onPagehide = () => flush(true);
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') flush(true);
  };
  video.addEventListener('play', onPlay);
  video.addEventListener('timeupdate', onTime);
  video.addEventListener('pause', save); // also fires at the end, before 'ended'
  video.addEventListener('ended', save);
  window.addEventListener('pagehide', onPagehide);
  document.addEventListener('visibilitychange', onVisibility);

  return {
    startOver() {
      engaged = true;
      save();
    },
    destroy() {
      flush(false);
      clearTimeout(timer);
      timer = undefined;
      video.removeEventListener('play', onPlay);
      video.removeEventListener('timeupdate', onTime);
      video.removeEventListener('pause', save);
      video.removeEventListener('ended', save);
      window.removeEventListener('pagehide', onPagehide);
      document.removeEventListener('visibilitychange', onVisibility);
    },
  };
}
