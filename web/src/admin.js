// Accounts: #/admin (admins: users, their own API tokens, the audit log) and #/tokens (anyone
// signed in: their own API tokens).

import { h, api, session, setSession, goToLogin, isAdmin, copyButton, panel } from './dom.js';
import { roleLabel } from './account.js';

const AUDIT_SHOWN = 50;
const ROLES = [
  ['member', 'Member', 'watch, and queue transcodes'],
  ['guest', 'Guest', 'watch only'],
  ['admin', 'Admin', 'see every library and manage accounts'],
];

/** "12 Mar 2025, 14:03" from unix milliseconds (or seconds); '' for none. */
function formatTime(value) {
  if (value === null || value === undefined || value === '') return '';
  let ms = Number(value);
  if (!Number.isFinite(ms)) return String(value);
  if (ms < 1e12) ms *= 1000; // seconds
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

function isoTime(value) {
  let ms = Number(value);
  if (!Number.isFinite(ms) || !ms) return null;
  if (ms < 1e12) ms *= 1000;
  return new Date(ms).toISOString();
}

const time = (value) => (value ? h('time', { datetime: isoTime(value) }, formatTime(value)) : h('span', { class: 'muted' }, '—'));

function librariesLabel(user) {
  const list = user.libraries || [];
  if (user.role === 'admin' || list.includes('*')) return 'All libraries';
  return list.length ? list.join(', ') : 'None';
}

/** A user's limits for the table: ["4,000 kbit/s", "2 streams"], empty for none. */
function limitsOf(user) {
  const limits = [];
  if (user.max_kbps) limits.push(`${Number(user.max_kbps).toLocaleString('en-US')} kbit/s`);
  if (user.max_streams) limits.push(`${user.max_streams} ${user.max_streams === 1 ? 'stream' : 'streams'}`);
  return limits;
}

const limitsCell = (user) => {
  const limits = limitsOf(user);
  return limits.length
    ? h('span', { class: 'limits' }, limits.map((text) => h('span', { class: 'limit' }, text)))
    : h('span', { class: 'muted', title: 'No limits' }, '—');
};

const MAX_U32 = 4294967295;

/** A limit from a number input: empty is 0 (no limit); NaN when it is not a whole number >= 0. */
function limitValue(input) {
  if (input.validity && input.validity.badInput) return NaN;
  const text = input.value.trim();
  if (!text) return 0;
  const value = Number(text);
  return Number.isInteger(value) && value >= 0 && value <= MAX_U32 ? value : NaN;
}

/** A library grant, as the editor shows it: ['*'] is every library. */
const sameLibraries = (a, b) => [...a].sort().join('\n') === [...b].sort().join('\n');

/** A button that asks again before it acts: first click "Delete", then "Really delete?". */
function confirmButton(label, confirmLabel, attrs, action) {
  const button = h('button', { class: 'button button-small button-danger', type: 'button', ...attrs }, label);
  let armed = false;
  let timer = null;
  const disarm = () => {
    armed = false;
    button.textContent = label;
    button.classList.remove('is-armed');
  };
  button.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      button.textContent = confirmLabel;
      button.classList.add('is-armed');
      timer = setTimeout(disarm, 4000);
      return;
    }
    clearTimeout(timer);
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
      disarm();
    }
  });
  button.addEventListener('blur', () => {
    if (armed) {
      clearTimeout(timer);
      disarm();
    }
  });
  return button;
}

// ---------------------------------------------------------------- users

