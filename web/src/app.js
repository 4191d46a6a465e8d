// manofwar web app: a library grid and an HLS player. Vanilla JS modules, no build step.
// Served by the `manofwar` binary next to hls.min.js, which defines window.Hls.
// This module is the router: #/ is the library, #/items/ID an item.

import { app, topbarStatus, h } from './dom.js';
import { libraryView } from './library.js';
import { itemView } from './item.js';

let current = null;

function notFoundView() {
  document.title = 'Not found · manofwar';
  return {
    root: h('section', { class: 'empty' }, h('h2', {}, 'Page not found'), h('p', {}, h('a', { href: '#/' }, 'Go to the library'))),
    nav: null,
    destroy() {},
  };
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  let next;
  let m;
  if (hash === '/' || hash === '') next = libraryView();
  else if ((m = hash.match(/^\/items\/([^/?#]+)\/?$/))) next = itemView(decodeURIComponent(m[1]));
  else next = notFoundView();
  if (current) current.destroy();
  current = next;
  topbarStatus.replaceChildren();
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', link.dataset.nav === next.nav);
  }
  app.replaceChildren(next.root);
  window.scrollTo(0, 0);
}

window.addEventListener('hashchange', route);
route();
