// Sharing with friends (P2P, `manofwar up --identity FILE --peers FILE`). #/friends: this
// gateway's PeerId and friend code, each friend's connection and traffic, and the items each
// connected friend shares with us; #/friends/PEER/ID plays a friend's item through this gateway
// (its `/peers/PEER/hls/ID/…` URLs), with the item page's player.

import {
  POLL_MS, IDLE_POLL_MS, ERROR_RETRY_MS, h, api, isAdmin, isBusy, badge, formatDuration, copyButton, panel,
} from './dom.js';
import { renderCards } from './library.js';
import { itemFrame } from './item.js';
import { createPlayer } from './player.js';

const CONNECTIONS = {
  direct: { label: 'Direct', className: 'state-on', hint: 'connected directly' },
  relayed: { label: 'Relayed', className: 'state-relayed', hint: 'connected through the coordinator’s relay' },
  none: { label: 'Offline', className: 'state-off', hint: 'not connected' },
};

const connectionOf = (peer) => CONNECTIONS[peer.connected ? peer.connection : 'none'] || CONNECTIONS.none;
const peerPath = (peerId) => `/api/v1/peers/${encodeURIComponent(peerId)}`;

/** "0 B", "812 kB", "4.2 MB", "1.3 GB". */
export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  const power = Math.min(units.length - 1, n > 0 ? Math.floor(Math.log10(n) / 3) : 0);
  const value = n / 1000 ** power;
  return `${power === 0 || value >= 100 ? Math.round(value) : value.toFixed(1)} ${units[power]}`;
}

const limitLabel = (kbps) => (kbps ? `${Number(kbps).toLocaleString('en-US')} kbit/s` : 'unlimited');

/** A read-only, copyable value with its label. */
function copyField(id, label, value) {
  const input = h('input', {
    class: 'input input-mono', id, readonly: true, value, spellcheck: 'false', autocomplete: 'off',
  });
  return h('div', { class: 'field' },
    h('label', { class: 'field-label', for: id }, label),
    h('div', { class: 'copy-row' }, input, copyButton(input, { id: `${id}-copy`, 'aria-label': `Copy the ${label.toLowerCase()}` })));
}

/** This gateway: what to give a friend, where it listens, its bandwidth limits. */
function identityPanel(me) {
  const { root, body } = panel('p2p-me', 'Your gateway',
    'Give a friend your friend code (or PeerId); they add you to their peers file, you add them to yours.');
  const bandwidth = me.bandwidth || {};
  const listening = me.listening || [];
  body.append(
    h('div', { class: 'identity' }, copyField('p2p-peer-id', 'PeerId', me.peerId), copyField('p2p-friend-code', 'Friend code', me.friendCode || '')),
    h('dl', { class: 'p2p-facts' },
      h('div', { id: 'p2p-listening' }, h('dt', {}, 'Listening on'),
        h('dd', {}, listening.length ? listening.flatMap((addr, i) => [i ? ', ' : '', h('code', {}, addr)]) : 'nothing yet')),
      h('div', {}, h('dt', {}, 'Upload'), h('dd', {}, limitLabel(bandwidth.uploadKbps))),
      h('div', {}, h('dt', {}, 'Per friend'), h('dd', {}, limitLabel(bandwidth.perPeerUploadKbps))),
      h('div', {}, h('dt', {}, 'Download'), h('dd', {}, limitLabel(bandwidth.downloadKbps)))));
  return root;
}

function sharingOff() {
  return h('div', { class: 'empty', id: 'p2p-off' },
    h('h2', {}, 'Sharing is off'),
    h('p', {}, 'This server does not share with friends. To turn it on, start ', h('code', {}, 'manofwar up'),
      ' with ', h('code', {}, '--identity FILE'), ' (this gateway’s key, created when missing) and ',
      h('code', {}, '--peers FILE'), ' (your friends: a YAML list of ', h('code', {}, '{peerId, name, libraries}'), ').'),
    h('p', { class: 'muted' }, h('code', {}, 'manofwar identity --key FILE'), ' prints the PeerId and the friend code to give your friends.'));
}

/** One friend: name, connection, traffic, and the grid of what they share with us. */
function friendPanel(peer) {
  const id = `friend-${peer.peerId}`;
  const { root, body, say } = panel(id, peer.name || peer.peerId, null);
  const state = h('span', { class: 'state', id: `${id}-connection` });
  const traffic = h('span', { class: 'traffic', id: `${id}-traffic` });
  root.querySelector('.panel-head').append(h('div', { class: 'friend-status' }, state, traffic));
  root.classList.add('friend');
  root.dataset.peer = peer.peerId;
  const shared = h('p', { class: 'friend-id' });
  const note = h('p', { class: 'friend-note muted', hidden: true });
  const grid = h('div', { class: 'grid', hidden: true });
  root.insertBefore(shared, root.querySelector('.panel-status'));
  body.append(note, grid);
  return {
    root, say, state, traffic, shared, note, grid,
    cards: new Map(),
    due: 0, // when to ask for their items again (0: as soon as they are connected)
    loading: false,
    loaded: false,
  };
}

