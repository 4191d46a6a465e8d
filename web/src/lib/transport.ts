// The player's own buttons (play/pause, back and forward 10 s, mute, picture-in-picture,
// fullscreen) and its keyboard shortcuts, for a remote, a keyboard or a screen reader as much as
// a mouse: the video's native controls are not reachable by arrow keys on a TV.
//   Space or K  play / pause        J / L   back / forward 10 s
//   M           mute                F       fullscreen          P   picture-in-picture
// The shortcuts work anywhere on the page but in text fields and menus; Space on a focused button
// or link presses that button instead.
import { h } from './dom';

const SKIP_S = 10;

const icon = (d: string) => {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
};
const ICONS = {
  play: 'M8 5.5v13l11-6.5z',
  pause: 'M7 5h4v14H7zm6 0h4v14h-4z',
  back: 'M12 5V2L7 6l5 4V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z',
  forward: 'M12 5V2l5 4-5 4V7a6 6 0 1 0 6 6h2a8 8 0 1 1-8-8z',
  sound: 'M4 9v6h4l5 4V5L8 9zm12.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4z',
  muted: 'M4 9v6h4l5 4V5L8 9zm15.6 3 2.1-2.1-1.4-1.4-2.1 2.1-2.1-2.1-1.4 1.4 2.1 2.1-2.1 2.1 1.4 1.4 2.1-2.1 2.1 2.1 1.4-1.4z',
  pip: 'M3 5h18v14H3zm2 2v10h14V7zm7 4h6v5h-6z',
  fullscreen: 'M4 4h6v2H6v4H4zm10 0h6v6h-2V6h-4zM4 14h2v4h4v2H4zm14 0h2v6h-6v-2h4z',
};

export interface Transport {
  el: HTMLElement;
  destroy(): void;
}

export function createTransport(video: HTMLVideoElement, fullscreenTarget: HTMLElement): Transport {
  const button = (id: string, label: string, d: string, onclick: () => void) =>
    h('button', { class: 'button button-small transport-button', type: 'button', id, 'aria-label': label, title: label, onclick }, icon(d));

  const toggle = () => (video.paused || video.ended ? void video.play().catch(() => {}) : video.pause());
  const skip = (by: number) => {
    const end = Number.isFinite(video.duration) ? video.duration : Infinity;
    video.currentTime = Math.max(0, Math.min(end, video.currentTime + by));
  };
  const fullscreen = () => {
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => {});
    else void fullscreenTarget.requestFullscreen?.().catch(() => {});
  };
  const pip = () => {
    if (document.pictureInPictureElement) void document.exitPictureInPicture().catch(() => {});
    else void video.requestPictureInPicture?.().catch(() => {});
  };

  const play = button('play-toggle', 'Play', ICONS.play, toggle);
  const mute = button('mute-toggle', 'Mute', ICONS.sound, () => { video.muted = !video.muted; });
  const buttons = [
    play,
    button('skip-back', `Back ${SKIP_S} seconds`, ICONS.back, () => skip(-SKIP_S)),
    button('skip-forward', `Forward ${SKIP_S} seconds`, ICONS.forward, () => skip(SKIP_S)),
    mute,
  ];
  if (document.pictureInPictureEnabled) buttons.push(button('pip-toggle', 'Picture in picture', ICONS.pip, pip));
  if (document.fullscreenEnabled) buttons.push(button('fullscreen-toggle', 'Fullscreen', ICONS.fullscreen, fullscreen));
  const el = h('div', { class: 'transport', role: 'group', 'aria-label': 'Playback' }, buttons);

  const relabel = (target: HTMLButtonElement, label: string, d: string) => {
    target.setAttribute('aria-label', label);
    target.title = label;
    target.replaceChildren(icon(d));
  };
  const onPlayState = () => (video.paused || video.ended ? relabel(play, 'Play', ICONS.play) : relabel(play, 'Pause', ICONS.pause));
  const onVolume = () => (video.muted ? relabel(mute, 'Unmute', ICONS.muted) : relabel(mute, 'Mute', ICONS.sound));
  for (const name of ['play', 'pause', 'ended']) video.addEventListener(name, onPlayState);
  video.addEventListener('volumechange', onVolume);
  onPlayState();
  onVolume();

  const keys: Record<string, () => void> = {
    ' ': toggle, k: toggle, j: () => skip(-SKIP_S), l: () => skip(SKIP_S), m: () => { video.muted = !video.muted; }, f: fullscreen, p: pip,
  };
  const onKey = (event: KeyboardEvent) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target as HTMLElement | null;
    if (target?.closest('input, select, textarea, [contenteditable]')) return;
    if (event.key === ' ' && target?.closest('button, a, [role="slider"]')) return; // presses that instead
    const action = keys[event.key.toLowerCase()];
    if (!action) return;
    event.preventDefault();
    action();
  };
  document.addEventListener('keydown', onKey);

  return {
    el,
    destroy() {
      document.removeEventListener('keydown', onKey);
    },
  };
}
