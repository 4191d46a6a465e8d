// Signing in and out: the login page (#/login), the first-run setup page (#/setup?token=…) and
// the user menu in the top bar.

import {
  h, api, session, setSession, onSessionChange, safeNext, goToLogin, isAdmin,
} from './dom.js';

const BRAND_MARK = '<svg viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8"/><path d="M12 9l12 7-12 7z"/></svg>';

/** "Too many attempts" wait from a 429's Retry-After header (seconds), at least 1. */
function retryAfter(err) {
  const value = Number(err.headers && err.headers.get('Retry-After'));
  if (Number.isFinite(value) && value > 0) return Math.ceil(value);
  const m = String(err.message || '').match(/(\d+)\s*s\b/);
  return m ? Number(m[1]) : 1;
}

function field(id, label, attrs, hint) {
  const input = h('input', { id, name: id, class: 'input', ...attrs, 'aria-describedby': hint ? `${id}-hint` : null });
  return h('div', { class: 'field' },
    h('label', { class: 'field-label', for: id }, label),
    input,
    hint ? h('p', { class: 'field-hint', id: `${id}-hint` }, hint) : null);
}

/** A card in the middle of the page, for the login and setup forms. */
function authCard(title, lead, ...children) {
  const mark = h('div', { class: 'auth-mark brand-mark' });
  mark.innerHTML = BRAND_MARK;
  return h('section', { class: 'auth-page' },
    h('div', { class: 'auth-card' },
      mark,
      h('h1', { class: 'auth-title' }, title),
      lead ? h('p', { class: 'auth-lead' }, lead) : null,
      ...children));
}

function submitting(button, busy, idleLabel, busyLabel) {
  button.disabled = busy;
  button.replaceChildren(...(busy ? [h('span', { class: 'spinner', 'aria-hidden': 'true' }), busyLabel] : [idleLabel]));
}

// ---------------------------------------------------------------- #/login

/** Whether single sign-on is on (GET /api/v1/auth/oidc): {enabled, name}; a 404 is a server without it. */
async function ssoState() {
  try {
    const state = await api('/api/v1/auth/oidc', { auth: false });
    return { enabled: Boolean(state && state.enabled), name: (state && state.name) || '' };
  } catch {
    return { enabled: false, name: '' };
  }
}

/** `next` leads back there after signing in; `failed` is why a single sign-on did not work. */
export function loginView(next, failed) {
  const back = safeNext(next);
  document.title = 'Sign in · manofwar';
  const error = h('div', { class: 'banner banner-error', id: 'login-error', role: 'alert', hidden: true });
  const notice = h('div', { class: 'notice notice-info', id: 'login-notice', role: 'status', hidden: true });
  const username = field('login-username', 'User name', {
    type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true,
  });
  const password = field('login-password', 'Password', {
    type: 'password', autocomplete: 'current-password', required: true,
  });
  const submit = h('button', { class: 'button button-primary button-wide', id: 'login-submit', type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'auth-form', id: 'login-form', 'aria-label': 'Sign in' }, username, password, submit);
  // Single sign-on, when the server has it: a whole-page visit to the provider and back.
  const sso = h('div', { class: 'auth-sso', id: 'login-sso', hidden: true });
  const root = authCard('Sign in', 'Use the account your manofwar admin gave you.', notice, error, form, sso);
  const nameInput = username.querySelector('input');
  const passwordInput = password.querySelector('input');

  let destroyed = false;
  let countdown = null;

  function showError(message) {
    error.hidden = false;
    error.textContent = message;
  }

  function throttled(seconds) {
    let left = seconds;
    const tick = () => {
      if (destroyed) return;
      if (left <= 0) {
        countdown = null;
        error.hidden = true;
        submitting(submit, false, 'Sign in');
        return;
      }
      showError(`Too many attempts, try again in ${left} s`);
      left -= 1;
      countdown = setTimeout(tick, 1000);
    };
    submit.disabled = true;
    tick();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (submit.disabled) return;
    error.hidden = true;
    submitting(submit, true, 'Sign in', 'Signing in…');
    try {
      const signedIn = await api('/api/v1/auth/login', {
        method: 'POST', auth: false, json: { username: nameInput.value.trim(), password: passwordInput.value },
      });
      if (destroyed) return;
      setSession(signedIn);
      location.hash = `#${back}`;
    } catch (err) {
      if (destroyed) return;
      submitting(submit, false, 'Sign in');
      if (err.status === 429) {
        throttled(retryAfter(err));
      } else if (err.status === 401) {
        showError('Wrong user name or password');
        passwordInput.value = '';
        passwordInput.focus();
      } else {
        showError(`Could not sign in: ${err.message}`);
      }
    }
  });

  if (failed) {
    const message = String(failed).trim();
    showError(message.charAt(0).toUpperCase() + message.slice(1));
    // Shown once: reloading the page does not bring it back.
    const query = back === '/' ? '' : `?next=${encodeURIComponent(back)}`;
    history.replaceState(history.state, '', `#/login${query}`);
  }

  if (!session.accounts) {
    form.hidden = true;
    notice.hidden = false;
    notice.replaceChildren('This server has no accounts: nobody needs to sign in. ', h('a', { href: '#/' }, 'Go to the library'));
  } else {
    // Before the first account exists, only the setup link helps.
    api('/api/v1/auth/setup', { auth: false }).then((state) => {
      if (destroyed || !state || !state.needed) return;
      notice.hidden = false;
      notice.replaceChildren(
        h('strong', {}, 'No account exists yet. '),
        'Open the one-time setup link that manofwar printed when it started (it ends in ',
        h('code', {}, '/#/setup?token=…'), ') to create the admin account.');
    }).catch(() => {});
    ssoState().then(({ enabled, name }) => {
      if (destroyed || !enabled) return;
      sso.replaceChildren(
        h('p', { class: 'auth-or', 'aria-hidden': 'true' }, 'or'),
        h('a', {
          class: 'button button-wide', id: 'login-sso-start',
          href: `/api/v1/auth/oidc/start?next=${encodeURIComponent(back)}`,
        }, name ? `Sign in with ${name}` : 'Sign in with single sign-on'));
      sso.hidden = false;
    });
  }
  setTimeout(() => { if (!destroyed && !form.hidden) nameInput.focus(); }, 0);

  return {
    root,
    nav: null,
    bare: true,
    destroy() {
      destroyed = true;
      if (countdown) clearTimeout(countdown);
    },
  };
}

