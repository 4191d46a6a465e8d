// manofwar web app: a library grid and an HLS player. main.ts (the entry) imports this router.
// The player loads hls.js (its own chunk) when it opens.
// This module is the router: #/ is the library, #/items/ID an item, #/shows/LIBRARY/TITLE a show, #/login and #/setup sign
// in, #/admin (admins) manages accounts, #/tokens a user's API tokens, #/friends the friends
// this server shares with (P2P) and #/friends/PEER/ID a friend's item, #/downloads what this
// browser keeps for offline viewing and #/downloads/ID plays one. Everything but the login and
// setup pages needs a signed-in user on a server with accounts; when the server cannot be
// reached at all (no answer, not a 401), the app opens the downloads, which play without it,
// under a banner, and comes back to the rest once the server answers (lib/offline.ts).

import { api, session, setSession, goToLogin, currentRoute, safeNext, statusOf, isAdmin, whenServerUp } from './lib/api';
import { offlineSupported, registerServiceWorker, resumeInterrupted } from './lib/offline';
import type { SignedIn } from './lib/types';
import { app, topbarStatus } from './lib/dom';
import { svelteView, type View } from './lib/view';
import { mount } from 'svelte';
import UserMenu from './components/UserMenu.svelte';
import Admin from './routes/Admin.svelte';
import Downloads from './routes/Downloads.svelte';
import FriendItem from './routes/FriendItem.svelte';
import Friends from './routes/Friends.svelte';
import Item from './routes/Item.svelte';
import Library from './routes/Library.svelte';
import Login from './routes/Login.svelte';
import NotFound from './routes/NotFound.svelte';
import Setup from './routes/Setup.svelte';
import Show from './routes/Show.svelte';
import Tokens from './routes/Tokens.svelte';

let current: View | null = null;
/** The server could not be reached at start: only the downloads open (see `watchServer`). */
let offline = false;
const OFFLINE_CHECK_MS = 5000;

/**
 * Who is signed in (GET /api/v1/auth/me): 401 is nobody, 404 a server without accounts; no
 * answer at all (or a 5xx from a proxy in front of it) is no server: offline.
 */
async function loadSession() {
  try {
    setSession(await api<SignedIn>('/api/v1/auth/me', { auth: false }));
    offline = false;
  } catch (err) {
    const status = statusOf(err);
    offline = status === undefined || status >= 500;
    if (status === 404) session.accounts = false;
    setSession(null);
  }
  const banner = document.getElementById('offline-banner');
  if (banner) banner.hidden = !offline;
}

/** While offline: asks /healthz every few seconds; once it answers, the whole app is back. */
function watchServer() {
  whenServerUp(async () => {
    await loadSession();
    if (offline) watchServer();
    else {
      void resumeInterrupted();
      // A download that is playing plays on; any other page opens as the address says.
      if (!/^\/downloads(\/|$)/.test(currentRoute())) route();
    }
  }, { first: OFFLINE_CHECK_MS });
}

function route() {
  const [path, query = ''] = currentRoute().split('?');
  const params = new URLSearchParams(query);
  let m: RegExpMatchArray | null;
  if (path === '/login' && session.accounts && session.user) {
    // Signed in already: on to where the login was meant to lead.
    location.replace(`#${safeNext(params.get('next'))}`);
    return;
  }
  const downloads = path === '/downloads' || path.startsWith('/downloads/');
  if (offline && !downloads) {
    location.replace('#/downloads');
    return;
  }
  const open = path === '/login' || path === '/setup' || (offline && downloads);
  if (!open && session.accounts && !session.user) {
    goToLogin(currentRoute());
    return;
  }
  let next: View;
  if (path === '/login') next = svelteView(Login, { next: params.get('next'), failed: params.get('error') }, null, true);
  else if (path === '/setup') next = svelteView(Setup, { token: params.get('token') }, null, true);
  else if (path === '/' || path === '') {
    next = svelteView(Library, { library: params.get('library'), q: params.get('q'), sort: params.get('sort'), only: params.get('state') }, 'library');
  }
  else if ((m = path.match(/^\/shows\/([^/?#]+)\/([^/?#]+)\/?$/))) {
    next = svelteView(Show, { library: decodeURIComponent(m[1]), title: decodeURIComponent(m[2]) }, 'library');
  }
  else if ((m = path.match(/^\/items\/([^/?#]+)\/?$/))) next = svelteView(Item, { id: decodeURIComponent(m[1]), autoplay: params.get('play') === '1' }, 'library');
  else if (path === '/friends') next = svelteView(Friends, {}, 'friends');
  else if ((m = path.match(/^\/friends\/([^/?#]+)\/([^/?#]+)\/?$/))) {
    next = svelteView(FriendItem, { peerId: decodeURIComponent(m[1]), id: decodeURIComponent(m[2]) }, 'friends');
  }
  else if (path === '/downloads') next = svelteView(Downloads, { id: null }, 'downloads');
  else if ((m = path.match(/^\/downloads\/([^/?#]+)\/?$/))) {
    next = svelteView(Downloads, { id: decodeURIComponent(m[1]) }, 'downloads');
  }
  else if (path === '/admin' && session.accounts) next = svelteView(Admin, {}, 'admin');
  else if (path === '/tokens' && session.accounts) next = svelteView(Tokens, {}, isAdmin() ? 'admin' : null);
  else next = svelteView(NotFound, {}, null);
  if (current) current.destroy();
  current = next;
  topbarStatus.replaceChildren();
  document.body.classList.toggle('is-bare', Boolean(next.bare));
  for (const link of document.querySelectorAll<HTMLElement>('[data-nav]')) {
    link.classList.toggle('active', link.dataset.nav === next.nav);
    if (link.dataset.nav === next.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  app.replaceChildren();
  if (next.root) app.append(next.root);
  else next.mount?.(app);
  window.scrollTo(0, 0);
}

async function start() {
  const container = document.getElementById('topbar-user') as HTMLElement;
  mount(UserMenu, { target: container, props: { container, adminLink: document.querySelector<HTMLElement>('[data-nav="admin"]') } });
  const downloadsLink = document.querySelector<HTMLElement>('[data-nav="downloads"]');
  if (downloadsLink) downloadsLink.hidden = !offlineSupported();
  void registerServiceWorker();
  await loadSession();
  window.addEventListener('hashchange', route);
  route();
  if (offline) watchServer();
  else void resumeInterrupted();
}

void start();
