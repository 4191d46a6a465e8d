// The HLS player: hls.js (window.Hls, from hls.min.js) with quality, audio and subtitle menus.
// hls.min.js is most of the app's JavaScript (~190 KB gzipped): the first player to open loads
// it, so the library and the other pages never do.

import { h, formatDuration, formatMbps, percentOf, posterUrl } from './dom.js';
import { audioLabel, subtitleLabel } from './labels.js';
import { parseThumbnailVtt, createScrubber } from './scrubber.js';

function levelLabel(level, renditions) {
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
function resumeNote(video, startAt, onStartOver) {
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

let hlsScript = null; // loading hls.min.js: one <script> for every player of the page

/** Loads hls.min.js once; resolves with window.Hls. A failed load is forgotten: the next player tries again. */
function loadHls() {
  if (window.Hls) return Promise.resolve(window.Hls);
  if (!hlsScript) {
    hlsScript = new Promise((resolve, reject) => {
      const script = h('script', { src: 'hls.min.js' });
      script.addEventListener('load', () => (window.Hls ? resolve(window.Hls) : reject(new Error('no window.Hls'))));
      script.addEventListener('error', () => {
        script.remove();
        reject(new Error('the request failed'));
      });
      document.head.append(script);
    });
    hlsScript.catch(() => { hlsScript = null; });
  }
  return hlsScript;
}

/** Media Source Extensions, which hls.js plays through (the same lookup as hls.js's own). */
const hasMediaSource = () => Boolean(window.ManagedMediaSource || window.MediaSource || window.WebKitMediaSource);

function control(label, select, id) {
  return h('label', { class: 'control', id }, h('span', { class: 'control-label' }, label), select);
}

/**
 * The player for `initialItem`'s master playlist `initialSrc` in `stage` (the scrub bar under it in
 * `shell`, the menus in `bar`). `startAt`: seconds to start at (where the user stopped watching),
 * with a "Resumed at 1:23 · Start over" note once it is there; `onStartOver()` when that is pressed.
 */
export function createPlayer(initialItem, initialSrc, { stage, shell, bar, autoplay, startAt = null, onStartOver = null }) {
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

  function startHls(Hls) {
    // startPosition: where the user stopped watching, else 0: a still-transcoding item has EVENT
    // playlists, which hls.js treats like live streams and would otherwise start near the newest
    // segment rather than at the beginning.
    hls = new Hls({ capLevelToPlayerSize: false, startLevel: -1, startPosition: startAt || 0, backBufferLength: 30 });
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
      // The fresh item's URL: the signed one the player started with may be near its expiry.
      src = fresh.hls_url || src;
      hls.loadSource(src);
      return true;
    };

    hls.loadSource(src);
    hls.attachMedia(video);
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
  function start(Hls) {
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
      console.warn(`hls.min.js: ${err.message}`);
      showError('Could not load the player (hls.min.js): reload the page.');
      quality.disabled = true;
    });
  } else {
    start(null);
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

  window.manofwarPlayer = { hls, video, scrubber }; // again with `hls` once it has started
  return {
    video,
    update,
    destroy() {
      destroyed = true;
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