// ---------------------------------------------------------------- #/setup?token=…

export function setupView(token) {
  document.title = 'Set up · manofwar';
  const error = h('div', { class: 'banner banner-error', id: 'setup-error', role: 'alert', hidden: true });
  const username = field('setup-username', 'Admin user name', {
    type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true,
    value: 'admin', maxlength: 64,
  });
  const password = field('setup-password', 'Password', {
    type: 'password', autocomplete: 'new-password', required: true, minlength: 10,
  }, 'At least 10 characters: a few random words make a good one.');
  const confirm = field('setup-confirm', 'Password again', {
    type: 'password', autocomplete: 'new-password', required: true, minlength: 10,
  });
  const submit = h('button', { class: 'button button-primary button-wide', id: 'setup-submit', type: 'submit' }, 'Create admin account');
  const form = h('form', { class: 'auth-form', id: 'setup-form', 'aria-label': 'Create the admin account' },
    username, password, confirm, submit);
  const body = h('div', { class: 'auth-body' }, h('div', { class: 'loading' }, h('span', { class: 'spinner' }), 'Checking…'));
  const root = authCard('Welcome to manofwar', null, body);
  const [nameInput, passwordInput, confirmInput] = [username, password, confirm].map((f) => f.querySelector('input'));
  let destroyed = false;

  const signInLink = () => h('a', { class: 'button button-primary button-wide', href: '#/login', id: 'setup-sign-in' }, 'Sign in');

  function showForm() {
    body.replaceChildren(
      h('p', { class: 'auth-lead' },
        'Create the admin account for this server. Afterwards, add accounts for family and friends, ' +
        'and choose which libraries each of them sees.'),
      h('p', { class: 'auth-fine' }, 'This link works once: from then on, sign in with this account.'),
      error, form);
    setTimeout(() => { if (!destroyed) passwordInput.focus(); }, 0);
  }

  function showMessage(title, ...text) {
    body.replaceChildren(h('div', { class: 'auth-message', id: 'setup-message' }, h('h2', {}, title), ...text));
  }

  for (const input of [passwordInput, confirmInput]) input.addEventListener('input', () => { error.hidden = true; });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (passwordInput.value !== confirmInput.value) {
      error.hidden = false;
      error.textContent = 'The two passwords are not the same.';
      confirmInput.focus();
      return;
    }
    submitting(submit, true, 'Create admin account', 'Creating…');
    try {
      const signedIn = await api('/api/v1/auth/setup', {
        method: 'POST', auth: false, json: { token, username: nameInput.value.trim(), password: passwordInput.value },
      });
      if (destroyed) return;
      setSession(signedIn);
      // Replace the setup URL in the history: its token is spent, and need not linger.
      location.replace('#/');
    } catch (err) {
      if (destroyed) return;
      submitting(submit, false, 'Create admin account');
      if (err.status === 403) {
        showMessage('This setup link does not work',
          h('p', {}, 'Its token is wrong or was used already. If the admin account exists, sign in with it.'),
          signInLink());
        return;
      }
      error.hidden = false;
      error.textContent = err.status === 400 ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : `Could not create the account: ${err.message}`;
    }
  });

  (async () => {
    if (!session.accounts) {
      showMessage('Nothing to set up', h('p', {}, 'This server has no accounts.'), h('a', { class: 'button', href: '#/' }, 'Go to the library'));
      return;
    }
    let needed = true;
    try {
      needed = (await api('/api/v1/auth/setup', { auth: false })).needed;
    } catch {
      // Let the POST say what is wrong.
    }
    if (destroyed) return;
    if (!needed) {
      showMessage('This server is set up already',
        h('p', {}, session.user ? `You are signed in as ${session.user.name}.` : 'Sign in with your account.'),
        session.user ? h('a', { class: 'button button-primary button-wide', href: '#/' }, 'Go to the library') : signInLink());
    } else if (!token) {
      showMessage('Open the setup link',
        h('p', {}, 'manofwar printed a one-time link when it started for the first time, like:'),
        h('p', {}, h('code', { class: 'auth-code' }, `${location.origin}/#/setup?token=…`)),
        h('p', {}, 'Open that link (it is in the server’s output or log) to create the admin account.'));
    } else {
      showForm();
    }
  })();

  return {
    root,
    nav: null,
    bare: true,
    destroy() {
      destroyed = true;
    },
  };
}

