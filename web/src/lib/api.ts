// The signed-in user and the JSON API client (with the CSRF token), and the routes that sign in.
import type { SignedIn, User } from './types';

export class HttpError extends Error {
  readonly status: number;
  readonly headers: Headers;

  constructor(status: number, message: string, headers: Headers) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** The HTTP status of a failed `api()` call (undefined for anything else: a network error). */
export const statusOf = (err: unknown): number | undefined => (err instanceof HttpError ? err.status : undefined);

/** The message of anything thrown. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Whether the server answers its health check (`/healthz`, no session needed) now. */
export const serverUp = (): Promise<boolean> => fetch('/healthz', { cache: 'no-store' }).then((r) => r.ok, () => false);

/**
 * Asks `/healthz` after `first` ms, and again after each wait times `grow` (at most `max` ms),
 * until the server answers; then calls `then`. The function it returns stops asking.
 */
export function whenServerUp(then: () => void, { first, grow = 1, max = first }: { first: number; grow?: number; max?: number }): () => void {
  let wait = first;
  let stopped = false;
  let timer = setTimeout(async function check() {
    if (await serverUp()) {
      if (!stopped) then();
      return;
    }
    if (stopped) return;
    wait = Math.min(max, wait * grow);
    timer = setTimeout(check, wait);
  }, wait);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export interface Session {
  user: User | null;
  /** The token that every state-changing request carries. */
  csrf: string | null;
  /** False on a server without accounts (`manofwar serve`), where nobody signs in. */
  accounts: boolean;
}

/** Who is signed in. */
export const session: Session = { user: null, csrf: null, accounts: true };
const sessionListeners = new Set<(session: Session) => void>();

/** Calls `fn` whenever the signed-in user changes (sign in, sign out, session expired). */
export function onSessionChange(fn: (session: Session) => void): () => void {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
}

/** Sets the session from a login / setup / me answer ({user, csrf}), or clears it (null). */
export function setSession(signedIn: SignedIn | null): void {
  session.user = signedIn?.user ?? null;
  session.csrf = signedIn?.csrf ?? null;
  for (const fn of sessionListeners) fn(session);
}

export const isAdmin = (): boolean => session.user?.role === 'admin';

/** The current route, e.g. "/items/12", for coming back to it after signing in. */
export const currentRoute = (): string => location.hash.replace(/^#/, '') || '/';

/** A route that may be returned to after signing in (never the login or setup page itself). */
export function safeNext(next: string | null | undefined): string {
  const route = String(next || '');
  return route.startsWith('/') && !route.startsWith('//') && !/^\/(login|setup)\b/.test(route) ? route : '/';
}

/** Sends the browser to the login page, to come back to `next` (default: where it is now). */
export function goToLogin(next: string = currentRoute()): void {
  const back = safeNext(next);
  location.hash = back === '/' ? '#/login' : `#/login?next=${encodeURIComponent(back)}`;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface ApiOptions extends Omit<RequestInit, 'headers'> {
  /** Sent as the JSON body. */
  json?: unknown;
  /** False: a 401 does not sign out and go to the login page (the caller handles it). */
  auth?: boolean;
  headers?: Record<string, string>;
}

/**
 * The JSON API client. `json` is sent as the request body; a state-changing request carries
 * the session's CSRF token. A 401 (signed out, or the session expired) clears the session and
 * goes to the login page, to come back here afterwards; pass `{auth: false}` to handle 401s
 * yourself (the login and setup calls do). Errors are `HttpError`s with the server's message.
 * `T`: what the answer is (null for an empty one).
 */
export async function api<T = unknown>(path: string, options: ApiOptions = {}): Promise<T> {
  const { json, auth = true, headers: extra, ...rest } = options;
  const method = String(rest.method || 'GET').toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json', ...(extra || {}) };
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
      const body = JSON.parse(text) as { error?: string; message?: string };
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
  return (text ? JSON.parse(text) : null) as T;
}
