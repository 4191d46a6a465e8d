// manofwar web app: a library grid and an HLS player. Vanilla JS, no build step.
// Served by the `manofwar` binary next to hls.min.js, which defines window.Hls.
'use strict';

(() => {
  const POLL_MS = 2000;
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
    if (s.channels) bits.push(s.channels === 2 ? 'stereo' : s.channels === 1 ? 'mono' : `${s.channels} ch`);
    if (s.sample_rate) bits.push(`${Math.round(s.sample_rate / 100) / 10} kHz`);
    const bitrate = s.bitrate || s.bit_rate;
    if (bitrate) bits.push(formatMbps(bitrate));
    if (s.language) bits.push(s.language);
    if (s.title) bits.push(`“${s.title}”`);
    return { kind: kind ? kind[0].toUpperCase() + kind.slice(1) : 'Stream', text: bits.join(' · ') || '—' };
  }

  function itemView(id) {
    const back = h('a', { class: 'back', href: '#/' }, '← Library');
    const stage = h('div', { class: 'stage' });
    const title = h('h1', { class: 'item-title' });
    const facts = h('div', { class: 'item-facts' });
    const playerBar = h('div', { class: 'player-bar', hidden: true });
    const sections = h('div', { class: 'item-sections' });
    const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
    const details = h('div', { class: 'item-details' }, title, facts, playerBar, sections);
    const root = h('section', { class: 'item' }, back, banner, stage, details);

    let item = null;
    let timer = null;
    let destroyed = false;
    let player = null;
    let requested = false; // the user asked to transcode now: start playback once ready
    let statusPanel = null;

    function renderDetails() {
      document.title = `${titleOf(item)} · manofwar`;
      title.replaceChildren(titleOf(item));
      if (subtitleOf(item)) title.append(h('span', { class: 'item-sub' }, subtitleOf(item)));
      facts.replaceChildren(...[
        badge(item.state),
        item.duration_s ? h('span', { class: 'fact' }, formatDuration(item.duration_s)) : null,
        ...(() => {
          const renditions = item.renditions || [];
          const top = renditions.reduce((best, r) => (!best || (r.height || 0) > (best.height || 0) ? r : best), null);
          return top ? [h('span', { class: 'fact' }, `up to ${top.name || `${top.height}p`}`)] : [];
        })(),
      ].filter(Boolean));

      const blocks = [];
      if (item.renditions && item.renditions.length) {
        blocks.push(h('div', { class: 'section' },
          h('h2', {}, 'Renditions'),
          h('ul', { class: 'chips' }, item.renditions.map((r) =>
            h('li', { class: 'chip', title: r.codecs || '' },
              h('strong', {}, r.name || `${r.height}p`),
              r.width && r.height ? ` ${r.width}×${r.height}` : '',
              r.average_bandwidth || r.bandwidth ? ` · ${formatMbps(r.average_bandwidth || r.bandwidth)}` : '')))));
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
        children.push(h('div', { class: 'status-title' }, 'Transcoding…'),
          h('div', { class: 'status-progress' }, progressBar(item.progress), h('span', { class: 'status-pct' }, `${pct}%`)),
          h('p', { class: 'status-text' }, 'Playback starts as soon as every rendition is ready.'));
      } else if (item.state === 'pending') {
        children.push(h('div', { class: 'status-title' }, requested ? 'Up next' : 'Waiting to be transcoded'),
          h('p', { class: 'status-text' }, requested
            ? 'This item is at the front of the queue.'
            : 'It is in the transcode queue. Jump the queue to watch it sooner.'));
      } else if (item.state === 'failed') {
        children.push(h('div', { class: 'status-title' }, 'Transcoding failed'),
          h('p', { class: 'status-error', id: 'item-error' }, item.error || 'Unknown error.'));
      }
      if (item.state === 'pending' || item.state === 'failed') {
        const label = item.state === 'failed' ? 'Retry' : 'Transcode now';
        children.push(h('button', { class: 'button button-primary', id: 'transcode', type: 'button', onclick: transcodeNow, disabled: requested && item.state === 'pending' },
          requested && item.state === 'pending' ? 'Queued' : label));
      }
      statusPanel.panel.replaceChildren(...children);
    }

    async function transcodeNow(event) {
      const button = event.currentTarget;
      button.disabled = true;
      button.textContent = 'Requesting…';
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
        button.textContent = item.state === 'failed' ? 'Retry' : 'Transcode now';
        const note = button.parentNode.querySelector('.status-note') || h('p', { class: 'status-note', role: 'alert' });
        note.textContent = err.status === 409
          ? 'The server cannot transcode this file as it is. Replace or repair it; changed files are picked up again automatically.'
          : `Could not start the transcode: ${err.message}`;
        button.after(note);
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
        if (item.state === 'ready') {
          if (!player) {
            statusPanel = null;
            // Start playing by itself only when the user asked for this transcode and waited.
            player = createPlayer(item, stage, playerBar, { autoplay: requested });
          }
        } else {
          if (item.state === 'failed') requested = false;
          renderStatus();
          if (isBusy(item.state)) schedule(POLL_MS);
        }
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

  // ---------------------------------------------------------------- player

  function levelLabel(level, renditions) {
    const match = (renditions || []).find((r) =>
      (r.height && r.height === level.height && (!r.width || r.width === level.width)) ||
      (r.bandwidth && r.bandwidth === level.bitrate));
    const name = (match && match.name) || level.name || (level.height ? `${level.height}p` : formatMbps(level.bitrate));
    const rate = formatMbps(level.averageBitrate || level.bitrate);
    return rate ? `${name} · ${rate}` : name;
  }

  function createPlayer(item, stage, bar, { autoplay }) {
    const src = `/hls/${encodeURIComponent(item.id)}/master.m3u8`;
    const video = h('video', {
      id: 'player', controls: true, playsinline: true, preload: 'auto', poster: posterUrl(item.id),
    });
    const overlay = h('div', { class: 'player-error', hidden: true, role: 'alert' });
    stage.replaceChildren(h('div', { class: 'player' }, video, overlay));

    const select = h('select', { id: 'quality', 'aria-label': 'Quality' }, h('option', { value: '-1' }, 'Auto'));
    const nowPlaying = h('span', { class: 'now-playing', id: 'now-playing' }, '');
    bar.replaceChildren(
      h('label', { class: 'quality' }, h('span', { class: 'quality-label' }, 'Quality'), select),
      nowPlaying);
    bar.hidden = false;

    const showError = (message) => {
      overlay.hidden = false;
      overlay.textContent = message;
    };

    let hls = null;
    if (window.Hls && window.Hls.isSupported()) {
      const Hls = window.Hls;
      hls = new Hls({ capLevelToPlayerSize: false, startLevel: -1, backBufferLength: 30 });
      let playingLevel = -1;
      let mediaRecoveries = 0;
      let networkRetries = 0;

      const refreshLabels = () => {
        const auto = hls.autoLevelEnabled;
        const level = hls.levels[playingLevel];
        select.options[0].textContent = auto && level ? `Auto · ${levelLabel(level, item.renditions).split(' · ')[0]}` : 'Auto';
        select.value = auto ? '-1' : String(hls.manualLevel >= 0 ? hls.manualLevel : playingLevel);
        if (level) {
          nowPlaying.replaceChildren(h('span', { class: 'dot' }), 'Playing ',
            h('strong', {}, levelLabel(level, item.renditions)),
            level.width && level.height ? ` · ${level.width}×${level.height}` : '');
        }
      };

      hls.on(Hls.Events.MANIFEST_PARSED, () => {
        const options = hls.levels
          .map((level, index) => ({ level, index }))
          .sort((a, b) => (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate));
        select.replaceChildren(h('option', { value: '-1' }, 'Auto'),
          ...options.map(({ level, index }) => h('option', { value: String(index) }, levelLabel(level, item.renditions))));
        select.value = '-1';
        if (autoplay) video.play().catch(() => {});
      });
      hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
        playingLevel = data.level;
        refreshLabels();
      });
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
        }
      });
      select.addEventListener('change', () => {
        hls.currentLevel = Number(select.value);
        refreshLabels();
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      // Safari / iOS: native HLS; the browser picks the rendition.
      video.src = src;
      select.disabled = true;
      nowPlaying.textContent = 'Native HLS playback';
      if (autoplay) video.play().catch(() => {});
    } else {
      showError('This browser cannot play HLS video (no Media Source Extensions).');
      select.disabled = true;
    }

    video.addEventListener('error', () => {
      if (!hls && video.error) showError(`Playback failed: ${video.error.message || `media error ${video.error.code}`}`);
    });

    window.manofwarPlayer = { hls, video };
    return {
      destroy() {
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