function usersPanel(alive) {
  const { root, body, say } = panel('users', 'Users', 'Who may sign in, what they may do, and which libraries they see.');
  const tbody = h('tbody', { id: 'users-rows' });
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'users-table' },
    h('caption', { class: 'sr-only' }, 'Users'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Libraries'),
      h('th', { scope: 'col' }, 'Limits'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody));

  // The "add user" form.
  const name = h('input', {
    class: 'input', id: 'new-user-name', name: 'name', required: true, autocomplete: 'off',
    autocapitalize: 'none', spellcheck: 'false', maxlength: 64, pattern: '[A-Za-z0-9._@\\-]+',
  });
  const password = h('input', {
    class: 'input', id: 'new-user-password', name: 'password', type: 'password', required: true, minlength: 10,
    autocomplete: 'new-password', 'aria-describedby': 'new-user-password-hint',
  });
  const role = h('select', { id: 'new-user-role', name: 'role', 'aria-describedby': 'new-user-role-hint' },
    ROLES.map(([value, label]) => h('option', { value }, label)));
  const roleHint = h('p', { class: 'field-hint', id: 'new-user-role-hint' });
  const all = h('input', { type: 'checkbox', id: 'new-user-all', value: '*', checked: true });
  const libraryBoxes = h('div', { class: 'checks', id: 'new-user-libraries' });
  const libraryHint = h('p', { class: 'field-hint', id: 'new-user-libraries-hint' });
  const librariesField = h('fieldset', { class: 'field fieldset', 'aria-describedby': 'new-user-libraries-hint' },
    h('legend', { class: 'field-label' }, 'Libraries'),
    h('label', { class: 'check check-all' }, all, h('span', {}, 'All libraries'), h('span', { class: 'check-note' }, 'including ones added later')),
    libraryBoxes, libraryHint);
  const submit = h('button', { class: 'button button-primary', id: 'new-user-submit', type: 'submit' }, 'Add user');
  const formError = h('p', { class: 'form-error', id: 'new-user-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'form-grid', id: 'new-user-form', 'aria-labelledby': 'new-user-heading' },
    h('h3', { id: 'new-user-heading', class: 'form-title' }, 'Add a user'),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'new-user-name' }, 'User name'), name),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'new-user-password' }, 'Password'), password,
      h('p', { class: 'field-hint', id: 'new-user-password-hint' }, 'At least 10 characters.')),
    h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'new-user-role' }, 'Role'), role, roleHint),
    librariesField,
    h('div', { class: 'form-actions' }, submit, formError));
  body.append(table, form);

  let libraries = [];
  const boxes = () => [...libraryBoxes.querySelectorAll('input[type=checkbox]')];
  function syncLibraries() {
    const admin = role.value === 'admin';
    const what = ROLES.find(([value]) => value === role.value);
    roleHint.textContent = what ? `${what[1]}s ${what[2]}.` : '';
    all.disabled = admin;
    for (const box of boxes()) box.disabled = admin || all.checked;
    libraryHint.textContent = admin
      ? 'Admins see every library.'
      : (libraries.length ? '' : 'No libraries yet: start the server with --media NAME=DIR.');
  }
  all.addEventListener('change', syncLibraries);
  role.addEventListener('change', syncLibraries);

  async function loadLibraries() {
    try {
      const data = await api('/api/v1/libraries');
      libraries = (data && data.libraries) || [];
    } catch {
      libraries = [];
    }
    if (!alive()) return;
    libraryBoxes.replaceChildren(...libraries.map((l, i) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: l.name, id: `new-user-library-${i}` }),
      h('span', {}, l.name),
      h('span', { class: 'check-note' }, `${l.items} ${l.items === 1 ? 'item' : 'items'}`))));
    syncLibraries();
  }

  async function change(user, patch, done) {
    say('');
    try {
      await api(`/api/v1/users/${encodeURIComponent(user.name)}`, { method: 'PATCH', json: patch });
      say(done);
    } catch (err) {
      say(`Could not change ${user.name}: ${err.message}`, true);
    }
    await load();
  }

  // The editor of one user's libraries, limits and password: a row under theirs, one at a time.
  let editor = null; // { name, tr, sync(user) }
  const COLUMNS = 7;
  const editButton = (who) => tbody.querySelector(`tr[data-user="${CSS.escape(who)}"] [data-action="edit"]`);

  function closeEditor(focusBack = true) {
    if (!editor) return;
    const who = editor.name;
    editor.tr.remove();
    editor = null;
    const button = editButton(who);
    if (button) {
      button.setAttribute('aria-expanded', 'false');
      if (focusBack) button.focus();
    }
  }

  function openEditor(user) {
    const again = editor && editor.name === user.name;
    closeEditor(again);
    if (again) return;
    const me = session.user && session.user.name === user.name;
    const granted = user.libraries || [];
    const all = h('input', { type: 'checkbox', id: 'edit-user-all', value: '*', checked: granted.includes('*') });
    const boxes = libraries.map((l, i) => h('input', {
      type: 'checkbox', value: l.name, id: `edit-user-library-${i}`, checked: granted.includes(l.name),
    }));
    const librariesHint = h('p', { class: 'field-hint', id: 'edit-user-libraries-hint' });
    const librariesField = h('fieldset', { class: 'field fieldset editor-libraries', 'aria-describedby': 'edit-user-libraries-hint' },
      h('legend', { class: 'field-label' }, 'Libraries'),
      h('div', { class: 'checks', id: 'edit-user-libraries' },
        h('label', { class: 'check check-all' }, all, h('span', {}, 'All libraries'), h('span', { class: 'check-note' }, 'including ones added later')),
        boxes.map((box, i) => h('label', { class: 'check' }, box, h('span', {}, libraries[i].name)))),
      librariesHint);

    const number = (id, value, unit) => {
      const input = h('input', {
        class: 'input input-number', id, name: id, type: 'number', min: 0, max: MAX_U32, step: 1, inputmode: 'numeric',
        placeholder: 'No limit', value: value || '', 'aria-describedby': `${id}-hint`,
      });
      return { input, wrap: h('div', { class: 'input-unit' }, input, h('span', { class: 'input-unit-label', 'aria-hidden': 'true' }, unit)) };
    };
    const kbps = number('edit-user-max-kbps', user.max_kbps, 'kbit/s');
    const streams = number('edit-user-max-streams', user.max_streams, user.max_streams === 1 ? 'stream' : 'streams');
    streams.input.addEventListener('input', () => {
      streams.wrap.lastChild.textContent = Number(streams.input.value) === 1 ? 'stream' : 'streams';
    });
    const password = h('input', {
      class: 'input', id: 'edit-user-password', name: 'password', type: 'password', minlength: 10,
      autocomplete: 'new-password', placeholder: 'Unchanged', 'aria-describedby': 'edit-user-password-hint',
    });
    const save = h('button', { class: 'button button-primary button-small', id: 'edit-user-save', type: 'submit' }, 'Save');
    const cancel = h('button', { class: 'button button-small', id: 'edit-user-cancel', type: 'button' }, 'Cancel');
    const error = h('p', { class: 'form-error', id: 'edit-user-error', role: 'alert', hidden: true });
    const form = h('form', { class: 'user-editor', id: 'user-editor', 'aria-labelledby': 'user-editor-heading', novalidate: true },
      h('h3', { class: 'form-title', id: 'user-editor-heading' }, `Edit ${user.name}`),
      librariesField,
      h('div', { class: 'editor-fields' },
        h('div', { class: 'field' }, h('label', { class: 'field-label', for: kbps.input.id }, 'Maximum bit rate', h('span', { class: 'sr-only' }, ' in kbit/s')), kbps.wrap,
          h('p', { class: 'field-hint', id: `${kbps.input.id}-hint` }, 'Only the qualities at or below it are offered. Empty or 0: no limit.')),
        h('div', { class: 'field' }, h('label', { class: 'field-label', for: streams.input.id }, 'Maximum streams at once'), streams.wrap,
          h('p', { class: 'field-hint', id: `${streams.input.id}-hint` }, 'Different items played at the same time. Empty or 0: no limit.')),
        h('div', { class: 'field' }, h('label', { class: 'field-label', for: 'edit-user-password' }, 'New password'), password,
          h('p', { class: 'field-hint', id: 'edit-user-password-hint' },
            `At least 10 characters; empty keeps the current one. A new one signs ${me ? 'you' : user.name} out everywhere${me ? ', here too' : ''}.`))),
      h('div', { class: 'form-actions' }, save, cancel, error));
    const tr = h('tr', { class: 'editor-row', id: 'user-editor-row', dataset: { editor: user.name } },
      h('td', { class: 'editor-cell', colspan: COLUMNS }, h('div', { class: 'editor-frame' }, form)));

    let current = user;
    function sync(fresh) {
      current = fresh || current;
      const admin = current.role === 'admin';
      all.disabled = admin;
      for (const box of boxes) box.disabled = admin || all.checked;
      librariesHint.textContent = admin
        ? 'Admins see every library.'
        : (libraries.length ? '' : 'No libraries yet: start the server with --media NAME=DIR.');
    }
    all.addEventListener('change', () => sync());
    const fail = (message, focus) => {
      error.hidden = false;
      error.textContent = message;
      if (focus) focus.focus();
    };
    for (const input of [kbps.input, streams.input, password, all, ...boxes]) input.addEventListener('input', () => { error.hidden = true; });
    cancel.addEventListener('click', () => closeEditor());
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        closeEditor();
      }
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      const patch = {};
      if (current.role !== 'admin') {
        const chosen = all.checked ? ['*'] : boxes.filter((b) => b.checked).map((b) => b.value);
        if (!chosen.length) return fail('Pick at least one library, or “All libraries”.', all);
        if (!sameLibraries(chosen, current.libraries || [])) patch.libraries = chosen;
      }
      const maxKbps = limitValue(kbps.input);
      if (Number.isNaN(maxKbps)) return fail('The bit rate is a whole number of kbit/s (empty or 0: no limit).', kbps.input);
      if (maxKbps !== (current.max_kbps || 0)) patch.max_kbps = maxKbps;
      const maxStreams = limitValue(streams.input);
      if (Number.isNaN(maxStreams)) return fail('The number of streams is a whole number (empty or 0: no limit).', streams.input);
      if (maxStreams !== (current.max_streams || 0)) patch.max_streams = maxStreams;
      if (password.value) {
        if ([...password.value].length < 10) return fail('The new password needs at least 10 characters.', password);
        patch.password = password.value;
      }
      if (!Object.keys(patch).length) {
        closeEditor();
        say(`Nothing to change for ${current.name}.`);
        return;
      }
      save.disabled = true;
      cancel.disabled = true;
      try {
        await api(`/api/v1/users/${encodeURIComponent(current.name)}`, { method: 'PATCH', json: patch, auth: !(me && patch.password) });
      } catch (err) {
        save.disabled = false;
        cancel.disabled = false;
        fail(`Could not save: ${err.message}`);
        return;
      }
      if (!alive()) return;
      if (me && patch.password) {
        // The new password ended this session too.
        setSession(null);
        goToLogin('/admin');
        return;
      }
      const changed = [
        patch.libraries && 'libraries',
        (patch.max_kbps !== undefined || patch.max_streams !== undefined) && 'limits',
        patch.password && 'password (signed out everywhere)',
      ].filter(Boolean);
      closeEditor();
      say(`Saved ${current.name}: ${changed.join(', ')}.`);
      await load();
      const button = editButton(current.name);
      if (button) button.focus();
    });

    editor = { name: user.name, tr, sync };
    sync();
    const anchor = tbody.querySelector(`tr[data-user="${CSS.escape(user.name)}"]`);
    anchor.after(tr);
    const button = editButton(user.name);
    if (button) button.setAttribute('aria-expanded', 'true');
    (current.role === 'admin' ? kbps.input : all).focus();
  }

  function row(user) {
    const me = session.user && session.user.name === user.name;
    const roleSelect = h('select', { 'aria-label': `Role of ${user.name}`, class: 'select-small', disabled: me, dataset: { user: user.name } },
      ROLES.map(([value, label]) => h('option', { value, selected: value === user.role }, label)));
    roleSelect.addEventListener('change', () => change(user, { role: roleSelect.value }, `${user.name} is now ${roleLabel(roleSelect.value).toLowerCase()}.`));
    const edit = h('button', {
      class: 'button button-small', type: 'button', dataset: { action: 'edit' }, 'aria-label': `Edit ${user.name}`,
      'aria-expanded': 'false', 'aria-controls': 'user-editor-row',
      onclick: () => openEditor(user),
    }, 'Edit');
    const actions = me ? [edit, h('span', { class: 'muted' }, 'you')] : [
      edit,
      h('button', {
        class: 'button button-small', type: 'button', dataset: { action: user.disabled ? 'enable' : 'disable' },
        'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.name}`,
        onclick: (e) => {
          e.currentTarget.disabled = true;
          change(user, { disabled: !user.disabled }, `${user.name} ${user.disabled ? 'may sign in again' : 'is disabled: signed out, tokens and links stop working'}.`);
        },
      }, user.disabled ? 'Enable' : 'Disable'),
      confirmButton('Delete', 'Really delete?', { dataset: { action: 'delete' }, 'aria-label': `Delete ${user.name}` }, async () => {
        say('');
        try {
          await api(`/api/v1/users/${encodeURIComponent(user.name)}`, { method: 'DELETE' });
          say(`Deleted ${user.name}.`);
        } catch (err) {
          say(`Could not delete ${user.name}: ${err.message}`, true);
        }
        await load();
      }),
    ];
    return h('tr', { dataset: { user: user.name }, class: user.disabled ? 'is-disabled' : null },
      h('th', { scope: 'row' }, user.name),
      h('td', {}, roleSelect),
      h('td', { class: 'cell-wrap' }, librariesLabel(user)),
      h('td', { class: 'cell-limits' }, limitsCell(user)),
      h('td', {}, h('span', { class: `state ${user.disabled ? 'state-off' : 'state-on'}` }, user.disabled ? 'Disabled' : 'Active')),
      h('td', { class: 'cell-dim cell-nowrap' }, time(user.created)),
      h('td', { class: 'cell-actions' }, h('div', { class: 'row-actions' }, actions)));
  }

  async function load() {
    try {
      const data = await api('/api/v1/users');
      if (!alive()) return;
      const users = (data && data.users) || [];
      // An open editor stays open (with what was typed in it) under its user's fresh row.
      const open = editor && users.find((u) => u.name === editor.name);
      if (editor) editor.tr.remove();
      tbody.replaceChildren(...users.map(row));
      if (open) {
        tbody.querySelector(`tr[data-user="${CSS.escape(open.name)}"]`).after(editor.tr);
        editButton(open.name).setAttribute('aria-expanded', 'true');
        editor.sync(open);
      } else {
        editor = null;
      }
    } catch (err) {
      if (alive()) say(`Could not load the users: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const chosen = role.value === 'admin' || all.checked ? ['*'] : boxes().filter((b) => b.checked).map((b) => b.value);
    if (!chosen.length) {
      formError.hidden = false;
      formError.textContent = 'Pick at least one library, or “All libraries”.';
      return;
    }
    submit.disabled = true;
    try {
      const user = await api('/api/v1/users', {
        method: 'POST', json: { name: name.value.trim(), password: password.value, role: role.value, libraries: chosen },
      });
      form.reset();
      syncLibraries();
      say(`Added ${(user && user.name) || 'the user'}.`);
      await load();
      name.focus();
    } catch (err) {
      formError.hidden = false;
      formError.textContent = err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : 'Could not add the user.';
    } finally {
      submit.disabled = false;
    }
  });

  syncLibraries();
  loadLibraries();
  load();
  return root;
}

// ---------------------------------------------------------------- API tokens

function tokensPanel(alive) {
  const { root, body, say } = panel('tokens', 'Your API tokens',
    'For scripts, TVs and players that cannot sign in: they send Authorization: Bearer TOKEN, and act as you.');
  const tbody = h('tbody', { id: 'tokens-rows' });
  const empty = h('p', { class: 'muted panel-empty', id: 'tokens-empty', hidden: true }, 'No tokens yet.');
  const table = h('div', { class: 'table-wrap' }, h('table', { class: 'table', id: 'tokens-table' },
    h('caption', { class: 'sr-only' }, 'Your API tokens'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Label'), h('th', { scope: 'col' }, 'Scopes'), h('th', { scope: 'col' }, 'Created'),
      h('th', { scope: 'col' }, 'Last used'), h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody));
  const label = h('input', {
    class: 'input', id: 'new-token-label', name: 'label', required: true, maxlength: 100, autocomplete: 'off',
    placeholder: 'living-room TV',
  });
  const submit = h('button', { class: 'button button-primary', id: 'new-token-submit', type: 'submit' }, 'Create token');
  const formError = h('p', { class: 'form-error', id: 'new-token-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'inline-form', id: 'new-token-form', 'aria-label': 'Create an API token' },
    h('div', { class: 'field field-grow' }, h('label', { class: 'field-label', for: 'new-token-label' }, 'What will use it?'), label),
    submit, formError);
  const created = h('div', { class: 'token-once', id: 'new-token', role: 'status', hidden: true });
  body.append(form, created, table, empty);

  function showCreated(result) {
    const value = h('input', {
      class: 'input input-mono', id: 'new-token-value', readonly: true, value: result.token,
      'aria-label': `The new token for ${result.label}`, spellcheck: 'false',
    });
    const copy = copyButton(value, { id: 'new-token-copy' });
    const done = h('button', { class: 'button button-small', type: 'button' }, 'Done');
    done.addEventListener('click', () => {
      created.hidden = true;
      created.replaceChildren();
      label.focus();
    });
    created.replaceChildren(
      h('p', { class: 'token-once-title' }, h('strong', {}, `Token “${result.label}” created. `),
        'Copy it now: this is the only time it is shown.'),
      h('div', { class: 'token-once-row' }, value, copy, done));
    created.hidden = false;
    value.focus();
    value.select();
  }

  function row(token) {
    const actions = token.revoked ? [] : [confirmButton('Revoke', 'Really revoke?', {
      dataset: { action: 'revoke' }, 'aria-label': `Revoke the token ${token.label}`,
    }, async () => {
      say('');
      try {
        await api(`/api/v1/tokens/${encodeURIComponent(token.id)}`, { method: 'DELETE' });
        say(`Revoked “${token.label}”.`);
      } catch (err) {
        say(`Could not revoke “${token.label}”: ${err.message}`, true);
      }
      await load();
    })];
    return h('tr', { dataset: { token: token.id }, class: token.revoked ? 'is-disabled' : null },
      h('th', { scope: 'row', class: 'cell-wrap' }, token.label),
      h('td', { class: 'cell-dim' }, (token.scopes || []).join(', ')),
      h('td', { class: 'cell-dim' }, time(token.created)),
      h('td', { class: 'cell-dim' }, token.last_used ? time(token.last_used) : 'never'),
      h('td', {}, h('span', { class: `state ${token.revoked ? 'state-off' : 'state-on'}` }, token.revoked ? 'Revoked' : 'Active')),
      h('td', { class: 'cell-actions' }, h('div', { class: 'row-actions' }, actions)));
  }

  async function load() {
    try {
      const data = await api('/api/v1/tokens');
      if (!alive()) return;
      const tokens = ((data && data.tokens) || []).slice().sort((a, b) => Number(a.revoked) - Number(b.revoked) || b.created - a.created);
      tbody.replaceChildren(...tokens.map(row));
      table.hidden = tokens.length === 0;
      empty.hidden = tokens.length > 0;
    } catch (err) {
      if (alive()) say(`Could not load your tokens: ${err.message}`, true);
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    formError.hidden = true;
    submit.disabled = true;
    try {
      const result = await api('/api/v1/tokens', { method: 'POST', json: { label: label.value.trim() } });
      form.reset();
      say('');
      showCreated({ ...result, label: result.label || label.value });
      await load();
    } catch (err) {
      formError.hidden = false;
      formError.textContent = `Could not create the token: ${err.message}`;
    } finally {
      submit.disabled = false;
    }
  });

  load();
  return root;
}

// ---------------------------------------------------------------- audit log

function auditPanel(alive) {
  const { root, body, say } = panel('audit', 'Audit log', `The last ${AUDIT_SHOWN} sign-ins and account changes, newest first.`);
  const tbody = h('tbody', { id: 'audit-rows' });
  const refresh = h('button', { class: 'button button-small', type: 'button', id: 'audit-refresh' }, 'Refresh');
  root.querySelector('.panel-head').append(refresh);
  body.append(h('div', { class: 'table-wrap' }, h('table', { class: 'table table-compact', id: 'audit-table' },
    h('caption', { class: 'sr-only' }, 'Audit log'),
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Who'), h('th', { scope: 'col' }, 'What'),
      h('th', { scope: 'col' }, 'Target'), h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Result'))),
    tbody)));

  async function load() {
    refresh.disabled = true;
    try {
      const data = await api('/api/v1/audit');
      if (!alive()) return;
      const events = ((data && data.events) || []).slice(0, AUDIT_SHOWN);
      tbody.replaceChildren(...events.map((e) => h('tr', { class: e.ok ? null : 'is-failed' },
        h('td', { class: 'cell-dim cell-nowrap' }, time(e.time)),
        h('td', {}, e.actor || h('span', { class: 'muted' }, '—')),
        h('td', {}, h('code', {}, e.action)),
        h('td', { class: 'cell-wrap' }, e.target || ''),
        h('td', { class: 'cell-dim' }, e.address || ''),
        h('td', {}, h('span', { class: `state ${e.ok ? 'state-on' : 'state-bad'}` }, e.ok ? 'OK' : 'Refused')))));
      if (!events.length) tbody.append(h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'Nothing yet.')));
      say('');
    } catch (err) {
      if (alive()) say(`Could not load the audit log: ${err.message}`, true);
    } finally {
      refresh.disabled = false;
    }
  }
  refresh.addEventListener('click', load);
  load();
  return root;
}

// ---------------------------------------------------------------- views

export function adminView() {
  let destroyed = false;
  const alive = () => !destroyed;
  document.title = 'Admin · manofwar';
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'Admin'),
    h('p', { class: 'page-sub' }, 'Accounts, API tokens and the audit log.'));
  let root;
  if (!isAdmin()) {
    root = h('section', { class: 'empty' }, h('h2', {}, 'Admins only'),
      h('p', {}, 'Your account may not manage users. Your API tokens are on their own page.'),
      h('p', {}, h('a', { class: 'button', href: '#/tokens' }, 'Your API tokens')));
  } else {
    root = h('section', { class: 'admin' }, head, usersPanel(alive), tokensPanel(alive), auditPanel(alive));
  }
  return { root, nav: 'admin', destroy() { destroyed = true; } };
}

export function tokensView() {
  let destroyed = false;
  document.title = 'API tokens · manofwar';
  const head = h('div', { class: 'page-head' }, h('h1', {}, 'API tokens'));
  const root = h('section', { class: 'admin' }, head, tokensPanel(() => !destroyed));
  return { root, nav: isAdmin() ? 'admin' : null, destroy() { destroyed = true; } };
}
