// The library view: a grid of items with posters, states and progress, polled while busy.
// With more than one library (`manofwar up --media NAME=DIR` …), a row of chips filters the grid
// by library (#/?library=NAME), and each card names its library. Above the grid, "Continue
// watching": the items the user stopped watching (their `resume`), the latest first; their cards
// show how far in (in the grid too).

import {
  POLL_MS, IDLE_POLL_MS, ERROR_RETRY_MS, h, api, formatDuration, subtitleOf, titleOf, STATE_LABELS,
  isBusy, percentOf, badge, progressBar, setProgress, poster, setTopbarStatus, session,
} from './dom.js';
import { savedPosition, savesSettled } from './resume.js';

/** At most this many cards in "Continue watching". */
const CONTINUE_MAX = 10;

/** How far into `item` the user stopped watching, as a fraction of it; null: not started, or no duration. */
function watchedOf(item) {
  const position = savedPosition(item);
  const duration = Number(item.duration_s) || 0;
  return position > 0 && duration > 0 ? Math.min(1, position / duration) : null;
}

/** A library card: poster with state, duration and progress, title and subtitle; `href` is where it leads. */
function buildCard(item, href) {
  const art = poster(item, 'card-poster');
  const state = h('span', { class: 'card-badge' });
  const duration = h('span', { class: 'card-duration' });
  const progress = progressBar(item.progress);
  const progressLabel = h('span', { class: 'card-progress-label' });
  const overlay = h('div', { class: 'card-progress' }, progress, progressLabel);
  const watched = progressBar(0);
  watched.classList.add('card-watched');
  watched.setAttribute('aria-label', 'Watched');
  const play = h('span', { class: 'card-play', 'aria-hidden': 'true' });
  play.innerHTML = '<svg viewBox="0 0 24 24"><path d="M8 5.5v13l11-6.5z"/></svg>';
  art.append(state, duration, overlay, watched, play);
  const title = h('div', { class: 'card-title' });
  const sub = h('span', { class: 'card-subtitle' });
  const error = h('div', { class: 'card-error' });
  const from = h('span', { class: 'card-library' });
  const card = h('a', { class: 'card', href, dataset: { id: item.id } },
    art, h('div', { class: 'card-meta' }, title, h('div', { class: 'card-sub' }, sub, from), error));
  card.parts = { art, state, duration, progress, progressLabel, overlay, watched, title, sub, from, error };
  return card;
}

/** Shows the item's state on its card; with `showLibraries` (several of them), its library too. */
function updateCard(card, item, showLibraries = false) {
  const p = card.parts;
  card.dataset.state = item.state;
  card.dataset.library = item.library || '';
  card.title = item.path || '';
  const showLibrary = showLibraries && item.library;
  const watched = watchedOf(item);
  const watchedText = watched === null ? '' : `${formatDuration(savedPosition(item))} of ${formatDuration(item.duration_s)} watched`;
  card.setAttribute('aria-label', `${titleOf(item)}${subtitleOf(item) ? ` (${subtitleOf(item)})` : ''}, ` +
    `${STATE_LABELS[item.state] || item.state}${showLibrary ? `, in ${item.library}` : ''}${watchedText ? `, ${watchedText}` : ''}`);
  p.title.textContent = titleOf(item);
  p.sub.textContent = subtitleOf(item);
  p.from.textContent = showLibrary ? item.library : '';
  p.from.hidden = !showLibrary;
  p.duration.textContent = formatDuration(item.duration_s);
  p.duration.hidden = !p.duration.textContent;
  p.state.replaceChildren(badge(item.state));
  p.overlay.hidden = item.state !== 'transcoding';
  setProgress(p.progress, item.progress);
  p.progressLabel.textContent = `${percentOf(item.progress)}%`;
  // How far in the user is: a thin bar along the poster's bottom (not over the transcode's).
  p.watched.hidden = watched === null || !p.overlay.hidden;
  setProgress(p.watched, watched || 0);
  p.watched.setAttribute('aria-valuetext', watchedText);
  p.error.hidden = item.state !== 'failed' || !item.error;
  p.error.textContent = item.error || '';
  p.art.refresh(item);
}

