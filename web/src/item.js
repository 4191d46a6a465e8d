// The item view: details, streams, transcode status and the player.

import {
  POLL_MS, FAST_POLL_MS, ERROR_RETRY_MS, h, api, formatDuration, formatMbps, subtitleOf, titleOf,
  isBusy, percentOf, badge, progressBar, poster, session,
} from './dom.js';
import { describeStream, languageName, channelsLabel, codecName } from './labels.js';
import { createPlayer } from './player.js';
import { resumePosition, savedPosition, trackPosition } from './resume.js';

/** Guests watch, but may not queue transcodes (the server answers 403). */
const isGuest = () => Boolean(session.user && session.user.role === 'guest');

/**
 * The item page's layout (a library item's, or a friend's): a back link, an error banner, the
 * player's stage ("Loading…" at first), the title, the facts and the player bar, then `extra`.
 */
export function itemFrame(backHref, backLabel, ...extra) {
  const stage = h('div', { class: 'stage' }, h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…'));
  const shell = h('div', { class: 'player-shell' }, stage);
  const title = h('h1', { class: 'item-title' });
  const facts = h('div', { class: 'item-facts' });
  const playerBar = h('div', { class: 'player-bar', hidden: true });
  const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
  const root = h('section', { class: 'item' }, h('a', { class: 'back', href: backHref }, backLabel), banner, shell,
    h('div', { class: 'item-details' }, title, facts, playerBar, ...extra));
  return {
    root, stage, shell, title, facts, playerBar, banner,
    /** The heading and the window's title: the item's title, and its year or episode. */
    showTitle(item) {
      document.title = `${titleOf(item)} · manofwar`;
      title.replaceChildren(titleOf(item));
      if (subtitleOf(item)) title.append(h('span', { class: 'item-sub' }, subtitleOf(item)));
    },
    /** Instead of the player: the item is gone (`text` says from where), and a way back. */
    showNotFound(text, backText) {
      stage.replaceChildren(h('div', { class: 'empty' }, h('h2', {}, 'Not found'),
        h('p', {}, text), h('a', { class: 'button', href: backHref }, backText)));
      title.textContent = '';
    },
  };
}

export function itemView(id) {
  const warnings = h('div', { class: 'notice notice-warn', id: 'warnings', role: 'status', hidden: true });
  const sections = h('div', { class: 'item-sections' });
  const frame = itemFrame('#/', '← Library', warnings, sections);
  const { root, stage, shell, facts, playerBar, banner } = frame;

  let item = null;
  let timer = null;
  let destroyed = false;
  let player = null;
  let positions = null; // saves where the user is (resume.js)
  let requested = false; // the user pressed play on a queued item: play as soon as it can
  let statusPanel = null;
  let ahead = null; // the item the transcoder is busy with while this one waits at the front

  function renderDetails() {
    frame.showTitle(item);
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
      // With several profiles, each rendition says which profile's package it is in.
      const profiles = new Set(renditions.map((r) => r.profile).filter(Boolean));
      blocks.push(h('div', { class: 'section' },
        h('h2', {}, 'Renditions'),
        h('ul', { class: 'chips' }, renditions.map((r) =>
          h('li', { class: `chip${r.source ? ' chip-source' : ''}`, title: r.codecs || '' },
            h('strong', {}, r.source ? 'Source' : r.name || `${r.height}p`),
            r.width && r.height ? ` ${r.width}×${r.height}` : '',
            r.average_bandwidth || r.bandwidth ? ` · ${formatMbps(r.average_bandwidth || r.bandwidth)}` : '',
            r.source ? h('span', { class: 'chip-tag' }, 'remux') : '',
            profiles.size > 1 ? h('span', { class: 'chip-tag' }, r.profile) : '')))));
    }
    const packages = item.packages || [];
    if (packages.length > 1) {
      blocks.push(h('div', { class: 'section', id: 'profile-packages' },
        h('h2', {}, 'Profiles'),
        h('ul', { class: 'chips' }, packages.map((p) =>
          h('li', { class: 'chip', title: p.error || '' },
            h('strong', {}, p.profile), ' ', badge(p.state),
            isBusy(p.state) ? ` ${percentOf(p.progress)}%` : '')))));
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
    statusPanel.art.refresh(item);
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
    } else if (item.state === 'pending' && isGuest()) {
      children.push(h('div', { class: 'status-title' }, 'Not transcoded yet'),
        h('p', { class: 'status-text' }, 'It plays here once it is transcoded; a member or an admin can move it to the front of the queue.'));
    } else if (item.state === 'pending') {
      const play = h('button', { class: 'play-big', id: 'play-now', type: 'button', 'aria-label': 'Play now', onclick: playNow });
      play.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M8 5.5v13l11-6.5z"/></svg>';
      children.push(play,
        h('div', { class: 'status-title' }, 'Not transcoded yet'),
        h('p', { class: 'status-text' }, 'Press play to move it to the front of the transcode queue; playback starts as soon as its first seconds are ready.'));
    } else if (item.state === 'failed') {
      children.push(h('div', { class: 'status-title' }, 'Transcoding failed'),
        h('p', { class: 'status-error', id: 'item-error' }, item.error || 'Unknown error.'),
        isGuest() ? null : h('button', { class: 'button button-primary', id: 'transcode', type: 'button', onclick: playNow }, 'Retry'));
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
        : err.status === 403
          ? 'Your account may not start transcodes: ask a member or an admin.'
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
      // The API's URLs only: signed for this user, they work without a cookie (and so do the
      // playlists' relative URLs below them).
      const src = item.hls_url || null;
      if (player) {
        player.update(item);
      } else if (src) {
        // Fast start: an item that is still transcoding plays as soon as its first segments exist
        // (and one queued again keeps playing its previous package).
        statusPanel = null;
        // Where the user stopped watching; not while transcoding: its playlists may not reach there yet.
        const startAt = item.state === 'transcoding' ? null : resumePosition(item);
        player = createPlayer(item, src, {
          stage, shell, bar: playerBar, autoplay: requested, startAt, onStartOver: () => positions && positions.startOver(),
        });
        positions = trackPosition(player.video, item.id, { saved: savedPosition(item), duration: item.duration_s });
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
        frame.showNotFound('This item is not in the library (any more).', 'Back to the library');
        return;
      }
      banner.hidden = false;
      banner.textContent = `Could not load this item: ${err.message}. Retrying…`;
      schedule(ERROR_RETRY_MS);
    }
  }

  load();
  return {
    root,
    nav: 'library',
    destroy() {
      destroyed = true;
      if (timer) clearTimeout(timer);
      if (positions) positions.destroy(); // first: it saves where the video is
      if (player) player.destroy();
    },
  };
}
