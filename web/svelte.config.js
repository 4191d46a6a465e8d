// Svelte's options, read by @sveltejs/vite-plugin-svelte and svelte-check: TypeScript in
// <script lang="ts">.
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

export default {
  preprocess: vitePreprocess(),
};