/**
 * Shows `items` as cards in `grid`, in their order, keeping the cards of `cards` (id -> card)
 * across calls (no poster flicker); `hrefOf(item)` is where a card leads.
 */
export function renderCards(grid, cards, items, hrefOf, showLibraries = false) {
  const seen = new Set();
  let previous = null;
  for (const item of items) {
    const key = String(item.id);
    seen.add(key);
    let card = cards.get(key);
    if (!card) {
      card = buildCard(item, hrefOf(item));
      cards.set(key, card);
    }
    updateCard(card, item, showLibraries);
    const expected = previous ? previous.nextSibling : grid.firstChild;
    if (expected !== card) grid.insertBefore(card, expected);
    previous = card;
  }
  for (const [key, card] of cards) {
    if (!seen.has(key)) {
      card.remove();
      cards.delete(key);
    }
  }
}

export function libraryView({ library = null } = {}) {
  const heading = h('div', { class: 'page-head' },
    h('h1', {}, 'Library'),
    h('p', { class: 'page-sub', id: 'library-summary' }, ''));
  const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
  const filters = h('div', { class: 'filters', id: 'library-filters', role: 'group', 'aria-label': 'Show library', hidden: true });
  const grid = h('div', { class: 'grid', id: 'library-grid' });
  // Under "Continue watching", a heading for the rest (hidden with the row).
  const gridHeading = h('h2', { class: 'row-title', id: 'library-grid-heading', hidden: true });
  const continueGrid = h('div', { class: 'grid continue-grid', id: 'continue-grid' });
  const continueRow = h('section', { class: 'continue', id: 'continue-watching', 'aria-labelledby': 'continue-heading', hidden: true },
    h('h2', { class: 'row-title', id: 'continue-heading' }, 'Continue watching'), continueGrid);
  const filteredEmpty = h('div', { class: 'empty empty-small', id: 'library-filter-empty', hidden: true });
  const empty = h('div', { class: 'empty', hidden: true },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('h2', {}, 'Your library is empty'),
    h('p', { class: 'empty-text' }, 'No media yet — put video files in the folder you passed with ', h('code', {}, '--media'), '.'),
    h('p', { class: 'muted' }, 'New files are picked up automatically; this page refreshes on its own.'));
  empty.querySelector('.empty-icon').innerHTML =
    '<svg viewBox="0 0 48 48"><rect x="5" y="10" width="38" height="28" rx="5"/><path d="M20 18v12l10-6z"/></svg>';
  const loading = h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading library…');
  const root = h('section', { class: 'library' }, heading, filters, banner, loading, empty, continueRow, filteredEmpty, gridHeading, grid);

  const cards = new Map();
  const continueCards = new Map(); // the row's own cards (an item may be in both)
  let timer = null;
  let destroyed = false;
  let selected = library; // the library shown, or null for all of them
  let libraries = []; // [{name, items}] from /api/v1/libraries: the ones this user may see
  let lastItems = [];
  const several = () => libraries.length > 1 || new Set(lastItems.map((i) => i.library).filter(Boolean)).size > 1;

  /** The chips: "All" and one per library, with counts; the selected one aria-pressed. */
  const chips = new Map(); // library name ('' for all) -> button, kept across polls (focus stays)
  function renderFilters() {
    const names = libraries.map((l) => l.name);
    for (const item of lastItems) if (item.library && !names.includes(item.library)) names.push(item.library);
    if (selected !== null && !names.includes(selected)) selected = null;
    filters.hidden = !several();
    if (filters.hidden) return;
    const keys = ['', ...names];
    if (keys.join('\n') !== [...chips.keys()].join('\n')) {
      chips.clear();
      for (const key of keys) {
        chips.set(key, h('button', {
          class: 'filter', type: 'button', dataset: { library: key }, onclick: () => select(key === '' ? null : key),
        }, h('span', { class: 'filter-name' }, key === '' ? 'All' : key), h('span', { class: 'filter-count' })));
      }
      filters.replaceChildren(...chips.values());
    }
    for (const [key, chip] of chips) {
      const n = lastItems.filter((i) => key === '' || i.library === key).length;
      chip.setAttribute('aria-pressed', String((selected === null ? '' : selected) === key));
      chip.querySelector('.filter-count').textContent = String(n);
      chip.setAttribute('aria-label', `${key === '' ? 'All libraries' : key}, ${n} ${n === 1 ? 'item' : 'items'}`);
    }
  }

  function select(name) {
    selected = name;
    // Keep the choice in the address (a reload or a link shows the same library) without a
    // hashchange, which would build the view again.
    history.replaceState(null, '', name === null ? '#/' : `#/?library=${encodeURIComponent(name)}`);
    render(lastItems);
  }

  function render(all) {
    lastItems = all;
    loading.remove();
    renderFilters();
    const items = selected === null ? all : all.filter((i) => i.library === selected);
    empty.hidden = all.length > 0;
    filteredEmpty.hidden = all.length === 0 || items.length > 0;
    if (!filteredEmpty.hidden) {
      filteredEmpty.replaceChildren(h('h2', {}, `Nothing in ${selected} yet`),
        h('p', {}, 'New files in its folder are picked up automatically.'));
    }
    grid.hidden = items.length === 0;
    renderCards(grid, cards, items, (item) => `#/items/${item.id}`, several());
    const started = items.filter((i) => savedPosition(i) > 0)
      .sort((a, b) => (Number(b.resume.updated_ms) || 0) - (Number(a.resume.updated_ms) || 0))
      .slice(0, CONTINUE_MAX);
    continueRow.hidden = started.length === 0;
    gridHeading.hidden = continueRow.hidden || grid.hidden;
    gridHeading.textContent = selected === null ? 'All items' : `All in ${selected}`;
    renderCards(continueGrid, continueCards, started, (item) => `#/items/${item.id}`, several());
    const counts = items.reduce((acc, i) => ((acc[i.state] = (acc[i.state] || 0) + 1), acc), {});
    const summary = [`${items.length} ${items.length === 1 ? 'item' : 'items'}`];
    if (counts.transcoding) summary.push(`${counts.transcoding} transcoding`);
    if (counts.pending) summary.push(`${counts.pending} queued`);
    if (counts.failed) summary.push(`${counts.failed} failed`);
    heading.querySelector('#library-summary').textContent = items.length ? summary.join(' · ') : '';
    setTopbarStatus(all);
  }

  /** The libraries this user may see (for the chips, and the empty page). */
  async function loadLibraries() {
    try {
      const data = await api('/api/v1/libraries');
      if (destroyed) return;
      libraries = (data && data.libraries) || [];
      const none = session.accounts && session.user && libraries.length === 0;
      empty.querySelector('h2').textContent = none ? 'No library for you yet' : 'Your library is empty';
      empty.querySelector('.empty-text').replaceChildren(...(none
        ? ['Your account may not see any library yet: ask an admin to give you one.']
        : ['No media yet — put video files in the folder you passed with ', h('code', {}, '--media'), '.']));
      if (lastItems.length || !loading.isConnected) render(lastItems);
    } catch {
      // The chips are a nicety: without them, the grid shows everything.
    }
  }

  async function load() {
    timer = null;
    let next = null;
    try {
      await savesSettled(); // a position the item page just saved is in the answer
      const data = await api('/api/v1/items');
      if (destroyed) return;
      const items = Array.isArray(data && data.items) ? data.items : [];
      banner.hidden = true;
      render(items);
      // Fast while something is being worked on; slowly otherwise, to pick up new files.
      next = items.some((i) => isBusy(i.state)) ? POLL_MS : IDLE_POLL_MS;
    } catch (err) {
      if (destroyed) return;
      loading.remove();
      banner.hidden = false;
      banner.textContent = `Could not load the library: ${err.message}. Retrying…`;
      next = ERROR_RETRY_MS;
    }
    if (next !== null && !destroyed) timer = setTimeout(load, next);
  }

  document.title = 'Library · manofwar';
  loadLibraries();
  load();
  return {
    root,
    nav: 'library',
    destroy() {
      destroyed = true;
      if (timer) clearTimeout(timer);
    },
  };
}
