// Accounts, for the admin and tokens pages: roles, times, libraries and limits.
import type { Role, User } from './types';

/** The last this many audit events are shown. */
export const AUDIT_SHOWN = 50;

/** Each role: its value, its name, and what it may do. */
export const ROLES: [Role, string, string][] = [
  ['member', 'Member', 'watch, and queue transcodes'],
  ['guest', 'Guest', 'watch only'],
  ['admin', 'Admin', 'see every library and manage accounts'],
];

const toMs = (value: number): number => (value < 1e12 ? value * 1000 : value); // seconds or milliseconds

/** "12 Mar 2025, 14:03" from unix milliseconds (or seconds); '' for none. */
export function formatTime(value: number | string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '';
  const ms = Number(value);
  if (!Number.isFinite(ms)) return String(value);
  return new Date(toMs(ms)).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function isoTime(value: number | string | null | undefined): string | null {
  const ms = Number(value);
  if (!Number.isFinite(ms) || !ms) return null;
  return new Date(toMs(ms)).toISOString();
}

/** The grant of all friends' libraries (with sharing on: GET /api/v1/p2p answers); "*" includes it. */
export const FRIENDS_GRANT = '@friends';
export const FRIENDS_LABEL = 'Friends’ libraries';

/** "All libraries", "Films, Friends’ libraries", "None". */
export function librariesLabel(user: Pick<User, 'role' | 'libraries'>): string {
  const list = user.libraries || [];
  if (user.role === 'admin' || list.includes('*')) return 'All libraries';
  return list.length ? list.map((l) => (l === FRIENDS_GRANT ? FRIENDS_LABEL : l)).join(', ') : 'None';
}

/**
 * A grant from a libraries form: ["*"] for all, else the chosen libraries (in `names`' order)
 * and, with `friends`, "@friends".
 */
export function grantOf(all: boolean, chosen: string[], friends: boolean, names: string[]): string[] {
  if (all) return ['*'];
  const grant = names.filter((name) => chosen.includes(name));
  return friends ? [...grant, FRIENDS_GRANT] : grant;
}

/** A user's limits for the table: ["4,000 kbit/s", "2 streams"], empty for none. */
export function limitsOf(user: User): string[] {
  const limits: string[] = [];
  if (user.max_kbps) limits.push(`${Number(user.max_kbps).toLocaleString('en-US')} kbit/s`);
  if (user.max_streams) limits.push(`${user.max_streams} ${user.max_streams === 1 ? 'stream' : 'streams'}`);
  return limits;
}

export const MAX_U32 = 4294967295;

/** A limit from a number input: empty is 0 (no limit); NaN when it is not a whole number >= 0. */
export function limitValue(input: HTMLInputElement): number {
  if (input.validity && input.validity.badInput) return NaN;
  const text = input.value.trim();
  if (!text) return 0;
  const value = Number(text);
  return Number.isInteger(value) && value >= 0 && value <= MAX_U32 ? value : NaN;
}

/** Whether two library grants are the same (['*'] is every library). */
export const sameLibraries = (a: string[], b: string[]): boolean => [...a].sort().join('\n') === [...b].sort().join('\n');

/** "No libraries yet…" or "Admins see every library." under a libraries field. */
export function librariesHint(admin: boolean, libraries: number): string {
  if (admin) return 'Admins see every library.';
  return libraries ? '' : 'No libraries yet: start the server with --media NAME=DIR.';
}
