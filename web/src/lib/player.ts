// The HLS player: hls.js with quality, audio and subtitle menus.
// hls.js is most of the app's JavaScript (~160 KB gzipped): a chunk of its own, which the first
// player to open imports, so the library and the other pages never load it.

import type Hls from 'hls.js';
import type { Level, LevelLoadedData, LevelUpdatedData, MediaPlaylist } from 'hls.js';
import { serverUp } from './api';
import { formatDuration, formatMbps, percentOf, posterUrl } from './format';
import { h } from './dom';
import { createTransport } from './transport';
import { audioLabel, subtitleLabel } from './labels';
import { parseThumbnailVtt, createScrubber, type Scrubber } from './scrubber';
import type { AnyItem, ItemDetail, Variant } from './types';

type HlsClass = typeof Hls;

/** What the tests (and a curious developer) see: window.manofwarPlayer. */
export interface PlayerHandle {
  hls: Hls | null;
  video: HTMLVideoElement;
  scrubber?: Scrubber;
}

declare global {
  interface Window {
    Hls?: HlsClass;
    manofwarPlayer?: PlayerHandle;
    ManagedMediaSource?: unknown;
    WebKitMediaSource?: unknown;
  }
}

function levelLabel(level: Level, renditions: Variant[] | undefined): string {
  const list = renditions || [];
  const match = list.find((r) => r.bandwidth && r.bandwidth === level.bitrate) ||
    list.find((r) => r.height && r.height === level.height && (!r.width || r.width === level.width));
  let name = (match && match.name) || level.name || (level.height ? `${level.height}p` : formatMbps(level.bitrate));
  if ((match && match.source) || name === 'source') name = level.height ? `Source ${level.height}p` : 'Source';
  const rate = formatMbps(level.averageBitrate || level.bitrate);
  return rate ? `${name} · ${rate}` : name;
}

/**
 * "Resumed at 1:23 · Start over" over the video: shown once the video is at `startAt` (hls.js
 * seeks there after its first fragment), gone for good once playback leaves the first 30 s
 * after it, reaches the end, or the user starts over (back to 0, playing; then `onStartOver()`).
 */
function resumeNote(video: HTMLVideoElement, startAt: number, onStartOver: (() => void) | null) {
  let reached = false;
  let done = false;
  const startOver = h('button', { class: 'button button-small', id: 'start-over', type: 'button' }, 'Start over');
  const el = h('div', { class: 'resume-note', id: 'resume-note', role: 'status', hidden: true },
    h('span', { class: 'resume-text' }, `Resumed at ${formatDuration(Math.floor(startAt))}`), startOver);
  const dismiss = () => {
    done = true;
    el.hidden = true;
  };
  const follow = () => {
    if (done) return;
    const t = video.currentTime;
    if (!reached && Math.abs(t - startAt) < 2) reached = true;
    else if (reached && (t < startAt - 2 || t > startAt + 30)) dismiss();
    el.hidden = !reached || done;
  };
  startOver.addEventListener('click', () => {
    dismiss();
    video.currentTime = 0;
    video.focus();
    video.play().catch(() => {});
    if (onStartOver) onStartOver();
  });
  video.addEventListener('timeupdate', follow);
  video.addEventListener('seeked', follow);
  video.addEventListener('ended', dismiss);
  return {
    el,
    destroy() {
      video.removeEventListener('timeupdate', follow);
      video.removeEventListener('seeked', follow);
      video.removeEventListener('ended', dismiss);
    },
  };
}

let hlsModule: Promise<HlsClass> | null = null; // loading hls.js: one chunk for every player of the page

/**
 * Loads hls.js (its own chunk: `import('hls.js')`) once; resolves with its Hls class, which is also
 * `window.Hls` from then on (the tests' recorder reads its events there). A failed load is
 * forgotten: the next player tries again.
 */
function loadHls(): Promise<HlsClass> {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsModule) {
    hlsModule = import('hls.js').then(({ default: Hls }) => {
      window.Hls = Hls;
      return Hls;
    });
    hlsModule.catch(() => { hlsModule = null; });
  }
  return hlsModule;
}

/** Media Source Extensions, which hls.js plays through (the same lookup as hls.js's own). */
const hasMediaSource = () => Boolean(window.ManagedMediaSource || window.MediaSource || window.WebKitMediaSource);

function control(label: string, select: HTMLSelectElement, id: string): HTMLLabelElement {
  return h('label', { class: 'control', id }, h('span', { class: 'control-label' }, label), select);
}

