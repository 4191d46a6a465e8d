// The library view: a grid of items with posters, states and progress, polled while busy.

import {
  POLL_MS, IDLE_POLL_MS, ERROR_RETRY_MS, h, api, formatDuration, subtitleOf, titleOf, STATE_LABELS,
  isBusy, percentOf, badge, progressBar, setProgress, poster, setTopbarStatus,
} from './dom.js';

export function libraryView() {
  const heading = h('div', { class: 'page-head' },
    h('h1', {}, 'Library'),
    h('p', { class: 'page-sub', id: 'library-summary' }, ''));
  const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
  const grid = h('div', { class: 'grid', id: 'library-grid' });
  const empty = h('div', { class: 'empty', hidden: true },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }),
    h('h2', {}, 'Your library is empty'),
    h('p', {}, 'No media yet — put video files in the folder you passed with ', h('code', {}, '--media'), '.'),
    h('p', { class: 'muted' }, 'New files are picked up automatically; this page refreshes on its own.'));
  empty.querySelector('.empty-icon').innerHTML =
    '<svg viewBox="0 0 48 48"><rect x="5" y="10" width="38" height="28" rx="5"/><path d="M20 18v12l10-6z"/></svg>';
  const loading = h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading library…');
  const root = h('section', { class: 'library' }, heading, banner, loading, empty, grid);

  const cards = new Map();
  let timer = null;
  let destroyed = false;

  function buildCard(item) {
    const art = poster(item, 'card-poster');
    const state = h('span', { class: 'card-badge' });
    const duration = h('span', { class: 'card-duration' });
    const progress = progressBar(item.progress);
    const progressLabel = h('span', { class: 'card-progress-label' });
    const overlay = h('div', { class: 'card-progress' }, progress, progressLabel);
    const play = h('span', { class: 'card-play', 'aria-hidden': 'true' });
    play.innerHTML = '<svg viewBox="0 0 24 24"><path d="M8 5.5v13l11-6.5z"/></svg>';
    art.append(state, duration, overlay, play);
    const title = h('div', { class: 'card-title' });
    const sub = h('div', { class: 'card-sub' });
    const error = h('div', { class: 'card-error' });
    const card = h('a', { class: 'card', href: `#/items/${item.id}`, dataset: { id: item.id } },
      art, h('div', { class: 'card-meta' }, title, sub, error));
    card.parts = { art, state, duration, progress, progressLabel, overlay, title, sub, error };
    return card;
  }

  function updateCard(card, item) {
    const p = card.parts;
    card.dataset.state = item.state;
    card.title = item.path || '';
    card.setAttribute('aria-label', `${titleOf(item)}${subtitleOf(item) ? ` (${subtitleOf(item)})` : ''}, ${STATE_LABELS[item.state] || item.state}`);
    p.title.textContent = titleOf(item);
    p.sub.textContent = subtitleOf(item);
    p.duration.textContent = formatDuration(item.duration_s);
    p.duration.hidden = !p.duration.textContent;
    p.state.replaceChildren(badge(item.state));
    p.overlay.hidden = item.state !== 'transcoding';
    setProgress(p.progress, item.progress);
    p.progressLabel.textContent = `${percentOf(item.progress)}%`;
    p.error.hidden = item.state !== 'failed' || !item.error;
    p.error.textContent = item.error || '';
    p.art.refresh(item.state);
  }

  function render(items) {
    loading.remove();
    empty.hidden = items.length > 0;
    grid.hidden = items.length === 0;
    const seen = new Set();
    let previous = null;
    for (const item of items) {
      const key = String(item.id);
      seen.add(key);
      let card = cards.get(key);
      if (!card) {
        card = buildCard(item);
        cards.set(key, card);
      }
      updateCard(card, item);
      // Keep DOM order equal to API order without re-creating cards (no poster flicker).
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
    const counts = items.reduce((acc, i) => ((acc[i.state] = (acc[i.state] || 0) + 1), acc), {});
    const summary = [`${items.length} ${items.length === 1 ? 'item' : 'items'}`];
    if (counts.transcoding) summary.push(`${counts.transcoding} transcoding`);
    if (counts.pending) summary.push(`${counts.pending} queued`);
    if (counts.failed) summary.push(`${counts.failed} failed`);
    heading.querySelector('#library-summary').textContent = items.length ? summary.join(' · ') : '';
    setTopbarStatus(items);
  }

  async function load() {
    timer = null;
    let next = null;
    try {
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
