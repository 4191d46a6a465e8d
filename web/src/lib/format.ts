// Formatting: durations, bit rates, titles, states; and how often pages poll.
import type { AnyItem, State } from './types';

export const POLL_MS = 2000;
export const FAST_POLL_MS = 1000;
export const IDLE_POLL_MS = 10000;
export const ERROR_RETRY_MS = 5000;

export function formatDuration(seconds: number | null | undefined): string {
  if (typeof seconds !== 'number' || !isFinite(seconds) || seconds < 0) return '';
  const total = Math.round(seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

export function formatMbps(bitsPerSecond: number | null | undefined): string {
  if (!bitsPerSecond) return '';
  return bitsPerSecond >= 1e6 ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbps` : `${Math.round(bitsPerSecond / 1e3)} kbps`;
}

export const pad2 = (n: number): string => String(n).padStart(2, '0');

type Titled = Pick<AnyItem, 'id' | 'path' | 'title'> & Partial<Pick<AnyItem, 'season' | 'episode' | 'year'>>;

/** "2019", "S01E02", "2019 · S01E02" or "". */
export function subtitleOf(item: Titled): string {
  const parts: string[] = [];
  if (item.season !== null && item.season !== undefined && item.episode !== null && item.episode !== undefined) {
    parts.push(`S${pad2(item.season)}E${pad2(item.episode)}`);
  } else if (item.episode !== null && item.episode !== undefined) {
    parts.push(`E${pad2(item.episode)}`);
  }
  if (item.year) parts.unshift(String(item.year));
  return parts.join(' · ');
}

export function titleOf(item: Titled): string {
  if (item.title) return item.title;
  const base = String(item.path || `Item ${item.id}`).split('/').pop() || '';
  return base.replace(/\.[^.]+$/, '');
}

export const STATE_LABELS: Record<State, string> = { pending: 'Queued', transcoding: 'Transcoding', ready: 'Ready', failed: 'Failed' };
export const stateLabel = (state: string): string => STATE_LABELS[state as State] || state;
export const isBusy = (state: string): boolean => state === 'pending' || state === 'transcoding';
export const percentOf = (progress: number | null | undefined): number =>
  Math.max(0, Math.min(100, Math.floor((Number(progress) || 0) * 100)));

/**
 * The item's poster: the API's `poster_url` (signed for the user, so an <img> or a <video
 * poster> needs no cookie); `bust` asks for it again. '' while the API has none.
 */
export function posterUrl(item: { poster_url?: string | null } | null, bust?: number): string {
  const url = item?.poster_url || '';
  if (!url || !bust) return url;
  return `${url}${url.includes('?') ? '&' : '?'}v=${bust}`;
}

const ROLE_LABELS: Record<string, string> = { admin: 'Admin', member: 'Member', guest: 'Guest' };
export const roleLabel = (role: string | null | undefined): string => ROLE_LABELS[role || ''] || String(role || '');

/** "0 B", "812 kB", "4.2 MB", "1.3 GB". */
export function formatBytes(bytes: number | null | undefined): string {
  const n = Number(bytes) || 0;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  const power = Math.min(units.length - 1, n > 0 ? Math.floor(Math.log10(n) / 3) : 0);
  const value = n / 1000 ** power;
  return `${power === 0 || value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[power]}`;
}
