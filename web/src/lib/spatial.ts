// Arrow keys move the focus like a TV remote: to the nearest control in that direction on the
// screen, whatever the order of the page. Enter presses what has the focus (links and buttons do
// that themselves). A control that uses some arrows keeps them: left/right in a text field move
// the caret, up/down in a menu choose, and the scrub bar and the video seek.

type Direction = 'up' | 'down' | 'left' | 'right';

const DIRECTIONS: Record<string, Direction> = { ArrowUp: 'up', ArrowDown: 'down', ArrowLeft: 'left', ArrowRight: 'right' };

const FOCUSABLE = [
  'a[href]', 'button:not([disabled])', 'input:not([disabled]):not([type="hidden"])', 'select:not([disabled])',
  'textarea:not([disabled])', '[tabindex]:not([tabindex="-1"])', 'video[controls]',
].join(', ');

/** Does `el` use the arrow key towards `direction` itself? */
function keepsArrow(el: Element, direction: Direction): boolean {
  const across = direction === 'left' || direction === 'right';
  if (el instanceof HTMLInputElement) {
    if (el.type === 'range') return true;
    if (el.type === 'checkbox' || el.type === 'radio') return false;
    if (el.type === 'number') return true;
    return across; // text: the caret
  }
  if (el instanceof HTMLTextAreaElement) return true;
  if (el instanceof HTMLSelectElement) return !across; // up/down choose
  if (el instanceof HTMLVideoElement || el.getAttribute('role') === 'slider') return across; // seek
  return false;
}

function visible(el: HTMLElement): boolean {
  if (el.closest('[hidden], [inert]')) return false;
  const rect = el.getBoundingClientRect();
  return rect.width > 0 && rect.height > 0 && getComputedStyle(el).visibility !== 'hidden';
}

/** The nearest control from `from` towards `direction`: the gap along it counts, and twice the offset across it. */
function nearest(from: DOMRect, direction: Direction, candidates: HTMLElement[]): HTMLElement | null {
  const cx = from.left + from.width / 2;
  const cy = from.top + from.height / 2;
  let best: HTMLElement | null = null;
  let bestScore = Infinity;
  for (const el of candidates) {
    const r = el.getBoundingClientRect();
    let gap: number;
    let offset: number;
    if (direction === 'right') { gap = r.left - from.right; offset = Math.abs(r.top + r.height / 2 - cy); }
    else if (direction === 'left') { gap = from.left - r.right; offset = Math.abs(r.top + r.height / 2 - cy); }
    else if (direction === 'down') { gap = r.top - from.bottom; offset = Math.abs(r.left + r.width / 2 - cx); }
    else { gap = from.top - r.bottom; offset = Math.abs(r.left + r.width / 2 - cx); }
    if (gap < -Math.min(r.width, r.height, from.width, from.height) / 2) continue; // not that way
    const score = Math.max(0, gap) + 2 * offset;
    if (score < bestScore) {
      bestScore = score;
      best = el;
    }
  }
  return best;
}

function onKey(event: KeyboardEvent) {
  const direction = DIRECTIONS[event.key];
  if (!direction || event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const active = document.activeElement instanceof HTMLElement && document.activeElement !== document.body
    ? document.activeElement : null;
  if (active && keepsArrow(active, direction)) return;
  const all = [...document.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => el !== active && visible(el));
  // Nothing focused yet: start in the page's content, not the top bar.
  const target = active
    ? nearest(active.getBoundingClientRect(), direction, all)
    : all.find((el) => el.closest('#app')) || all[0] || null;
  if (!target) return;
  event.preventDefault();
  target.focus({ preventScroll: true });
  target.scrollIntoView({ block: 'nearest', inline: 'nearest' });
}

let installed = false;

/** Arrow keys move the focus (once per page). */
export function installSpatialNavigation(): void {
  if (installed) return;
  installed = true;
  document.addEventListener('keydown', onKey);
}
