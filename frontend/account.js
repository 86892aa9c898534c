// Dashboard sections for managing the account: active sessions (sign out one, or all others),
// change password, passkeys (add, rename, remove), recent activity, delete the account. Each is
// cloned from a <template> in index.html and filled with textContent only: user agents, IPs and
// passkey names come from whoever sent them. (Two-step verification is its own module,
// two-step.js, built from the helpers exported here; the WebAuthn calls are passkeys.js.)
//
// Any call answered 401 means this session ended (revoked from another device, expired, or the
// password was changed elsewhere): app.sessionExpired() shows the login screen with a notice and
// comes back here after login. Sections that change server state announce it, and the others
// that show server state (sessions, activity) reload.

import { api, ApiError, NetworkError, errorMessage } from './api.js';
import { Form, setButtonBusy } from './forms.js';
import { cloneTemplate, slot } from './dom.js';
import { EVENT_WORDS, FIELD_ERROR, NOTICE, PROBLEM, WARNING_EVENTS } from './codes.js';
import { createPasskey, passkeySupport, showHint } from './passkeys.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "2026-11-28 16:58:03 UTC": the exact instant, for tooltips. */
function utc(when) {
  return `${when.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Fills a <time> with a local date and time; the exact UTC instant is its tooltip. */
export function setTime(element, iso) {
  const when = new Date(iso);
  if (typeof iso !== 'string' || Number.isNaN(when.getTime())) {
    element.textContent = typeof iso === 'string' ? iso : 'unknown';
    return;
  }
  element.dateTime = iso;
  element.title = utc(when);
  element.textContent = dateTime.format(when);
}

const BROWSERS = [
  [/Edg(e|A|iOS)?\//, 'Edge'],
  [/OPR\/|Opera/, 'Opera'],
  [/SamsungBrowser\//, 'Samsung Internet'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrom(e|ium)\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/HTTPie\//, 'HTTPie'],
  [/^Wget\//, 'Wget'],
  [/python-httpx|python-requests|aiohttp/, 'Python'],
  [/^node|undici/, 'Node.js'],
  [/^Go-http-client/, 'Go'],
];
const SYSTEMS = [
  [/Windows/, 'Windows'],
  [/iPhone|iPad|iPod/, 'iOS'],
  [/Android/, 'Android'],
  [/CrOS/, 'ChromeOS'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Linux/, 'Linux'],
];

/** "Chrome on Linux" from a user agent string; the raw string stays available separately. */
export function describeDevice(userAgent) {
  if (!userAgent) return 'Unknown device';
  const find = (table) => table.find(([pattern]) => pattern.test(userAgent))?.[1];
  const browser = find(BROWSERS);
  const system = find(SYSTEMS);
  if (browser && system) return `${browser} on ${system}`;
  if (browser || system) return browser || system;
  return userAgent.length > 40 ? `${userAgent.slice(0, 40)}…` : userAgent;
}

/**
 * Shows an error in a section's alert, or leaves the dashboard when the session ended. A section
 * that is no longer on the page (another section already left) stays quiet.
 */
export function failed(error, alert, app) {
  if (!alert.isConnected) return;
  if (error instanceof ApiError && error.status === 401) {
    app.sessionExpired();
    return;
  }
  // A bug in this page rather than an answer: keep it visible to developers.
  if (!(error instanceof ApiError || error instanceof NetworkError)) console.error(error);
  alert.textContent = errorMessage(error);
}

/** The element that has focus, unless focus fell onto <body> (its element was removed). */
const focusLost = () => !document.activeElement || document.activeElement === document.body;

// Sections that show server state reload when another section changes it.
const CHANGED = 'latchkey:account-changed';
export const announceChange = (source) => document.dispatchEvent(new CustomEvent(CHANGED, { detail: source }));
function onChange(element, refresh) {
  const listener = (event) => {
    if (!element.isConnected) {
      document.removeEventListener(CHANGED, listener);
      return;
    }
    if (event.detail !== element) refresh();
  };
  document.addEventListener(CHANGED, listener);
}

/**
 * A list loaded from the API: "Loading…" until the first answer, the error and a Try again
 * button when it fails, and only the newest answer wins when loads overlap.
 */
function loader(card, app, fetchList, show) {
  const alert = slot(card, 'alert');
  const loading = slot(card, 'loading');
  const retry = card.querySelector('[data-action="reload"]');
  let ticket = 0;
  const load = async () => {
    const mine = ++ticket;
    try {
      const items = await fetchList();
      if (mine !== ticket || !card.isConnected) return;
      loading.hidden = true;
      retry.hidden = true;
      alert.textContent = '';
      show(items);
    } catch (error) {
      if (mine !== ticket) return;
      loading.hidden = true;
      failed(error, alert, app);
      retry.hidden = !alert.textContent;
    }
  };
  retry.addEventListener('click', () => {
    retry.hidden = true;
    alert.textContent = '';
    loading.hidden = false;
    card.querySelector('h3').focus();
    load();
  });
  return load;
}

export const sessionsSection = {
  id: 'sessions',
  render({ app }) {
    const card = cloneTemplate('tpl-section-sessions');
    const heading = card.querySelector('h3');
    const list = slot(card, 'list');
    const alert = slot(card, 'alert');
    const status = slot(card, 'status');
    const others = card.querySelector('[data-action="revoke-others"]');
    let busy = false;

    const item = (session) => {
      const row = cloneTemplate('tpl-session-item');
      const name = describeDevice(session.user_agent);
      const device = slot(row, 'device');
      device.textContent = name;
      if (session.user_agent) {
        device.title = session.user_agent;
        slot(row, 'user-agent').textContent = session.user_agent;
      } else {
        slot(row, 'raw').remove();
      }
      if (session.current) row.classList.add('is-current');
      else slot(row, 'current').remove();
      slot(row, 'ip').textContent = session.ip || 'unknown';
      setTime(slot(row, 'created'), session.created_at);
      setTime(slot(row, 'seen'), session.last_seen_at);
      setTime(slot(row, 'expires'), session.expires_at);
      const button = row.querySelector('[data-action="revoke"]');
      const signedIn = slot(row, 'created').textContent;
      button.setAttribute('aria-label', session.current
        ? 'Sign out this device'
        : `Sign out ${name}, signed in ${signedIn}`);
      button.addEventListener('click', () => run(button, async () => {
        let gone = false;
        try {
          await api.revokeSession(session.id);
        } catch (error) {
          // 404: it ended in the meantime (signed out elsewhere, expired); the list catches up.
          if (!(error instanceof ApiError && error.status === 404)) throw error;
          gone = true;
        }
        if (session.current) {
          await app.navigate('/login', { replace: true, state: { notice: NOTICE.loggedOut }, user: null });
          return;
        }
        await load();
        status.textContent = gone
          ? `That session (${name}) had already ended. The list is up to date.`
          : `Signed out ${name}.`;
        announceChange(card);
      }));
      return row;
    };

    const load = loader(card, app, () => api.sessions(), (sessions) => {
      // This device first, then the most recently active.
      const sorted = [...sessions].sort((a, b) => (Number(b.current) - Number(a.current))
        || String(b.last_seen_at).localeCompare(String(a.last_seen_at)));
      list.replaceChildren(...sorted.map(item));
      others.hidden = !sessions.some((session) => !session.current);
    });

    /** One action at a time in this section; the clicked button shows that it is busy. */
    const run = async (button, work) => {
      if (busy) return;
      busy = true;
      alert.textContent = '';
      status.textContent = '';
      setButtonBusy(button, true);
      try {
        await work();
      } catch (error) {
        failed(error, alert, app);
        if (alert.isConnected && alert.textContent) alert.focus();
      } finally {
        busy = false;
        if (button.isConnected) setButtonBusy(button, false);
        // The row or button that had focus is gone: keep the keyboard user in this section.
        if (card.isConnected && focusLost()) heading.focus();
      }
    };

    others.addEventListener('click', () => run(others, async () => {
      await api.revokeOtherSessions();
      await load();
      status.textContent = 'Every other session has been signed out.';
      announceChange(card);
    }));
    onChange(card, load);
    load();
    return card;
  },
};

/**
 * Marks each empty field named in `messages` with its message; true when there were any.
 * The API treats an empty current password as a wrong one (403, and a strike against the
 * account's throttle), so an empty field never goes out.
 */
function missing(handle, values, messages) {
  const empty = Object.keys(messages).filter((name) => values[name] === '');
  for (const name of empty) handle.setFieldError(name, messages[name]);
  if (empty.length > 0) handle.focusFirstError();
  return empty.length > 0;
}

/**
 * The Form of a request that checks the user's password again (change password, delete the
 * account). `required` words each field's "empty" error, in the page and for the API's
 * `required`; `wrong_password` is shown at `passwordField` as `wrongPassword`; a 401 ends the
 * session. `send(values)` runs the request, `done(values, answer)` what follows its success
 * (`answer`: what send resolved with).
 */
export function passwordCheckForm(form, app, { required, passwordField, wrongPassword, send, done }) {
  const messages = Object.fromEntries(Object.entries(required)
    .map(([name, text]) => [name, { [FIELD_ERROR.required]: text }]));
  return new Form(form, async (values, handle) => {
    if (missing(handle, values, required)) return undefined;
    let answer;
    try {
      answer = await send(values);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return app.sessionExpired();
      if (error instanceof ApiError && error.code === PROBLEM.wrongPassword) {
        handle.setFieldError(passwordField, wrongPassword);
        handle.focusFirstError();
        return undefined;
      }
      throw error;
    }
    return done(values, answer);
  }, { messages });
}

export const passwordSection = {
  id: 'password',
  render({ app }) {
    const card = cloneTemplate('tpl-section-password');
    const form = slot(card, 'form');
    const status = slot(card, 'status');
    for (const type of ['input', 'submit']) form.addEventListener(type, () => { status.textContent = ''; });
    passwordCheckForm(form, app, {
      required: {
        current_password: 'Enter your current password.',
        new_password: 'Enter a new password.',
      },
      passwordField: 'current_password',
      wrongPassword: 'This is not your current password.',
      send: (values) => api.changePassword(values.current_password, values.new_password),
      done: () => {
        form.reset(); // the password fields go back to hidden with it
        status.textContent = 'Password changed. Every other session has been signed out.';
        announceChange(card);
      },
    });
    return card;
  },
};

/** What the page says when the device did not create the passkey (create() rejected). */
function notCreated(error) {
  switch (error.name) {
    case 'InvalidStateError':
      return 'This device already has a passkey for this account. Use it to sign in, or remove it '
        + 'from the list first to make a new one.';
    case 'NotAllowedError':
    case 'AbortError':
      return 'No passkey was added: the device’s prompt was closed or timed out. Try again when '
        + 'you are ready.';
    case 'NotSupportedError':
      return 'This device cannot make a passkey of a kind Latchkey accepts.';
    case 'SecurityError':
      return 'Passkeys cannot be made at this address of the page.';
    default:
      return `The device could not make the passkey (${error.name}).`;
  }
}

/** Passkey names: 1–64 characters (the API's rule). */
const PASSKEY_NAME_MAX = 64;

export const passkeysSection = {
  id: 'passkeys',
  render({ app }) {
    const card = cloneTemplate('tpl-section-passkeys');
    const heading = card.querySelector('h3');
    const list = slot(card, 'list');
    const empty = slot(card, 'empty');
    const alert = slot(card, 'alert');
    const status = slot(card, 'status');
    const add = card.querySelector('[data-action="add"]');
    const addForm = slot(card, 'add-form');
    const renameForm = slot(card, 'rename-form');
    const removeForm = slot(card, 'remove-form');
    for (const form of [addForm, renameForm]) form.elements.namedItem('name').maxLength = PASSKEY_NAME_MAX;
    /** The passkey whose row has the rename or the remove form open: { passkey, row }, or null. */
    let renaming = null;
    let removing = null;

    const support = passkeySupport();
    if (support.usable) {
      add.hidden = false;
    } else if (support.hint) {
      showHint(slot(card, 'unusable'), support);
    } else {
      showHint(slot(card, 'unusable'), {
        hint: 'This browser cannot make passkeys. The ones you have still work where they are.',
      });
    }

    const clearMessages = () => {
      alert.textContent = '';
      status.textContent = '';
    };
    /** Focus on a row's button once the list is drawn again; the heading if the row is gone. */
    const focusRow = (id, action) => {
      const button = [...list.children].find((row) => row.dataset.id === id)
        ?.querySelector(`[data-action="${action}"]`);
      (button || heading).focus();
    };

    const item = (passkey) => {
      const row = cloneTemplate('tpl-passkey-item');
      row.dataset.id = passkey.id;
      slot(row, 'name').textContent = passkey.name;
      if (passkey.backed_up !== true) slot(row, 'synced').remove();
      setTime(slot(row, 'created'), passkey.created_at);
      const used = slot(row, 'used');
      if (passkey.last_used_at) {
        const time = document.createElement('time');
        setTime(time, passkey.last_used_at);
        used.replaceChildren('Last used ', time);
      } else {
        used.textContent = 'Never used';
      }
      const rename = row.querySelector('[data-action="rename"]');
      const remove = row.querySelector('[data-action="remove"]');
      rename.setAttribute('aria-label', `Rename ${passkey.name}`);
      remove.setAttribute('aria-label', `Remove ${passkey.name}…`);
      rename.addEventListener('click', () => openRename(passkey, row));
      remove.addEventListener('click', () => {
        if (removing?.passkey.id === passkey.id) closeRemove();
        else openRemove(passkey, row);
      });
      return row;
    };

    const load = loader(card, app, async () => (await api.passkeys())?.passkeys ?? [], (passkeys) => {
      // The row forms live in rows about to be replaced: home first.
      closeRename({ focus: false });
      closeRemove({ focus: false });
      list.replaceChildren(...passkeys.map(item));
      empty.hidden = passkeys.length > 0;
    });

    // ---- Add: the password, a name, then the device makes the passkey ----

    const openAdd = () => {
      closeRename({ focus: false });
      closeRemove({ focus: false });
      clearMessages();
      addForm.hidden = false;
      add.setAttribute('aria-expanded', 'true');
      const name = addForm.elements.namedItem('name');
      if (!name.value) name.value = describeDevice(navigator.userAgent);
      addForm.elements.namedItem('password').focus();
    };
    const closeAdd = ({ focus = true } = {}) => {
      if (addForm.hidden || (addHandle.busy && focus)) return;
      addForm.hidden = true;
      addForm.reset(); // the password goes back to hidden with it
      addHandle.clearErrors();
      add.setAttribute('aria-expanded', 'false');
      if (focus) add.focus();
    };
    add.addEventListener('click', () => {
      if (addForm.hidden) openAdd();
      else closeAdd();
    });
    addForm.querySelector('[data-action="cancel"]').addEventListener('click', () => closeAdd());

    const addHandle = passwordCheckForm(addForm, app, {
      required: { password: 'Enter your password to continue.' },
      passwordField: 'password',
      wrongPassword: 'This is not your password.',
      send: async ({ password, name }) => {
        const start = await api.startPasskeyRegistration(password);
        let credential;
        try {
          credential = await createPasskey(start.publicKey);
        } catch (error) {
          if (error instanceof DOMException) return { refused: error };
          throw error;
        }
        return { passkey: await api.finishPasskeyRegistration(start.ceremony, credential,
          String(name ?? '').trim()) };
      },
      done: async (values, { refused, passkey }) => {
        if (refused) {
          addHandle.setAlert(notCreated(refused));
          addHandle.focusFirstError();
          return;
        }
        closeAdd({ focus: false });
        await load();
        status.textContent = `Passkey “${passkey.name}” added. Next time, choose “Sign in with a `
          + 'passkey” on the login screen.';
        focusRow(passkey.id, 'rename');
        announceChange(card);
      },
    });

    // ---- Rename: in the row, in place of the name ----

    const openRename = (passkey, row) => {
      closeAdd({ focus: false });
      closeRemove({ focus: false });
      closeRename({ focus: false });
      clearMessages();
      renaming = { passkey, row };
      slot(renameForm, 'rename-title').textContent = `Rename the passkey “${passkey.name}”.`;
      row.querySelector('.passkey-head').hidden = true;
      row.append(renameForm);
      renameForm.hidden = false;
      const input = renameForm.elements.namedItem('name');
      input.value = passkey.name;
      input.focus();
      input.select();
    };
    const closeRename = ({ focus = true } = {}) => {
      if (!renaming || (renameHandle.busy && focus)) return;
      const { passkey, row } = renaming;
      renaming = null;
      renameForm.hidden = true;
      renameForm.reset();
      renameHandle.clearErrors();
      card.append(renameForm);
      row.querySelector('.passkey-head').hidden = false;
      if (focus) focusRow(passkey.id, 'rename');
    };
    renameForm.querySelector('[data-action="cancel"]').addEventListener('click', () => closeRename());

    /** A passkey that was removed elsewhere (another tab): the list catches up and says so. */
    const gone = async (passkey) => {
      await load();
      status.textContent = `That passkey (“${passkey.name}”) had already been removed. The list is up to date.`;
      heading.focus();
    };

    const renameHandle = new Form(renameForm, async (values, handle) => {
      const { passkey } = renaming;
      const name = String(values.name ?? '').trim();
      if (name === '') {
        handle.setFieldError('name', 'Enter a name for the passkey.');
        handle.focusFirstError();
        return;
      }
      if (name === passkey.name) {
        closeRename();
        return;
      }
      try {
        await api.renamePasskey(passkey.id, name);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          app.sessionExpired();
          return;
        }
        if (error instanceof ApiError && error.status === 404) {
          closeRename({ focus: false });
          await gone(passkey);
          return;
        }
        throw error; // a name the API refuses (422) at the field, the rest in the alert
      }
      closeRename({ focus: false });
      await load();
      status.textContent = `Renamed to “${name}”.`;
      focusRow(passkey.id, 'rename');
      announceChange(card);
    }, { messages: { name: { [FIELD_ERROR.required]: 'Enter a name for the passkey.' } } });

    // ---- Remove: the password again, under the row ----

    const openRemove = (passkey, row) => {
      closeAdd({ focus: false });
      closeRename({ focus: false });
      closeRemove({ focus: false });
      clearMessages();
      removing = { passkey, row };
      slot(removeForm, 'remove-title').textContent = `Remove “${passkey.name}”? It will no longer sign `
        + 'you in. Enter your password to confirm.';
      row.append(removeForm);
      removeForm.hidden = false;
      row.querySelector('[data-action="remove"]').setAttribute('aria-expanded', 'true');
      removeForm.elements.namedItem('password').focus();
    };
    const closeRemove = ({ focus = true } = {}) => {
      if (!removing || (removeHandle.busy && focus)) return;
      const { passkey, row } = removing;
      removing = null;
      removeForm.hidden = true;
      removeForm.reset(); // the password goes back to hidden with it
      removeHandle.clearErrors();
      card.append(removeForm);
      row.querySelector('[data-action="remove"]').setAttribute('aria-expanded', 'false');
      if (focus) focusRow(passkey.id, 'remove');
    };
    removeForm.querySelector('[data-action="cancel"]').addEventListener('click', () => closeRemove());

    const removeHandle = passwordCheckForm(removeForm, app, {
      required: { password: 'Enter your password to confirm.' },
      passwordField: 'password',
      wrongPassword: 'This is not your password.',
      send: async ({ password }) => {
        const { passkey } = removing;
        try {
          await api.removePasskey(passkey.id, password);
        } catch (error) {
          if (error instanceof ApiError && error.status === 404) return { passkey, already: true };
          throw error;
        }
        return { passkey, already: false };
      },
      done: async (values, { passkey, already }) => {
        closeRemove({ focus: false });
        if (already) {
          await gone(passkey);
          return;
        }
        await load();
        status.textContent = `Removed “${passkey.name}”. It no longer signs you in; you can also delete `
          + 'it from your device or password manager.';
        heading.focus();
        announceChange(card);
      },
    });

    card.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || event.isComposing) return;
      // One form is open at a time; Escape closes it, focus back on its button.
      const open = [[addForm, closeAdd], [renameForm, closeRename], [removeForm, closeRemove]]
        .find(([form]) => !form.hidden);
      if (!open) return;
      event.preventDefault();
      open[1]();
    });

    load();
    return card;
  },
};

/** How many events show before "Show all". */
const FIRST_EVENTS = 8;

export const activitySection = {
  id: 'activity',
  render({ app }) {
    const card = cloneTemplate('tpl-section-activity');
    const list = slot(card, 'list');
    const empty = slot(card, 'empty');
    const more = card.querySelector('[data-action="more"]');
    let expanded = false;

    const fold = () => {
      const rows = [...list.children];
      rows.forEach((row, index) => { row.hidden = !expanded && index >= FIRST_EVENTS; });
      more.hidden = rows.length <= FIRST_EVENTS;
      more.setAttribute('aria-expanded', String(expanded));
      more.textContent = expanded ? 'Show fewer' : `Show all ${rows.length} events`;
    };
    more.addEventListener('click', () => {
      expanded = !expanded;
      fold();
      // Opened: reading goes on where the short list ended.
      const first = expanded ? list.children[FIRST_EVENTS] : null;
      if (first) {
        first.tabIndex = -1;
        first.focus();
      }
    });

    const load = loader(card, app, () => api.events(), (events) => {
      list.replaceChildren(...events.map((event) => {
        const row = cloneTemplate('tpl-event-item');
        row.dataset.kind = event.kind;
        if (WARNING_EVENTS.includes(event.kind)) row.classList.add('is-warning');
        slot(row, 'kind').textContent = EVENT_WORDS[event.kind] || event.kind;
        // A few kinds say more ("9 recovery codes left"), after the words.
        const detail = slot(row, 'detail');
        if (typeof event.detail === 'string' && event.detail !== '') detail.textContent = event.detail;
        else detail.remove();
        setTime(slot(row, 'at'), event.at);
        slot(row, 'ip').textContent = event.ip || 'unknown';
        const device = slot(row, 'device');
        device.textContent = describeDevice(event.user_agent);
        if (event.user_agent) device.title = event.user_agent;
        return row;
      }));
      empty.hidden = events.length > 0;
      fold();
    });
    onChange(card, load);
    load();
    return card;
  },
};

export const deleteSection = {
  id: 'delete',
  render({ app }) {
    const card = cloneTemplate('tpl-section-delete');
    const open = card.querySelector('[data-action="open"]');
    const form = slot(card, 'form');
    const cancel = form.querySelector('[data-action="cancel"]');
    const handle = passwordCheckForm(form, app, {
      required: { password: 'Enter your password to confirm.' },
      passwordField: 'password',
      wrongPassword: 'This is not your password.',
      send: (values) => api.deleteAccount(values.password),
      done: () => app.navigate('/login', {
        replace: true, state: { notice: NOTICE.accountDeleted }, user: null,
      }),
    });
    const show = (visible) => {
      if (!visible && handle.busy) return; // the deletion is on its way: no closing under it
      form.hidden = !visible;
      open.setAttribute('aria-expanded', String(visible));
      if (visible) {
        form.elements.namedItem('password').focus();
      } else {
        form.reset(); // the password goes back to hidden with it
        handle.clearErrors();
        open.focus();
      }
    };
    open.addEventListener('click', () => show(form.hidden));
    cancel.addEventListener('click', () => show(false));
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.isComposing && !form.hidden) {
        event.preventDefault();
        show(false);
      }
    });
    return card;
  },
};
