// What the router shows: a page, built either with the DOM builder (`root`) or as a Svelte
// component (`mount`), and taken down with `destroy()`.
import { mount, unmount, type Component } from 'svelte';

/** A nav link's `data-nav` (library, friends, admin), or null for none. */
export type Nav = string | null;

export interface View {
  /** The page, for the router to put in `#app`… */
  root?: Node;
  /** …or put it in `target` itself. */
  mount?(target: HTMLElement): void;
  nav: Nav;
  /** A page without the top bar's navigation (login, setup). */
  bare?: boolean;
  destroy(): void;
}

/** A page that is the Svelte component `component` with `props`. */
export function svelteView<Props extends Record<string, unknown>>(
  component: Component<Props>,
  props: Props,
  nav: Nav,
  bare = false,
): View {
  let instance: ReturnType<typeof mount> | null = null;
  return {
    nav,
    bare,
    mount(target) {
      instance = mount(component, { target, props });
    },
    destroy() {
      if (instance) void unmount(instance);
      instance = null;
    },
  };
}
