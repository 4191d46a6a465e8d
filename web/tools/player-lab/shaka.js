import shaka from 'shaka-player/dist/shaka-player.ui.js';
window.shaka = shaka;
