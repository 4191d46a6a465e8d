// The page's fixed parts (#app, the top bar's status) and a tiny DOM builder, for what is built
// outside Svelte components: the player (player.ts) and its scrub bar (scrubber.ts), which
// hls.js and the video element drive imperatively.
import { isBusy, percentOf, titleOf } from './format';
import type { AnyItem } from './types';

export const app = document.getElementById('app') as HTMLElement;
export const topbarStatus = document.getElementById('topbar-status') as HTMLElement;

export type Child = Node | string | number | null | undefined | false | Child[];
/** Attributes; `onclick` & co. are listeners, `dataset` data-* values, true an empty attribute. */
export type Attrs = Record<string, unknown> & { dataset?: Record<string, string> };

/** Tiny DOM builder: h('a', {href: '#/', class: 'x', onclick: fn}, 'text', child). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  for (const child of (children as unknown[]).flat(Infinity) as Child[]) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** The top bar's line: what is transcoding and how many are queued. */
export function setTopbarStatus(items: AnyItem[]): void {
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
