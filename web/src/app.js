// manofwar web app: a library grid and an HLS player. Vanilla JS modules, no build step.
// Served by the `manofwar` binary next to hls.min.js, which the player loads when it opens.
// This module is the router: #/ is the library, #/items/ID an item, #/login and #/setup sign
// in, #/admin (admins) manages accounts, #/tokens a user's API tokens, #/friends the friends
// this server shares with (P2P) and #/friends/PEER/ID a friend's item. Everything but the login
// and setup pages needs a signed-in user on a server with accounts.

import { app, topbarStatus, h, api, session, setSession, goToLogin, currentRoute, safeNext } from './dom.js';
import { libraryView } from './library.js';
import { itemView } from './item.js';
import { loginView, setupView, mountUserMenu } from './account.js';
import { adminView, tokensView } from './admin.js';
import { friendsView, friendItemView } from './friends.js';

let current = null;

function notFoundView() {
  document.title = 'Not found · manofwar';
  return {
    root: h('section', { class: 'empty' }, h('h2', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the library'))),
    nav: null,
    destroy() {},
  };
}

/** Who is signed in (GET /api/v1/auth/me): 401 is nobody, 404 a server without accounts. */
async function loadSession() {
  try {
    setSession(await api('/api/v1/auth/me', { auth: false }));
  } catch (err) {
    if (err.status === 404) session.accounts = false;
    setSession(null);
  }
}

function route() {
  const [path, query = ''] = currentRoute().split('?');
  const params = new URLSearchParams(query);
  let m;
  if (path === '/login' && session.accounts && session.user) {
    // Signed in already: on to where the login was meant to lead.
    location.replace(`#${safeNext(params.get('next'))}`);
    return;
  }
  const open = path === '/login' || path === '/setup';
  if (!open && session.accounts && !session.user) {
    goToLogin(currentRoute());
    return;
  }
  let next;
  if (path === '/login') next = loginView(params.get('next'), params.get('error'));
  else if (path === '/setup') next = setupView(params.get('token'));
  else if (path === '/' || path === '') next = libraryView({ library: params.get('library') });
  else if ((m = path.match(/^\/items\/([^/?#]+)\/?$/))) next = itemView(decodeURIComponent(m[1]));
  else if (path === '/friends') next = friendsView();
  else if ((m = path.match(/^\/friends\/([^/?#]+)\/([^/?#]+)\/?$/))) {
    next = friendItemView(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
  }
  else if (path === '/admin' && session.accounts) next = adminView();
  else if (path === '/tokens' && session.accounts) next = tokensView();
  else next = notFoundView();
  if (current) current.destroy();
  current = next;
  topbarStatus.replaceChildren();
  document.body.classList.toggle('is-bare', Boolean(next.bare));
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', link.dataset.nav === next.nav);
    if (link.dataset.nav === next.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  app.replaceChildren(next.root);
  window.scrollTo(0, 0);
}

async function start() {
  mountUserMenu(document.getElementById('topbar-user'), document.querySelector('[data-nav="admin"]'));
  await loadSession();
  window.addEventListener('hashchange', route);
  route();
}

start();
