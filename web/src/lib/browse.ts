// Browsing the library without the server's help (GET /api/v1/items lists everything the user
// may see): search, sorting, episodes gathered into shows and seasons, and what comes next.
// Episodes are the items with a season (files named `Show Name S01E02.mkv`): their `title` is
// the show's name.

// No imports but types: browse.test.mjs loads this file on its own (unit tests without a browser).
import type { ListedItem } from './types';

/** The saved position in seconds (0: none); as lib/resume.ts's savedPosition. */
const savedPosition = (item: Pick<ListedItem, 'resume'>): number => Math.max(0, Number(item.resume?.position_s) || 0);

export type SortKey = 'added' | 'title' | 'year';

export const SORTS: { key: SortKey; label: string }[] = [
  { key: 'added', label: 'Recently added' },
  { key: 'title', label: 'Title A–Z' },
  { key: 'year', label: 'Year, newest first' },
];

export const isSortKey = (value: string | null): value is SortKey => SORTS.some((s) => s.key === value);

/** Which items the grid shows by state: all of them, or those ready to play. */
export type StateFilter = 'all' | 'ready';

export const FILTERS: { key: StateFilter; label: string }[] = [
  { key: 'all', label: 'Any state' },
  { key: 'ready', label: 'Ready to play' },
];

export const isFilterKey = (value: string | null): value is StateFilter => FILTERS.some((f) => f.key === value);

export const passes = (item: ListedItem, filter: StateFilter): boolean => filter === 'all' || item.state === 'ready';

export const isEpisode = (item: ListedItem): boolean => item.season !== null && item.season !== undefined;

/** When the item came: `added_ms` (older servers: none, so the id, which only grows). */
const addedOf = (item: ListedItem): number => Number(item.added_ms) || 0;

const fold = (text: string): string => text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();

/**
 * Does `item` match every word of `query`? A word matches the title, the library or the year;
 * `S01E02`, `s1e2` or `s2` match the episode or the season; `2019` the year.
 */
export function matches(item: ListedItem, query: string): boolean {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const text = fold(`${item.title || ''} ${item.library || ''} ${item.year || ''}`);
  return words.every((word) => {
    const code = word.match(/^s(\d{1,3})(?:e(\d{1,4}))?$/);
    if (code && isEpisode(item)) {
      return Number(code[1]) === item.season && (code[2] === undefined || Number(code[2]) === item.episode);
    }
    return text.includes(word);
  });
}

const byTitle = (a: ListedItem, b: ListedItem) =>
  String(a.title || '').localeCompare(String(b.title || ''), undefined, { sensitivity: 'base', numeric: true });

/** Episodes in order: season, then episode. */
export const byEpisode = (a: ListedItem, b: ListedItem) =>
  (a.season ?? 0) - (b.season ?? 0) || (a.episode ?? 0) - (b.episode ?? 0) || a.id - b.id;

/** A new list of `items` in `key`'s order (ties: by title). */
export function sortItems<T extends ListedItem>(items: T[], key: SortKey): T[] {
  const order: Record<SortKey, (a: T, b: T) => number> = {
    added: (a, b) => addedOf(b) - addedOf(a) || b.id - a.id,
    title: byTitle,
    year: (a, b) => (b.year ?? -Infinity) - (a.year ?? -Infinity) || byTitle(a, b),
  };
  return [...items].sort((a, b) => order[key](a, b) || byTitle(a, b));
}

/** A show: the episodes of one title in one library. */
export interface Show {
  kind: 'show';
  key: string;
  title: string;
  library: string;
  episodes: ListedItem[];
}

/** What the grid shows: a film (or other item on its own), or a show. */
export type Entry = { kind: 'item'; key: string; item: ListedItem } | Show;

export const showKey = (library: string, title: string) => `${library}\u0000${fold(title)}`;

/**
 * Gathers the episodes of each show into one entry where the first of them stood; everything
 * else stays as it is, in the order given.
 */