// ---------------------------------------------------------------- the user menu

const ROLE_LABELS = { admin: 'Admin', member: 'Member', guest: 'Guest' };
export const roleLabel = (role) => ROLE_LABELS[role] || String(role || '');

/** Fills `container` (in the top bar) with the signed-in user's menu, and keeps it current. */
export function mountUserMenu(container, adminLink) {
  let open = false;
  const button = h('button', {
    class: 'user-button', id: 'user-menu-button', type: 'button',
    'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-controls': 'user-menu',
  });
  const panel = h('div', { class: 'user-panel', id: 'user-menu', hidden: true });
  container.append(button, panel);

  function setOpen(value) {
    open = value;
    panel.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
  }

  async function logout(event) {
    const out = event.currentTarget;
    out.disabled = true;
    try {
      await api('/api/v1/auth/logout', { method: 'POST', auth: false });
    } catch {
      // Signed out already (401), or the server is gone: either way, forget this session.
    }
    setOpen(false);
    setSession(null);
    goToLogin('/');
  }

  function render() {
    const user = session.user;
    container.hidden = !user;
    if (adminLink) adminLink.hidden = !isAdmin();
    setOpen(false);
    if (!user) {
      button.replaceChildren();
      panel.replaceChildren();
      return;
    }
    const initial = (user.name.match(/[\p{L}\p{N}]/u) || ['?'])[0].toUpperCase();
    button.setAttribute('aria-label', `Account: ${user.name} (${roleLabel(user.role)})`);
    button.replaceChildren(
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, initial),
      h('span', { class: 'user-name' }, user.name),
      h('span', { class: `role role-${user.role}` }, roleLabel(user.role)));
    const libraries = user.libraries || [];
    const sees = user.role === 'admin' || libraries.includes('*')
      ? 'All libraries'
      : (libraries.length ? libraries.join(', ') : 'No libraries yet');
    panel.replaceChildren(
      h('div', { class: 'user-panel-head' },
        h('div', { class: 'user-panel-name', id: 'user-menu-name' }, user.name),
        h('div', { class: 'user-panel-role' }, h('span', { class: `role role-${user.role}`, id: 'user-menu-role' }, roleLabel(user.role)),
          h('span', { class: 'user-panel-libraries' }, sees))),
      h('ul', { class: 'user-panel-links' },
        isAdmin() ? h('li', {}, h('a', { href: '#/admin' }, 'Users, tokens & audit log')) : h('li', {}, h('a', { href: '#/tokens' }, 'API tokens'))),
      h('button', { class: 'button button-wide', id: 'logout', type: 'button', onclick: logout }, 'Log out'));
  }

  button.addEventListener('click', () => setOpen(!open));
  document.addEventListener('click', (event) => {
    if (open && !container.contains(event.target)) setOpen(false);
  });
  container.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && open) {
      setOpen(false);
      button.focus();
    }
  });
  panel.addEventListener('click', (event) => {
    if (event.target.closest('a')) setOpen(false);
  });
  window.addEventListener('hashchange', () => setOpen(false));
  onSessionChange(render);
  render();
}
