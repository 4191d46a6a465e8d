// The 10-foot layout (style.css `html.tv`: drawn larger, with a thick focus ring) for a
// TV. "Auto" turns it on for a window 1800 px wide or more, and for a TV's own browser (its user
// agent), which often reports a 960×540 window on a 1080p screen. "On" and "Off" force it; the
// choice is kept in this browser (localStorage), set from the user menu or by opening the app
// once as `/?tv=on` (or `off`, `auto`), handy on a TV without a mouse.

export type TvMode = 'auto' | 'on' | 'off';

const KEY = 'mow-tv-layout';
const WIDE = '(min-width: 1800px)';
/** The width the TV layout draws the page at, scaled up to the window. */
const LAYOUT_WIDTH = 1370;
/** Smart TVs' and TV sticks' browsers: Samsung (Tizen), LG (webOS), Sony, Philips, Android TV, Fire TV, Chromecast. */
const TV_AGENT = /\b(SmartTV|SMART-TV|Tizen|Web0S|webOS|NetCast|HbbTV|BRAVIA|Android TV|GoogleTV|CrKey|AFT[A-Z]\w*|Roku)\b/i;

const isMode = (value: unknown): value is TvMode => value === 'auto' || value === 'on' || value === 'off';

export const isTvBrowser = (agent: string = navigator.userAgent): boolean => TV_AGENT.test(agent);

export function tvMode(): TvMode {
  try {
    const kept = localStorage.getItem(KEY);
    return isMode(kept) ? kept : 'auto';
  } catch {
    return 'auto';
  }
}

/** Whether the TV layout applies now. */
export function tvLayoutOn(mode: TvMode = tvMode()): boolean {
  if (mode !== 'auto') return mode === 'on';
  return isTvBrowser() || window.matchMedia(WIDE).matches;
}

/**
 * How much larger the TV layout draws the page: as if it were 1370 px wide (1.4 at 1920 px), and
 * never smaller than 1 (a TV's browser that reports 960 px already draws each pixel twice).
 */
export const tvZoom = (width: number): number => Math.max(1, Math.round((width / LAYOUT_WIDTH) * 100) / 100);

function draw(on: boolean) {
  const root = document.documentElement;
  root.classList.toggle('tv', on);
  root.style.setProperty('--tv-zoom', String(tvZoom(window.innerWidth)));
}

function apply() {
  draw(tvLayoutOn());
}

export function setTvMode(mode: TvMode): void {
  try {
    if (mode === 'auto') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, mode);
  } catch {
    // Storage refused (a private window): it applies to this page only.
  }
  draw(tvLayoutOn(mode));
}

/** At start: `?tv=MODE` in the address is kept (and removed from it); then the layout follows the window. */
export function startTvLayout(): void {
  const params = new URLSearchParams(location.search);
  const asked = params.get('tv');
  if (isMode(asked)) {
    setTvMode(asked);
    params.delete('tv');
    const search = params.toString();
    history.replaceState(history.state, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
  }
  apply();
  window.addEventListener('resize', apply);
}