export function entries(items: ListedItem[]): Entry[] {
  const shows = new Map<string, Show>();
  const list: Entry[] = [];
  for (const item of items) {
    if (!isEpisode(item)) {
      list.push({ kind: 'item', key: `item-${item.id}`, item });
      continue;
    }
    const library = item.library || '';
    const key = showKey(library, item.title || '');
    let show = shows.get(key);
    if (!show) {
      show = { kind: 'show', key, title: item.title || '', library, episodes: [] };
      shows.set(key, show);
      list.push(show);
    }
    show.episodes.push(item);
  }
  for (const show of shows.values()) show.episodes.sort(byEpisode);
  return list;
}

/** The episodes of the show `title` in `library`, in order. */
export function episodesOf(items: ListedItem[], library: string, title: string): ListedItem[] {
  const key = showKey(library, title);
  return items.filter((i) => isEpisode(i) && showKey(i.library || '', i.title || '') === key).sort(byEpisode);
}

/** `episodes` (in order) by season. */
export function seasons(episodes: ListedItem[]): { season: number; episodes: ListedItem[] }[] {
  const all = new Map<number, ListedItem[]>();
  for (const e of episodes) {
    const season = e.season ?? 0;
    if (!all.has(season)) all.set(season, []);
    all.get(season)!.push(e);
  }
  return [...all.entries()].sort((a, b) => a[0] - b[0]).map(([season, list]) => ({ season, episodes: list }));
}

/** The episode after `item` in its show (`items`: everything listed), or null at the last. */
export function nextEpisode(items: ListedItem[], item: ListedItem): ListedItem | null {
  if (!isEpisode(item)) return null;
  const episodes = episodesOf(items, item.library || '', item.title || '');
  const at = episodes.findIndex((e) => e.id === item.id);
  return at >= 0 ? episodes[at + 1] || null : null;
}

/**
 * Where to go on in a show (`episodes` in order): the episode left part-way most recently; else
 * the first one after the last watched to its end (`watched`: their ids); else the first.
 */
export function upNext(episodes: ListedItem[], watched: ReadonlySet<number> = new Set()): ListedItem | null {
  const started = episodes
    .filter((e) => savedPosition(e) > 0)
    .sort((a, b) => (Number(b.resume?.updated_ms) || 0) - (Number(a.resume?.updated_ms) || 0));
  if (started[0]) return started[0];
  let last = -1;
  episodes.forEach((e, i) => {
    if (watched.has(e.id)) last = i;
  });
  return episodes[last + 1] || episodes.find((e) => !watched.has(e.id)) || episodes[0] || null;
}

// The episodes watched to their end, in this browser (the server forgets a position at the end,
// so it cannot tell "watched" from "never started"): localStorage, per user (`-`: no accounts).
const watchedKey = (user: string) => `manofwar.watched.${user}`;
const WATCHED_MAX = 2000;

/** The ids of the episodes `user` watched to the end here. */
export function watchedIds(user: string): Set<number> {
  try {
    const list: unknown = JSON.parse(localStorage.getItem(watchedKey(user)) || '[]');
    return new Set(Array.isArray(list) ? list.filter((n): n is number => typeof n === 'number') : []);
  } catch {
    return new Set();
  }
}

/** Remembers that `user` watched item `id` to the end. */
export function markWatched(user: string, id: number): void {
  try {
    const ids = [...watchedIds(user)].filter((n) => n !== id);
    ids.push(id);
    localStorage.setItem(watchedKey(user), JSON.stringify(ids.slice(-WATCHED_MAX)));
  } catch {
    // No storage (private mode, quota): the show page starts from the first episode.
  }
}

export const showHref = (show: Pick<Show, 'library' | 'title'>) =>
  `#/shows/${encodeURIComponent(show.library || '-')}/${encodeURIComponent(show.title)}`;
