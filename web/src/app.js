// manofwar web app: a library grid and an HLS player. Vanilla JS, no build step.
// Served by the `manofwar` binary next to hls.min.js, which defines window.Hls.
'use strict';

(() => {
  const POLL_MS = 2000;
  const FAST_POLL_MS = 1000;
  const IDLE_POLL_MS = 10000;
  const ERROR_RETRY_MS = 5000;
  const app = document.getElementById('app');
  const topbarStatus = document.getElementById('topbar-status');

  // ---------------------------------------------------------------- helpers

  /** Tiny DOM builder: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else if (key === 'dataset') {
        Object.assign(el.dataset, value);
      } else if (value === true) {
        el.setAttribute(key, '');
      } else {
        el.setAttribute(key, String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  class HttpError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    const res = await fetch(path, {
      ...options,
      headers: { Accept: 'application/json', ...(options.headers || {}) },
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text.trim();
      try {
        const body = JSON.parse(text);
        message = body.error || body.message || message;
      } catch {
        // Plain-text error body: use it as is.
      }
      throw new HttpError(res.status, message || `${res.status} ${res.statusText}`);
    }
    return text ? JSON.parse(text) : null;
  }

  function formatDuration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds) || seconds < 0) return '';
    const total = Math.round(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = String(total % 60).padStart(2, '0');
    return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
  }

  function formatMbps(bitsPerSecond) {
    if (!bitsPerSecond) return '';
    return bitsPerSecond >= 1e6 ? `${(bitsPerSecond / 1e6).toFixed(1)} Mbps` : `${Math.round(bitsPerSecond / 1e3)} kbps`;
  }

  const pad2 = (n) => String(n).padStart(2, '0');

  /** "2019", "S01E02", "2019 · S01E02" or "". */
  function subtitleOf(item) {
    const parts = [];
    if (item.season !== null && item.season !== undefined && item.episode !== null && item.episode !== undefined) {
      parts.push(`S${pad2(item.season)}E${pad2(item.episode)}`);
    } else if (item.episode !== null && item.episode !== undefined) {
      parts.push(`E${pad2(item.episode)}`);
    }
    if (item.year) parts.unshift(String(item.year));
    return parts.join(' · ');
  }

  function titleOf(item) {
    if (item.title) return item.title;
    const base = String(item.path || `Item ${item.id}`).split('/').pop();
    return base.replace(/\.[^.]+$/, '');
  }

  const STATE_LABELS = { pending: 'Queued', transcoding: 'Transcoding', ready: 'Ready', failed: 'Failed' };
  const isBusy = (state) => state === 'pending' || state === 'transcoding';
  const percentOf = (progress) => Math.max(0, Math.min(100, Math.floor((Number(progress) || 0) * 100)));

  function badge(state) {
    return h('span', { class: `badge badge-${state}` }, STATE_LABELS[state] || state);
  }

  function progressBar(progress) {
    const pct = percentOf(progress);
    const bar = h('div', { class: 'progress-bar', style: `width:${pct}%` });
    return h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct }, bar);
  }

  function setProgress(el, progress) {
    const pct = percentOf(progress);
    el.setAttribute('aria-valuenow', pct);
    el.firstChild.style.width = `${pct}%`;
  }

  function posterUrl(id, bust) {
    return `/api/v1/items/${encodeURIComponent(id)}/poster${bust ? `?v=${bust}` : ''}`;
  }

  /** A poster that falls back to a neutral tile with the title while the image 404s. */
  function poster(item, className) {
    const initial = (titleOf(item).match(/[\p{L}\p{N}]/u) || ['?'])[0].toUpperCase();
    const fallback = h('div', { class: 'poster-fallback', 'aria-hidden': 'true' },
      h('span', { class: 'poster-initial' }, initial),
      h('span', { class: 'poster-title' }, titleOf(item)));
    const img = h('img', { class: 'poster-img', alt: '', loading: 'lazy', decoding: 'async' });
    const wrap = h('div', { class: `${className} poster is-missing` }, fallback, img);
    img.addEventListener('load', () => wrap.classList.remove('is-missing'));
    img.addEventListener('error', () => wrap.classList.add('is-missing'));
    img.src = posterUrl(item.id);
    // Poster generation usually finishes with the transcode: ask again once it is ready.
    let lastState = item.state;
    wrap.refresh = (state) => {
      if (state === 'ready' && lastState !== 'ready' && wrap.classList.contains('is-missing')) {
        img.src = posterUrl(item.id, Date.now());
      }
      lastState = state;
    };
    return wrap;
  }

  function setTopbarStatus(items) {
    const busy = items.filter((i) => isBusy(i.state));
    const working = items.find((i) => i.state === 'transcoding');
    topbarStatus.replaceChildren();
    if (!busy.length) return;
    topbarStatus.append(
      h('span', { class: 'spinner', 'aria-hidden': 'true' }),
      working
        ? `Transcoding ${titleOf(working)} · ${percentOf(working.progress)}%${busy.length > 1 ? ` · ${busy.length - 1} queued` : ''}`
        : `${busy.length} queued`,
    );
  }

  // ---------------------------------------------------------------- library view

  function libraryView() {
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

  // ---------------------------------------------------------------- item view

  /** Describes one probed stream; tolerant of the exact field names the server uses. */
  function describeStream(s) {
    const kind = s.kind || s.type || s.codec_type || s.media_type || '';
    const codec = s.codec || s.codec_name || '';
    const bits = [];
    if (codec) bits.push(String(codec).toUpperCase());
    if (s.profile) bits.push(s.profile);
    if (s.width && s.height) bits.push(`${s.width}×${s.height}`);
    const fps = s.frame_rate || s.fps || s.frameRate;
    if (fps) bits.push(`${Math.round(Number(fps) * 100) / 100} fps`);
    if (s.channels) bits.push(channelsLabel(s.channels).toLowerCase());
    if (s.sample_rate) bits.push(`${Math.round(s.sample_rate / 100) / 10} kHz`);
    const bitrate = s.bitrate || s.bit_rate;
    if (bitrate) bits.push(formatMbps(bitrate));
    if (s.language) bits.push(languageName(s.language));
    if (s.title && s.title !== languageName(s.language)) bits.push(`“${s.title}”`);
    return { kind: kind ? kind[0].toUpperCase() + kind.slice(1) : 'Stream', text: bits.join(' · ') || '—' };
  }

  const LANGUAGE_NAMES = (() => {
    try {
      return new Intl.DisplayNames([...(navigator.languages || []), 'en'], { type: 'language' });
    } catch {
      return null;
    }
  })();

  /** "English" for "en" or "eng"; the code itself when unknown; "" for none or "und". */
  function languageName(code) {
    if (!code || /^(und|mis|mul|zxx)$/i.test(code)) return '';
    try {
      const name = LANGUAGE_NAMES && LANGUAGE_NAMES.of(String(code));
      if (name && name.toLowerCase() !== String(code).toLowerCase()) return name[0].toUpperCase() + name.slice(1);
    } catch {
      // Not a valid language tag: show it as it is.
    }
    return String(code);
  }

  function channelsLabel(channels) {
    const n = Number(channels);
    if (!n) return '';
    return { 1: 'Mono', 2: 'Stereo', 3: '2.1', 6: '5.1', 7: '6.1', 8: '7.1' }[n] || `${n} ch`;
  }

  /** Label of an audio rendition: its NAME, plus the channel layout unless the name has it. */
  function audioLabel(track) {
    const name = track.name || languageName(track.lang) || 'Audio';
    const channels = channelsLabel(track.channels);
    return channels && !name.includes(channels) ? `${name} · ${channels}` : name;
  }

  /** Label of a subtitle rendition; file names (sidecar .srt) give way to the language. */
  function subtitleLabel(track) {
    const name = String(track.name || '');
    const looksLikeFile = /\.(srt|vtt|ass|ssa|sub|txt)$/i.test(name);
    let label = (!looksLikeFile && name) || languageName(track.lang) || name || 'Subtitles';
    if (track.forced && !/forced/i.test(label)) label += ' (forced)';
    return label;
  }

  const CODEC_NAMES = { hdmv_pgs_subtitle: 'PGS', dvd_subtitle: 'VobSub', dvb_subtitle: 'DVB', subrip: 'SRT', srt: 'SRT', ass: 'ASS', ssa: 'SSA', mov_text: 'mov_text', webvtt: 'WebVTT' };
  const codecName = (codec) => CODEC_NAMES[String(codec || '').toLowerCase()] || String(codec || '').toUpperCase();

  function itemView(id) {
    const back = h('a', { class: 'back', href: '#/' }, '← Library');
    const stage = h('div', { class: 'stage' });
    const shell = h('div', { class: 'player-shell' }, stage);
    const title = h('h1', { class: 'item-title' });
    const facts = h('div', { class: 'item-facts' });
    const playerBar = h('div', { class: 'player-bar', hidden: true });
    const warnings = h('div', { class: 'notice notice-warn', id: 'warnings', role: 'status', hidden: true });
    const sections = h('div', { class: 'item-sections' });
    const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
    const details = h('div', { class: 'item-details' }, title, facts, playerBar, warnings, sections);
    const root = h('section', { class: 'item' }, back, banner, shell, details);

    let item = null;
    let timer = null;
    let destroyed = false;
    let player = null;
    let requested = false; // the user pressed play on a queued item: play as soon as it can
    let statusPanel = null;
    let ahead = null; // the item the transcoder is busy with while this one waits at the front

    function renderDetails() {
      document.title = `${titleOf(item)} · manofwar`;
      title.replaceChildren(titleOf(item));
      if (subtitleOf(item)) title.append(h('span', { class: 'item-sub' }, subtitleOf(item)));
      const renditions = item.renditions || [];
      const top = renditions.reduce((best, r) => (!best || (r.height || 0) > (best.height || 0) ? r : best), null);
      const audio = item.audio || [];
      const subtitles = item.subtitles || [];
      facts.replaceChildren(...[
        badge(item.state),
        item.duration_s ? h('span', { class: 'fact' }, formatDuration(item.duration_s)) : null,
        top ? h('span', { class: 'fact' }, `up to ${top.height ? `${top.height}p` : top.name}`) : null,
        audio.length > 1 ? h('span', { class: 'fact' }, `${audio.length} audio tracks`) : null,
        subtitles.some((s) => s.converted) ? h('span', { class: 'fact' }, 'subtitles') : null,
      ].filter(Boolean));

      const notes = Array.isArray(item.warnings) ? item.warnings.filter(Boolean) : [];
      warnings.hidden = notes.length === 0;
      warnings.replaceChildren(
        h('strong', {}, notes.length === 1 ? 'Heads-up' : `${notes.length} heads-ups`),
        h('ul', {}, notes.map((w) => h('li', {}, String(w)))));

      const blocks = [];
      if (renditions.length) {
        blocks.push(h('div', { class: 'section' },
          h('h2', {}, 'Renditions'),
          h('ul', { class: 'chips' }, renditions.map((r) =>
            h('li', { class: `chip${r.source ? ' chip-source' : ''}`, title: r.codecs || '' },
              h('strong', {}, r.source ? 'Source' : r.name || `${r.height}p`),
              r.width && r.height ? ` ${r.width}×${r.height}` : '',
              r.average_bandwidth || r.bandwidth ? ` · ${formatMbps(r.average_bandwidth || r.bandwidth)}` : '',
              r.source ? h('span', { class: 'chip-tag' }, 'remux') : '')))));
      }
      if (audio.length) {
        blocks.push(h('div', { class: 'section', id: 'audio-tracks' },
          h('h2', {}, 'Audio'),
          h('ul', { class: 'chips' }, audio.map((a) =>
            h('li', { class: 'chip', title: [a.name, a.codecs].filter(Boolean).join(' · ') },
              h('strong', {}, a.title || languageName(a.language) || a.name || 'Audio'),
              a.title && a.language && languageName(a.language) !== a.title ? ` ${languageName(a.language)}` : '',
              a.channels ? ` · ${channelsLabel(a.channels)}` : '',
              a.default ? h('span', { class: 'chip-tag' }, 'default') : '')))));
      }
      if (subtitles.length) {
        const ok = subtitles.filter((s) => s.converted);
        const skipped = subtitles.filter((s) => !s.converted);
        blocks.push(h('div', { class: 'section', id: 'subtitle-tracks' },
          h('h2', {}, 'Subtitles'),
          ok.length ? h('ul', { class: 'chips' }, ok.map((s) =>
            h('li', { class: 'chip', title: s.source || '' },
              h('strong', {}, languageName(s.language) || 'Unknown language'),
              ` · ${codecName(s.codec)}`,
              s.source && /\.[a-z0-9]+$/i.test(s.source) ? h('span', { class: 'chip-tag' }, 'file') : ''))) : null,
          skipped.length ? h('ul', { class: 'unconverted', id: 'subtitles-unconverted' }, skipped.map((s) =>
            h('li', {},
              h('span', { class: 'unconverted-name' },
                [languageName(s.language) || 'Unknown language', codecName(s.codec)].filter(Boolean).join(' · ')),
              h('span', { class: 'unconverted-reason' }, s.reason || 'not converted'),
              s.source ? h('span', { class: 'unconverted-source' }, s.source) : null))) : null));
      }
      if (item.streams && item.streams.length) {
        blocks.push(h('div', { class: 'section' },
          h('h2', {}, 'Source'),
          h('dl', { class: 'streams' }, item.streams.flatMap((s) => {
            const d = describeStream(s);
            return [h('dt', {}, d.kind), h('dd', {}, d.text)];
          }))));
      }
      if (item.path) {
        blocks.push(h('div', { class: 'section' }, h('h2', {}, 'File'), h('code', { class: 'path' }, item.path)));
      }
      sections.replaceChildren(...blocks);
    }

    function renderStatus() {
      if (!statusPanel) {
        const art = poster(item, 'stage-poster');
        const panel = h('div', { class: 'status-panel' });
        stage.replaceChildren(art, panel);
        statusPanel = { art, panel };
      }
      statusPanel.art.refresh(item.state);
      const pct = percentOf(item.progress);
      const children = [];
      if (item.state === 'transcoding') {
        children.push(h('div', { class: 'status-title' }, h('span', { class: 'spinner' }), `Preparing playback · ${pct}%`),
          h('div', { class: 'status-progress' }, progressBar(item.progress)),
          h('p', { class: 'status-text' }, 'Playback starts as soon as the first seconds are ready.'));
      } else if (item.state === 'pending' && requested) {
        children.push(h('div', { class: 'status-title' }, h('span', { class: 'spinner' }), ahead ? 'Up next' : 'Starting…'),
          h('p', { class: 'status-text' }, ahead
            ? ['First in the queue, right after ', h('strong', {}, titleOf(ahead)), ` (${percentOf(ahead.progress)}% done). It plays by itself as soon as its first seconds are ready.`]
            : 'First in the queue. Playback starts as soon as the first seconds are ready.'));
      } else if (item.state === 'pending') {
        const play = h('button', { class: 'play-big', id: 'play-now', type: 'button', 'aria-label': 'Play now', onclick: playNow });
        play.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M8 5.5v13l11-6.5z"/></svg>';
        children.push(play,
          h('div', { class: 'status-title' }, 'Not transcoded yet'),
          h('p', { class: 'status-text' }, 'Press play to move it to the front of the transcode queue; playback starts as soon as its first seconds are ready.'));
      } else if (item.state === 'failed') {
        children.push(h('div', { class: 'status-title' }, 'Transcoding failed'),
          h('p', { class: 'status-error', id: 'item-error' }, item.error || 'Unknown error.'),
          h('button', { class: 'button button-primary', id: 'transcode', type: 'button', onclick: playNow }, 'Retry'));
      }
      statusPanel.panel.replaceChildren(...children);
    }

    async function playNow(event) {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await api(`/api/v1/items/${encodeURIComponent(id)}/transcode`, { method: 'POST' });
        requested = true;
        banner.hidden = true;
        if (item.state === 'failed') item = { ...item, state: 'pending', error: null, progress: 0 };
        renderDetails();
        renderStatus();
        schedule(0);
      } catch (err) {
        button.disabled = false;
        const note = statusPanel.panel.querySelector('.status-note') || h('p', { class: 'status-note', role: 'alert' });
        note.textContent = err.status === 409
          ? 'The server cannot transcode this file as it is. Replace or repair it; changed files are picked up again automatically.'
          : `Could not start the transcode: ${err.message}`;
        statusPanel.panel.append(note);
      }
    }

    function schedule(ms) {
      if (timer) clearTimeout(timer);
      if (!destroyed) timer = setTimeout(load, ms);
    }

    async function load() {
      timer = null;
      try {
        const fresh = await api(`/api/v1/items/${encodeURIComponent(id)}`);
        if (destroyed) return;
        item = fresh;
        banner.hidden = true;
        renderDetails();
        const src = item.hls_url || (item.state === 'ready' ? `/hls/${encodeURIComponent(item.id)}/master.m3u8` : null);
        if (player) {
          player.update(item);
        } else if (src) {
          // Fast start: an item that is still transcoding plays as soon as its first segments exist
          // (and one queued again keeps playing its previous package).
          statusPanel = null;
          player = createPlayer(item, src, { stage, shell, bar: playerBar, autoplay: requested });
        } else {
          if (item.state === 'failed') requested = false;
          ahead = null;
          if (item.state === 'pending' && requested) {
            // Jumping the queue does not interrupt a transcode in progress: say what it waits for.
            const list = await api('/api/v1/items').catch(() => null);
            if (destroyed) return;
            ahead = ((list && list.items) || []).find((i) => i.state === 'transcoding' && String(i.id) !== String(item.id)) || null;
          }
          renderStatus();
        }
        if (isBusy(item.state)) schedule(requested && !player ? FAST_POLL_MS : POLL_MS);
      } catch (err) {
        if (destroyed) return;
        if (err.status === 404) {
          stage.replaceChildren(h('div', { class: 'empty' }, h('h2', {}, 'Not found'),
            h('p', {}, 'This item is not in the library (any more).'), h('a', { class: 'button', href: '#/' }, 'Back to the library')));
          title.textContent = '';
          return;
        }
        banner.hidden = false;
        banner.textContent = `Could not load this item: ${err.message}. Retrying…`;
        schedule(ERROR_RETRY_MS);
      }
    }

    stage.append(h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…'));
    load();
    return {
      root,
      nav: 'library',
      destroy() {
        destroyed = true;
        if (timer) clearTimeout(timer);
        if (player) player.destroy();
      },
    };
  }

  // ---------------------------------------------------------------- scrub bar with previews

  function parseVttTime(text) {
    const m = String(text).trim().match(/^(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?$/);
    if (!m) return NaN;
    return (Number(m[1] || 0) * 3600) + (Number(m[2]) * 60) + Number(m[3]) + (Number((m[4] || '0').padEnd(3, '0')) / 1000);
  }

  /** Parses a thumbnail index: cues whose text is `sheet.jpg#xywh=x,y,w,h`, relative to `base`. */
  function parseThumbnailVtt(text, base) {
    const cues = [];
    for (const block of String(text).replace(/\r\n?/g, '\n').split(/\n{2,}/)) {
      const lines = block.split('\n').map((l) => l.trim()).filter(Boolean);
      const at = lines.findIndex((l) => l.includes('-->'));
      if (at < 0 || !lines[at + 1]) continue;
      const [from, to] = lines[at].split('-->').map((s) => parseVttTime(s.trim().split(/\s+/)[0]));
      let url;
      try {
        url = new URL(lines[at + 1], base);
      } catch {
        continue;
      }
      const m = url.hash.match(/^#xywh=(\d+),(\d+),(\d+),(\d+)$/);
      if (!m || !isFinite(from)) continue;
      url.hash = '';
      cues.push({ start: from, end: isFinite(to) ? to : from, url: url.href, x: +m[1], y: +m[2], w: +m[3], h: +m[4] });
    }
    return cues.sort((a, b) => a.start - b.start);
  }

  function formatClock(seconds) {
    if (!isFinite(seconds) || seconds < 0) seconds = 0;
    const total = Math.floor(seconds);
    const hours = Math.floor(total / 3600);
    const minutes = Math.floor((total % 3600) / 60);
    const secs = pad2(total % 60);
    return hours > 0 ? `${hours}:${pad2(minutes)}:${secs}` : `${minutes}:${secs}`;
  }

  /**
   * A seek bar under the video: played / buffered / transcoded ranges, a thumbnail preview and
   * the time on hover, click or drag to seek, arrow keys. The native controls stay as they are.
   */
  function createScrubber(video, { duration }) {
    const available = h('div', { class: 'scrub-available' });
    const buffered = h('div', { class: 'scrub-buffered' });
    const hover = h('div', { class: 'scrub-hover' });
    const played = h('div', { class: 'scrub-played' });
    const handle = h('div', { class: 'scrub-handle' });
    const rail = h('div', { class: 'scrub-rail' }, available, buffered, hover, played, handle);
    const thumb = h('div', { class: 'scrub-thumb', id: 'scrub-thumb', hidden: true });
    const previewTime = h('div', { class: 'scrub-preview-time', id: 'scrub-preview-time' });
    const preview = h('div', { class: 'scrub-preview', id: 'scrub-preview', hidden: true, 'aria-hidden': 'true' }, thumb, previewTime);
    const track = h('div', {
      class: 'scrub-track', id: 'scrub', role: 'slider', tabindex: '0', 'aria-label': 'Seek', 'aria-valuemin': '0',
    }, rail, preview);
    const current = h('span', { class: 'scrub-time', id: 'scrub-current' }, '0:00');
    const total = h('span', { class: 'scrub-time scrub-total', id: 'scrub-total' }, '');
    const el = h('div', { class: 'scrubber' }, current, track, total);

    let knownDuration = Number(duration) || 0;
    let availableEnd = null; // seconds transcoded so far, while the item is still transcoding
    let cues = [];
    let dragging = null; // seconds under the pointer while dragging
    let frame = 0;
    let hoverX = null;

    const length = () => Math.max(knownDuration, isFinite(video.duration) ? video.duration : 0);
    const limit = () => (availableEnd === null ? length() : Math.min(length(), availableEnd));
    const pct = (t) => `${Math.max(0, Math.min(100, (t / (length() || 1)) * 100))}%`;

    function thumbnailAt(t) {
      if (!cues.length) return null;
      let lo = 0;
      let hi = cues.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (cues[mid].start <= t) lo = mid;
        else hi = mid - 1;
      }
      return cues[lo];
    }

    function render() {
      const d = length();
      const t = dragging !== null ? dragging : video.currentTime;
      played.style.width = pct(t);
      handle.style.left = pct(t);
      let end = 0;
      const b = video.buffered;
      for (let i = 0; i < b.length; i += 1) {
        if (b.start(i) <= video.currentTime + 0.5 && b.end(i) >= video.currentTime) end = b.end(i);
      }
      buffered.style.width = pct(end);
      available.style.width = availableEnd === null ? '100%' : pct(availableEnd);
      el.classList.toggle('is-partial', availableEnd !== null);
      current.textContent = formatClock(t);
      total.textContent = d ? formatClock(d) : '';
      track.setAttribute('aria-valuemax', String(Math.round(d)));
      track.setAttribute('aria-valuenow', String(Math.round(t)));
      track.setAttribute('aria-valuetext', `${formatClock(t)} of ${formatClock(d)}`);
    }

    function loop() {
      render();
      frame = !video.paused && !video.ended ? requestAnimationFrame(loop) : 0;
    }

    function timeAt(clientX) {
      const rect = track.getBoundingClientRect();
      const ratio = rect.width ? Math.max(0, Math.min(1, (clientX - rect.left) / rect.width)) : 0;
      return { t: ratio * length(), x: ratio * rect.width, width: rect.width };
    }

    function showPreview(clientX) {
      const d = length();
      if (!d) return;
      const { t, x, width } = timeAt(clientX);
      hoverX = clientX;
      const cue = thumbnailAt(t);
      const ready = availableEnd === null || t <= availableEnd;
      if (cue && ready) {
        thumb.hidden = false;
        thumb.style.width = `${cue.w}px`;
        thumb.style.height = `${cue.h}px`;
        thumb.style.backgroundImage = `url("${cue.url}")`;
        thumb.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
        thumb.dataset.sprite = cue.url;
        thumb.dataset.xywh = `${cue.x},${cue.y},${cue.w},${cue.h}`;
      } else {
        thumb.hidden = true;
      }
      previewTime.textContent = ready ? formatClock(t) : `${formatClock(t)} · not transcoded yet`;
      preview.hidden = false;
      hover.style.width = pct(t);
      hover.hidden = false;
      // Keep the bubble inside the bar.
      const half = preview.offsetWidth / 2;
      preview.style.left = `${Math.max(half, Math.min(width - half, x))}px`;
    }

    function hidePreview() {
      if (dragging !== null) return;
      hoverX = null;
      preview.hidden = true;
      hover.hidden = true;
    }

    function seek(t) {
      const end = limit();
      const target = Math.max(0, Math.min(t, end > 0.5 ? end - 0.25 : end));
      video.currentTime = target;
      render();
    }

    track.addEventListener('pointermove', (e) => {
      showPreview(e.clientX);
      if (dragging !== null) {
        dragging = timeAt(e.clientX).t;
        render();
      }
    });
    track.addEventListener('pointerleave', hidePreview);
    track.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || !length()) return;
      e.preventDefault();
      track.focus({ preventScroll: true });
      track.setPointerCapture(e.pointerId);
      dragging = timeAt(e.clientX).t;
      el.classList.add('is-dragging');
      showPreview(e.clientX);
      render();
    });
    const endDrag = (e) => {
      if (dragging === null) return;
      const t = timeAt(e.clientX).t;
      dragging = null;
      el.classList.remove('is-dragging');
      seek(t);
      if (e.type === 'pointercancel' || !track.matches(':hover')) hidePreview();
    };
    track.addEventListener('pointerup', endDrag);
    track.addEventListener('pointercancel', endDrag);
    track.addEventListener('keydown', (e) => {
      const d = length();
      const step = { ArrowLeft: -5, ArrowRight: 5, ArrowDown: -5, ArrowUp: 5, PageDown: -d / 10, PageUp: d / 10 }[e.key];
      if (step !== undefined) seek(video.currentTime + step);
      else if (e.key === 'Home') seek(0);
      else if (e.key === 'End') seek(limit());
      else return;
      e.preventDefault();
    });
    const events = ['timeupdate', 'progress', 'durationchange', 'seeking', 'seeked', 'loadedmetadata', 'emptied'];
    for (const name of events) video.addEventListener(name, render);
    video.addEventListener('play', () => {
      if (!frame) frame = requestAnimationFrame(loop);
    });
    render();

    return {
      el,
      setDuration(seconds) {
        if (Number(seconds) > 0) knownDuration = Number(seconds);
        render();
      },
      /** Seconds playable so far while transcoding; null once everything is there. */
      setAvailable(seconds) {
        availableEnd = seconds === null || seconds === undefined ? null : Number(seconds);
        render();
      },
      setThumbnails(list) {
        cues = list || [];
        // Warm the cache so the first hover shows a picture at once.
        for (const url of new Set(cues.map((c) => c.url))) new Image().src = url;
        if (hoverX !== null) showPreview(hoverX);
      },
      destroy() {
        if (frame) cancelAnimationFrame(frame);
        frame = 0;
      },
    };
  }

  // ---------------------------------------------------------------- player

  function levelLabel(level, renditions) {
    const match = (renditions || []).find((r) =>
      (r.height && r.height === level.height && (!r.width || r.width === level.width)) ||
      (r.bandwidth && r.bandwidth === level.bitrate));
    let name = (match && match.name) || level.name || (level.height ? `${level.height}p` : formatMbps(level.bitrate));
    if ((match && match.source) || name === 'source') name = level.height ? `Source ${level.height}p` : 'Source';
    const rate = formatMbps(level.averageBitrate || level.bitrate);
    return rate ? `${name} · ${rate}` : name;
  }

  function control(label, select, id) {
    return h('label', { class: 'control', id }, h('span', { class: 'control-label' }, label), select);
  }

  function createPlayer(initialItem, src, { stage, shell, bar, autoplay }) {
    let item = initialItem;
    const video = h('video', {
      id: 'player', controls: true, playsinline: true, preload: 'auto', poster: posterUrl(item.id),
    });
    const overlay = h('div', { class: 'player-error', hidden: true, role: 'alert' });
    stage.replaceChildren(h('div', { class: 'player' }, video, overlay));
    const scrubber = createScrubber(video, { duration: item.duration_s });
    shell.append(scrubber.el);

    const quality = h('select', { id: 'quality', 'aria-label': 'Quality' }, h('option', { value: '-1' }, 'Auto'));
    const audioSelect = h('select', { id: 'audio', 'aria-label': 'Audio track' });
    const subsSelect = h('select', { id: 'subtitles', 'aria-label': 'Subtitles' }, h('option', { value: '-1' }, 'Off'));
    const audioControl = control('Audio', audioSelect, 'audio-control');
    const subsControl = control('Subtitles', subsSelect, 'subtitles-control');
    audioControl.hidden = true;
    subsControl.hidden = true;
    const nowPlaying = h('span', { class: 'now-playing', id: 'now-playing' }, '');
    const note = h('span', { class: 'transcode-note', id: 'transcode-note', role: 'status', hidden: true });
    bar.replaceChildren(
      h('div', { class: 'controls' }, control('Quality', quality, 'quality-control'), audioControl, subsControl),
      h('div', { class: 'player-status' }, note, nowPlaying));
    bar.hidden = false;

    const showError = (message) => {
      overlay.hidden = false;
      overlay.textContent = message;
    };

    let hls = null;
    let thumbsUrl = null;
    let restore = null; // selections to carry over a manifest reload
    let reloadIfIncomplete = () => false;
    const Hls = window.Hls;

    function renderNote() {
      if (item.state === 'transcoding') {
        note.hidden = false;
        note.className = 'transcode-note';
        note.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }),
          `Still transcoding · ${percentOf(item.progress)}%`);
      } else if (item.state === 'failed') {
        note.hidden = false;
        note.className = 'transcode-note transcode-note-bad';
        note.replaceChildren(`Transcoding stopped: ${item.error || 'unknown error'}`);
      } else {
        note.hidden = true;
      }
    }

    async function loadThumbnails(url) {
      thumbsUrl = url;
      try {
        const abs = new URL(url, location.href);
        const res = await fetch(abs);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const cues = parseThumbnailVtt(await res.text(), abs);
        if (thumbsUrl === url) scrubber.setThumbnails(cues);
      } catch (err) {
        if (thumbsUrl === url) thumbsUrl = null; // try again on the next update
        console.warn(`thumbnails: ${url}: ${err.message}`);
      }
    }

    if (Hls && Hls.isSupported()) {
      // startPosition 0: a still-transcoding item has EVENT playlists, which hls.js treats like live
      // streams and would otherwise start near the newest segment rather than at the beginning.
      hls = new Hls({ capLevelToPlayerSize: false, startLevel: -1, startPosition: 0, backBufferLength: 30 });
      let playingLevel = -1;
      let mediaRecoveries = 0;
      let networkRetries = 0;

      const refreshLabels = () => {
        const auto = hls.autoLevelEnabled;
        const level = hls.levels[playingLevel];
        quality.options[0].textContent = auto && level ? `Auto · ${levelLabel(level, item.renditions).split(' · ')[0]}` : 'Auto';
        quality.value = auto ? '-1' : String(hls.manualLevel >= 0 ? hls.manualLevel : playingLevel);
        if (level) {
          nowPlaying.replaceChildren(h('span', { class: 'dot' }), 'Playing ',
            h('strong', {}, levelLabel(level, item.renditions)),
            level.width && level.height ? ` · ${level.width}×${level.height}` : '');
        }
      };

      const renderAudio = () => {
        const tracks = hls.audioTracks || [];
        audioSelect.replaceChildren(...tracks.map((t, i) =>
          h('option', { value: String(i), title: [t.lang, t.audioCodec].filter(Boolean).join(' · ') }, audioLabel(t))));
        // Before hls.js has picked one (-1), show the track it is about to pick.
        const fallback = Math.max(0, tracks.findIndex((t) => t.default));
        audioSelect.value = String(hls.audioTrack >= 0 ? hls.audioTrack : fallback);
        audioControl.hidden = tracks.length < 2;
      };
      const renderSubtitles = () => {
        const tracks = hls.subtitleTracks || [];
        subsSelect.replaceChildren(h('option', { value: '-1' }, 'Off'),
          ...tracks.map((t, i) => h('option', { value: String(i), title: t.name || '' }, subtitleLabel(t))));
        subsSelect.value = String(hls.subtitleDisplay ? hls.subtitleTrack : -1);
        subsControl.hidden = tracks.length === 0;
      };
      const sameTrack = (a, b) => a && b && a.name === b.name && (a.lang || '') === (b.lang || '');

      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        const options = hls.levels
          .map((level, index) => ({ level, index }))
          .sort((a, b) => (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate));
        quality.replaceChildren(h('option', { value: '-1' }, 'Auto'),
          ...options.map(({ level, index }) => h('option', { value: String(index) }, levelLabel(level, item.renditions))));
        quality.value = '-1';
        if (autoplay || (restore && restore.resume)) video.play().catch(() => {});
        autoplay = false;
      });
      hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => {
        if (restore && restore.audio) {
          const index = hls.audioTracks.findIndex((t) => sameTrack(t, restore.audio));
          if (index >= 0 && index !== hls.audioTrack) hls.audioTrack = index;
          restore.audio = null;
        }
        renderAudio();
      });
      hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_event, data) => {
        audioSelect.value = String(data.id);
      });
      hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
        if (restore && restore.subtitle) {
          const index = hls.subtitleTracks.findIndex((t) => sameTrack(t, restore.subtitle));
          if (index >= 0) {
            hls.subtitleDisplay = true;
            hls.subtitleTrack = index;
          }
          restore.subtitle = null;
        }
        renderSubtitles();
      });
      hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (_event, data) => {
        subsSelect.value = String(hls.subtitleDisplay ? data.id : -1);
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
        playingLevel = data.level;
        refreshLabels();
      });
      const onLevelDetails = (_event, data) => {
        const d = data.details;
        // While transcoding the playlists are EVENT playlists (live to hls.js): seek only within
        // what exists. Once EXT-X-ENDLIST is there, the whole item is.
        scrubber.setAvailable(d.live ? d.edge : null);
      };
      hls.on(Hls.Events.LEVEL_LOADED, onLevelDetails);
      hls.on(Hls.Events.LEVEL_UPDATED, onLevelDetails);
      hls.on(Hls.Events.FRAG_LOADED, () => {
        networkRetries = 0;
      });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
          mediaRecoveries += 1;
          if (mediaRecoveries === 2) hls.swapAudioCodec();
          hls.recoverMediaError();
        } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR && networkRetries < 3) {
          networkRetries += 1;
          setTimeout(() => hls && hls.startLoad(), 1000 * networkRetries);
        } else {
          showError(`Playback failed: ${data.details}${data.error ? ` (${data.error.message})` : ''}`);
          hls.destroy();
          hls = null;
          window.manofwarPlayer = { hls: null, video };
        }
      });
      quality.addEventListener('change', () => {
        hls.currentLevel = Number(quality.value);
        refreshLabels();
      });
      audioSelect.addEventListener('change', () => {
        hls.audioTrack = Number(audioSelect.value);
      });
      subsSelect.addEventListener('change', () => {
        const index = Number(subsSelect.value);
        hls.subtitleDisplay = index >= 0;
        hls.subtitleTrack = index;
      });

      /**
       * The master playlist of a still-transcoding item lists only what was ready when it was
       * fetched; once the item is done, load it again (same position, same tracks) so every
       * quality, audio track and subtitle shows up.
       */
      reloadIfIncomplete = (fresh) => {
        const videoRungs = (fresh.renditions || []).length;
        const audioTracks = (fresh.audio || []).length;
        const subtitleTracks = (fresh.subtitles || []).filter((s) => s.converted).length;
        if (hls.levels.length >= videoRungs && hls.audioTracks.length >= audioTracks &&
            hls.subtitleTracks.length >= subtitleTracks) return false;
        restore = {
          resume: !video.paused && !video.ended,
          audio: hls.audioTracks[hls.audioTrack] || null,
          subtitle: hls.subtitleDisplay ? hls.subtitleTracks[hls.subtitleTrack] || null : null,
        };
        hls.config.startPosition = video.currentTime;
        hls.loadSource(src);
        return true;
      };

      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Safari / iOS: native HLS; the browser picks the rendition and offers the tracks itself.
      video.src = src;
      quality.disabled = true;
      nowPlaying.textContent = 'Native HLS playback';
      if (autoplay) video.play().catch(() => {});
    } else {
      showError('This browser cannot play HLS video (no Media Source Extensions).');
      quality.disabled = true;
    }

    video.addEventListener('error', () => {
      if (!hls && video.error) showError(`Playback failed: ${video.error.message || `media error ${video.error.code}`}`);
    });

    function update(fresh) {
      const was = item;
      item = fresh;
      renderNote();
      scrubber.setDuration(item.duration_s);
      if (item.thumbnails_url && item.thumbnails_url !== thumbsUrl) loadThumbnails(item.thumbnails_url);
      if (was.state !== 'ready' && item.state === 'ready' && hls) reloadIfIncomplete(item);
    }
    renderNote();
    if (item.thumbnails_url) loadThumbnails(item.thumbnails_url);

    window.manofwarPlayer = { hls, video, scrubber };
    return {
      update,
      destroy() {
        scrubber.destroy();
        if (hls) hls.destroy();
        hls = null;
        video.removeAttribute('src');
        video.load();
        if (window.manofwarPlayer && window.manofwarPlayer.video === video) window.manofwarPlayer = undefined;
      },
    };
  }

  // ---------------------------------------------------------------- router

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
})();