export function friendsView() {
  const summary = h('p', { class: 'page-sub', id: 'friends-summary' }, '');
  const heading = h('div', { class: 'page-head' }, h('h1', {}, 'Friends'), summary);
  const banner = h('div', { class: 'banner banner-error', hidden: true, role: 'alert' });
  const loading = h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Loading…');
  const list = h('div', { class: 'friends-list', id: 'friends-list' });
  const none = h('section', { class: 'panel', id: 'friends-none', hidden: true },
    h('p', { class: 'panel-empty muted' }, 'No friends yet: add one to your peers file (',
      h('code', {}, '- {peerId: 12D3KooW…, name: ann, libraries: ["films"]}'), '); it is read again when it changes.'));
  const root = h('section', { class: 'friends' }, heading, banner, loading, list, none);

  const friends = new Map(); // peerId -> friendPanel()
  let timer = null;
  let destroyed = false;

  // Connected: what the friend shares. Away: the items kept on this server for offline viewing
  // (the gateway answers 502 when there are none).
  async function loadItems(peer, friend) {
    friend.loading = true;
    const away = !peer.connected;
    try {
      const data = await api(`${peerPath(peer.peerId)}/items`);
      if (destroyed) return;
      const items = Array.isArray(data && data.items) ? data.items : [];
      friend.say('');
      friend.loaded = !away;
      friend.note.hidden = items.length > 0 && !away;
      friend.note.textContent = away
        ? `Not connected: showing what is kept on this server for offline viewing.`
        : `${peer.name} shares nothing with you yet.`;
      friend.grid.hidden = items.length === 0;
      const libraries = new Set(items.map((i) => i.library).filter(Boolean));
      renderCards(friend.grid, friend.cards, items,
        (item) => `#/friends/${encodeURIComponent(peer.peerId)}/${encodeURIComponent(item.id)}`, libraries.size > 1);
      friend.due = Date.now() + (items.some((i) => isBusy(i.state)) ? POLL_MS : IDLE_POLL_MS);
    } catch (err) {
      if (destroyed) return;
      friend.due = Date.now() + ERROR_RETRY_MS;
      if (away) {
        friend.grid.hidden = true;
        friend.note.hidden = false;
        friend.note.textContent = `Not connected: ${peer.name}’s items show up here when their gateway is reachable.`;
        return;
      }
      // Not answering (502): say why; the grid keeps what it showed.
      friend.say(err.message, true);
    } finally {
      friend.loading = false;
    }
  }

  function renderFriend(peer, friend) {
    const connection = connectionOf(peer);
    friend.state.className = `state ${connection.className}`;
    friend.state.textContent = connection.label;
    friend.state.title = connection.hint;
    friend.traffic.replaceChildren(
      h('span', { 'aria-label': `sent ${formatBytes(peer.bytesUp)}` }, `↑ ${formatBytes(peer.bytesUp)}`), ' ',
      h('span', { 'aria-label': `received ${formatBytes(peer.bytesDown)}` }, `↓ ${formatBytes(peer.bytesDown)}`));
    const libraries = peer.libraries || [];
    friend.shared.replaceChildren(h('span', { class: 'sr-only' }, 'PeerId '), peer.peerId, ' · ',
      libraries.includes('*') ? 'sees all your libraries'
        : libraries.length ? `sees your ${libraries.join(', ')}` : 'sees none of your libraries');
    if (!peer.connected) {
      if (friend.loaded) friend.due = 0; // just went away: look for kept items now
      friend.loaded = false;
      friend.say('');
      if (!friend.loading && Date.now() >= friend.due) loadItems(peer, friend);
      return;
    }
    if (!friend.loaded) {
      friend.note.hidden = false;
      friend.note.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), `Asking ${peer.name} for their items…`);
    }
    if (!friend.loading && Date.now() >= friend.due) loadItems(peer, friend);
  }

  function render(peers) {
    loading.remove();
    none.hidden = peers.length > 0;
    const connected = peers.filter((p) => p.connected).length;
    summary.textContent = peers.length
      ? `${peers.length} ${peers.length === 1 ? 'friend' : 'friends'} · ${connected} connected` : '';
    const seen = new Set();
    for (const peer of peers) {
      seen.add(peer.peerId);
      let friend = friends.get(peer.peerId);
      if (!friend) {
        friend = friendPanel(peer);
        friends.set(peer.peerId, friend);
      }
      if (list.lastChild !== friend.root) list.append(friend.root); // keeps the peers file's order
      renderFriend(peer, friend);
    }
    for (const [peerId, friend] of friends) {
      if (!seen.has(peerId)) {
        friend.root.remove();
        friends.delete(peerId);
      }
    }
  }

  async function poll() {
    timer = null;
    let next = POLL_MS;
    try {
      const data = await api('/api/v1/peers');
      if (destroyed) return;
      banner.hidden = true;
      render((data && data.peers) || []);
    } catch (err) {
      if (destroyed) return;
      banner.hidden = false;
      banner.textContent = `Could not load your friends: ${err.message}. Retrying…`;
      next = ERROR_RETRY_MS;
    }
    if (!destroyed) timer = setTimeout(poll, next);
  }

  async function start() {
    try {
      const me = await api('/api/v1/p2p');
      if (destroyed) return;
      list.before(identityPanel(me));
      poll();
    } catch (err) {
      if (destroyed) return;
      loading.remove();
      if (err.status === 404) {
        root.replaceChildren(heading, sharingOff());
        return;
      }
      banner.hidden = false;
      banner.textContent = `Could not load the sharing settings: ${err.message}. Retrying…`;
      timer = setTimeout(start, ERROR_RETRY_MS);
    }
  }

  document.title = 'Friends · manofwar';
  start();
  return {
    root,
    nav: 'friends',
    destroy() {
      destroyed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/** A friend's item, played through this gateway; admins may keep it for offline viewing. */
export function friendItemView(peerId, id) {
  const pinStatus = h('span', { class: 'pin-status', id: 'pin-status', role: 'status' });
  const pin = h('button', { class: 'button button-small', type: 'button', id: 'pin' }, 'Keep offline');
  const actions = h('div', { class: 'friend-actions', hidden: true }, pin, pinStatus);
  const frame = itemFrame('#/friends', '← Friends', actions);
  const { root, stage, shell, facts, playerBar, banner } = frame;
  let item = null;
  let name = null; // the friend's name, from /api/v1/peers
  let player = null;
  let timer = null;
  let destroyed = false;

  function renderFacts() {
    facts.replaceChildren(...[
      badge(item.state),
      item.duration_s ? h('span', { class: 'fact' }, formatDuration(item.duration_s)) : null,
      h('span', { class: 'fact', id: 'friend-name' }, `from ${name || 'a friend'}`),
      item.library ? h('span', { class: 'fact' }, item.library) : null,
    ].filter(Boolean));
  }

  pin.addEventListener('click', async () => {
    pin.disabled = true;
    pinStatus.className = 'pin-status';
    pinStatus.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Copying it to this server…');
    try {
      const kept = await api(`${peerPath(peerId)}/items/${encodeURIComponent(id)}/pin`, { method: 'POST', json: { rendition: null } });
      pinStatus.replaceChildren(`Kept ${kept.rendition ? `${kept.rendition} ` : ''}for offline viewing: ${kept.files} files, ${formatBytes(kept.bytes)}.`);
    } catch (err) {
      pinStatus.className = 'pin-status is-bad';
      pinStatus.replaceChildren(`Could not keep it: ${err.message}`);
    } finally {
      pin.disabled = false;
    }
  });

  function schedule(ms) {
    if (timer) clearTimeout(timer);
    if (!destroyed) timer = setTimeout(load, ms);
  }

  async function load() {
    timer = null;
    try {
      // Their name (from our peers file) even when they cannot be reached.
      const [list, peers] = await Promise.allSettled([
        api(`${peerPath(peerId)}/items`),
        name ? null : api('/api/v1/peers'),
      ]);
      if (destroyed) return;
      const friend = peers.value && (peers.value.peers || []).find((p) => p.peerId === peerId);
      if (friend) name = friend.name;
      if (list.status === 'rejected') throw list.reason;
      const data = list.value;
      const fresh = ((data && data.items) || []).find((i) => String(i.id) === String(id));
      if (!fresh) {
        frame.showNotFound(`${name || 'This friend'} does not share this item (any more).`, 'Back to friends');
        return;
      }
      item = fresh;
      banner.hidden = true;
      actions.hidden = !isAdmin();
      frame.showTitle(item);
      renderFacts();
      if (player) player.update(item);
      else player = createPlayer(item, item.hls_url, { stage, shell, bar: playerBar, autoplay: false });
      // Still transcoding at the friend's: the player picks up the rest once it is ready.
      if (isBusy(item.state)) schedule(POLL_MS);
    } catch (err) {
      if (destroyed) return;
      if (err.status === 404) {
        frame.showNotFound(err.message, 'Back to friends');
        return;
      }
      banner.hidden = false;
      banner.textContent = `Could not load this item: ${err.message}. Retrying…`;
      if (!player) {
        stage.replaceChildren(h('div', { class: 'empty' }, h('h2', {}, `Cannot reach ${name || 'your friend'}`),
          h('p', {}, 'Their gateway may be offline. This page tries again every few seconds.')));
      }
      schedule(ERROR_RETRY_MS);
    }
  }

  document.title = 'Friends · manofwar';
  load();
  return {
    root,
    nav: 'friends',
    destroy() {
      destroyed = true;
      if (timer) clearTimeout(timer);
      if (player) player.destroy();
    },
  };
}