/**
 * The player for `initialItem`'s master playlist `initialSrc` in `stage` (the scrub bar under it in
 * `shell`, the menus in `bar`). `startAt`: seconds to start at (where the user stopped watching),
 * with a "Resumed at 1:23 · Start over" note once it is there; `onStartOver()` when that is pressed.
 */
export interface PlayerOptions {
  stage: HTMLElement;
  shell: HTMLElement;
  bar: HTMLElement;
  autoplay: boolean;
  startAt?: number | null;
  onStartOver?: (() => void) | null;
}

export interface Player {
  video: HTMLVideoElement;
  /** The item again, from the API: its state, duration, thumbnails; a finished transcode's full ladder. */
  update(fresh: AnyItem): void;
  destroy(): void;
}

/** The longest wait between two tries to reach the server again. */
const RECONNECT_MAX_MS = 8000;
/** HTTP answers that retrying will not change. */
const gone = (status: number | undefined) => status === 403 || status === 404 || status === 410;

export function createPlayer(
  initialItem: AnyItem,
  initialSrc: string,
  { stage, shell, bar, autoplay, startAt = null, onStartOver = null }: PlayerOptions,
): Player {
  let item = initialItem;
  let src = initialSrc; // the master playlist: the API's signed hls_url
  const video = h('video', {
    id: 'player', controls: true, playsinline: true, preload: 'auto', poster: posterUrl(item) || null,
  });
  const overlay = h('div', { class: 'player-error', hidden: true, role: 'alert' });
  const resume = startAt ? resumeNote(video, startAt, onStartOver) : null;
  stage.replaceChildren(h('div', { class: 'player' }, video, resume && resume.el, overlay));
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
  const transport = createTransport(video, shell);
  bar.replaceChildren(
    transport.el,
    h('div', { class: 'controls' }, control('Quality', quality, 'quality-control'), audioControl, subsControl),
    h('div', { class: 'player-status' }, note, nowPlaying));
  bar.hidden = false;

  const showError = (message: string) => {
    overlay.hidden = false;
    overlay.classList.remove('player-error-retrying');
    overlay.textContent = message;
  };
  // The server cannot be reached: what is buffered keeps playing, and loading starts again when
  // it answers (`reconnect` below).
  const showOffline = (message: string) => {
    overlay.hidden = false;
    overlay.classList.add('player-error-retrying');
    overlay.textContent = message;
  };
  const hideOffline = () => {
    if (overlay.classList.contains('player-error-retrying')) overlay.hidden = true;
    overlay.classList.remove('player-error-retrying');
  };

  let hls: Hls | null = null;
  let thumbsUrl: string | null = null;
  // selections to carry over a manifest reload
  let restore: { resume: boolean; audio: MediaPlaylist | null; subtitle: MediaPlaylist | null } | null = null;
  let reloadIfIncomplete: (fresh: AnyItem) => boolean = () => false;
  let destroyed = false;

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

  async function loadThumbnails(url: string) {
    thumbsUrl = url;
    try {
      const abs = new URL(url, location.href);
      const res = await fetch(abs);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const cues = parseThumbnailVtt(await res.text(), abs);
      if (thumbsUrl === url) scrubber.setThumbnails(cues);
    } catch (err) {
      if (thumbsUrl === url) thumbsUrl = null; // try again on the next update
      console.warn(`thumbnails: ${url}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  function startHls(Hls: HlsClass) {
    // startPosition: where the user stopped watching, else 0: a still-transcoding item has EVENT
    // playlists, which player.js treats like live streams and would otherwise start near the newest
    // segment rather than at the beginning.
    // At most a minute ahead (hls.js would fill 60 MB, many minutes at low bit rates): less memory on
    // phones and TVs.
    const player = new Hls({
      capLevelToPlayerSize: false, startLevel: -1, startPosition: startAt || 0, backBufferLength: 30, maxMaxBufferLength: 60,
    });
    hls = player;
    let playingLevel = -1;
    let mediaRecoveries = 0;
    let networkRetries = 0;

    const refreshLabels = () => {
      const auto = player.autoLevelEnabled;
      const level = player.levels[playingLevel];
      quality.options[0].textContent = auto && level ? `Auto · ${levelLabel(level, item.renditions).split(' · ')[0]}` : 'Auto';
      quality.value = auto ? '-1' : String(player.manualLevel >= 0 ? player.manualLevel : playingLevel);
      if (level) {
        nowPlaying.replaceChildren(h('span', { class: 'dot' }), 'Playing ',
          h('strong', {}, levelLabel(level, item.renditions)),
          level.width && level.height ? ` · ${level.width}×${level.height}` : '');
      }
    };

    const renderAudio = () => {
      const tracks = player.audioTracks || [];
      audioSelect.replaceChildren(...tracks.map((t, i) =>
        h('option', { value: String(i), title: [t.lang, t.audioCodec].filter(Boolean).join(' · ') }, audioLabel(t))));
      // Before player.js has picked one (-1), show the track it is about to pick.
      const fallback = Math.max(0, tracks.findIndex((t) => t.default));
      audioSelect.value = String(player.audioTrack >= 0 ? player.audioTrack : fallback);
      audioControl.hidden = tracks.length < 2;
    };
    const renderSubtitles = () => {
      const tracks = player.subtitleTracks || [];
      subsSelect.replaceChildren(h('option', { value: '-1' }, 'Off'),
        ...tracks.map((t, i) => h('option', { value: String(i), title: t.name || '' }, subtitleLabel(t))));
      subsSelect.value = String(player.subtitleDisplay ? player.subtitleTrack : -1);
      subsControl.hidden = tracks.length === 0;
    };
    const sameTrack = (a: MediaPlaylist, b: MediaPlaylist | null) => Boolean(b) && a.name === b?.name && (a.lang || '') === (b?.lang || '');

    player.on(Hls.Events.MANIFEST_PARSED, () => {
      const options = player.levels
        .map((level, index) => ({ level, index }))
        .sort((a, b) => (b.level.height - a.level.height) || (b.level.bitrate - a.level.bitrate));
      quality.replaceChildren(h('option', { value: '-1' }, 'Auto'),
        ...options.map(({ level, index }) => h('option', { value: String(index) }, levelLabel(level, item.renditions))));
      quality.value = '-1';
      if (autoplay || (restore && restore.resume)) video.play().catch(() => {});
      autoplay = false;
    });
    player.on(Hls.Events.AUDIO_TRACKS_UPDATED, () => {
      if (restore && restore.audio) {
        const wanted = restore.audio;
        const index = player.audioTracks.findIndex((t) => sameTrack(t, wanted));
        if (index >= 0 && index !== player.audioTrack) player.audioTrack = index;
        restore.audio = null;
      }
      renderAudio();
    });
    player.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_event, data) => {
      audioSelect.value = String(data.id);
    });
    player.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => {
      if (restore && restore.subtitle) {
        const wanted = restore.subtitle;
        const index = player.subtitleTracks.findIndex((t) => sameTrack(t, wanted));
        if (index >= 0) {
          player.subtitleDisplay = true;
          player.subtitleTrack = index;
        }
        restore.subtitle = null;
      }
      renderSubtitles();
    });
    player.on(Hls.Events.SUBTITLE_TRACK_SWITCH, (_event, data) => {
      subsSelect.value = String(player.subtitleDisplay ? data.id : -1);
    });
    player.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      playingLevel = data.level;
      refreshLabels();
    });
    const onLevelDetails = (_event: unknown, data: LevelLoadedData | LevelUpdatedData) => {
      const d = data.details;
      // While transcoding the playlists are EVENT playlists (live to player.js): seek only within
      // what exists. Once EXT-X-ENDLIST is there, the whole item is.
      scrubber.setAvailable(d.live ? d.edge : null);
    };
    player.on(Hls.Events.LEVEL_LOADED, onLevelDetails);
    player.on(Hls.Events.LEVEL_UPDATED, onLevelDetails);
    player.on(Hls.Events.FRAG_LOADED, () => {
      networkRetries = 0;
      hideOffline();
    });
    // After a network failure: ask /healthz (no session needed) every few seconds, for as long
    // as the page is open, then load again from where the player is.
    const reconnect = () => {
      if (destroyed || hls !== player) return;
      const wait = Math.min(RECONNECT_MAX_MS, 1000 * 2 ** Math.min(networkRetries, 4));
      networkRetries += 1;
      setTimeout(async () => {
        if (destroyed || hls !== player) return;
        if (!(await serverUp())) {
          reconnect();
          return;
        }
        showOffline('The server is back: loading…');
        player.startLoad(video.currentTime > 0 ? video.currentTime : -1);
      }, wait);
    };
    player.on(Hls.Events.ERROR, (_event, data) => {
      const status = data.type === Hls.ErrorTypes.NETWORK_ERROR ? data.response?.code : undefined;
      if (gone(status)) {
        // Not a passing failure, though hls.js would try again: the item is gone (404) or the
        // link no longer valid (403).
        showError(status === 404
          ? 'This item is no longer in the library (it was removed or renamed): go back to the library.'
          : 'This link to the video is no longer valid: reload the page to get a fresh one.');
        player.destroy();
        hls = null;
        window.manofwarPlayer = { hls: null, video };
        return;
      }
      if (!data.fatal) {
        // hls.js tries again on its own; say why the picture may stop meanwhile.
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !status) {
          showOffline('Lost the connection to the server: playing what is loaded, and retrying…');
        }
        return;
      }
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries < 2) {
        mediaRecoveries += 1;
        if (mediaRecoveries === 2) player.swapAudioCodec();
        player.recoverMediaError();
      } else if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        showOffline('Lost the connection to the server: playing what is loaded, and retrying…');
        reconnect();
      } else {
        showError(`Playback failed: ${data.details}${data.error ? ` (${data.error.message})` : ''}`);
        player.destroy();
        hls = null;
        window.manofwarPlayer = { hls: null, video };
      }
    });
    quality.addEventListener('change', () => {
      player.currentLevel = Number(quality.value);
      refreshLabels();
    });
    audioSelect.addEventListener('change', () => {
      player.audioTrack = Number(audioSelect.value);
    });
    subsSelect.addEventListener('change', () => {
      const index = Number(subsSelect.value);
      player.subtitleDisplay = index >= 0;
      player.subtitleTrack = index;
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
      if (player.levels.length >= videoRungs && player.audioTracks.length >= audioTracks &&
          player.subtitleTracks.length >= subtitleTracks) return false;
      restore = {
        resume: !video.paused && !video.ended,
        audio: player.audioTracks[player.audioTrack] || null,
        subtitle: player.subtitleDisplay ? player.subtitleTracks[player.subtitleTrack] || null : null,
      };
      player.config.startPosition = video.currentTime;
      // The fresh item's URL: the signed one the player started with may be near its expiry.
      src = fresh.hls_url || src;
      player.loadSource(src);
      return true;
    };

    player.loadSource(src);
    player.attachMedia(video);
  }

  // Safari / iOS: native HLS; the browser picks the rendition and offers the tracks itself.
  function startNative() {
    if (startAt) video.addEventListener('loadedmetadata', () => { video.currentTime = startAt; }, { once: true });
    video.src = src;
    quality.disabled = true;
    nowPlaying.textContent = 'Native HLS playback';
    if (autoplay) video.play().catch(() => {});
  }

  /** hls.js where it works (`Hls`: null when not loaded), else the browser's own HLS, else an error. */
  function start(Hls: HlsClass | null) {
    if (destroyed) return;
    if (Hls && Hls.isSupported()) startHls(Hls);
    else if (video.canPlayType('application/vnd.apple.mpegurl')) startNative();
    else {
      showError('This browser cannot play HLS video (no Media Source Extensions).');
      quality.disabled = true;
    }
    window.manofwarPlayer = { hls, video, scrubber };
  }

  // Without Media Source Extensions (iPhones before iOS 17.1) hls.js cannot play anything: skip
  // the download and go straight to the browser's own HLS.
  if (hasMediaSource()) {
    loadHls().then(start, (err) => {
      if (destroyed) return;
      console.warn(`hls.js: ${err.message}`);
      showError('Could not load the player (hls.js): reload the page.');
      quality.disabled = true;
    });
  } else {
    start(null);
  }

  video.addEventListener('error', () => {
    if (!hls && video.error) showError(`Playback failed: ${video.error.message || `media error ${video.error.code}`}`);
  });

  function update(fresh: AnyItem) {
    const was = item;
    item = fresh;
    renderNote();
    scrubber.setDuration(item.duration_s);
    if (item.thumbnails_url && item.thumbnails_url !== thumbsUrl) loadThumbnails(item.thumbnails_url);
    if (was.state !== 'ready' && item.state === 'ready' && hls) reloadIfIncomplete(item);
  }
  renderNote();
  if (item.thumbnails_url) loadThumbnails(item.thumbnails_url);

  window.manofwarPlayer = { hls, video, scrubber }; // again with `hls` once it has started
  return {
    video,
    update,
    destroy() {
      destroyed = true;
      transport.destroy();
      if (resume) resume.destroy();
      scrubber.destroy();
      if (hls) hls.destroy();
      hls = null;
      video.removeAttribute('src');
      video.load();
      if (window.manofwarPlayer && window.manofwarPlayer.video === video) window.manofwarPlayer = undefined;
    },
  };
}
