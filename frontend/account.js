// Dashboard sections for managing the account: where you are logged in (revoke one or all
// others), change password, recent activity, delete the account. Any call answered 401 means
// the session ended (revoked from another device, expired): the app goes to the login screen.

import { api, ApiError, errorMessage } from './api.js';
import { Form, setButtonBusy } from './forms.js';
import { cloneTemplate, slot } from './dom.js';

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** Fills a <time> with a local date and the exact UTC instant as its tooltip. */
function setTime(element, iso) {
  const when = new Date(iso);
  element.dateTime = iso;
  element.title = iso;
  element.textContent = Number.isNaN(when.getTime()) ? iso : dateTime.format(when);
}

/** "Chrome on Linux" from a user agent; the raw string stays available as a tooltip. */
export function describeDevice(userAgent) {
  if (!userAgent) return 'Unknown device';
  const ua = userAgent;
  const browser = [
    [/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'],
    [/Safari\//, 'Safari'], [/^curl\//, 'curl'], [/HTTPie\//, 'HTTPie'], [/python-httpx|python-requests/, 'Python'],
  ].find(([pattern]) => pattern.test(ua))?.[1];
  const system = [
    [/Windows/, 'Windows'], [/iPhone|iPad/, 'iOS'], [/Mac OS X|Macintosh/, 'macOS'],
    [/Android/, 'Android'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux'],
  ].find(([pattern]) => pattern.test(ua))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser || system || ua.slice(0, 60);
}

/** Shows an error in a section's alert, or leaves the dashboard when the session ended. */
function failed(error, alert, app) {
  if (error instanceof ApiError && error.status === 401) {
    app.sessionExpired();
    return;
  }
  alert.textContent = errorMessage(error);
}

// Sections that show server state refresh when another section changes it.
const CHANGED = 'latchkey:account-changed';
const announceChange = () => document.dispatchEvent(new Event(CHANGED));
function onChange(element, refresh) {
  const listener = () => {
    if (!element.isConnected) {
      document.removeEventListener(CHANGED, listener);
      return;
    }
    refresh();
  };
  document.addEventListener(CHANGED, listener);
}

export const sessionsSection = {
  id: 'sessions',
  render({ app }) {
    const card = cloneTemplate('tpl-section-sessions');
    const list = slot(card, 'list');
    const alert = slot(card, 'alert');
    const status = slot(card, 'status');
    const others = card.querySelector('[data-action="revoke-others"]');
    let busy = false;

    const load = async () => {
      try {
        const sessions = await api.sessions();
        list.replaceChildren(...sessions.map((session) => item(session)));
        others.hidden = !sessions.some((session) => !session.current);
      } catch (error) {
        failed(error, alert, app);
      }
    };

    const item = (session) => {
      const row = cloneTemplate('tpl-session-item');
      const device = slot(row, 'device');
      device.textContent = describeDevice(session.user_agent);
      device.title = session.user_agent || '';
      if (!session.current) slot(row, 'current').remove();
      slot(row, 'ip').textContent = session.ip || 'unknown';
      setTime(slot(row, 'created'), session.created_at);
      setTime(slot(row, 'seen'), session.last_seen_at);
      setTime(slot(row, 'expires'), session.expires_at);
      const button = row.querySelector('[data-action="revoke"]');
      const label = session.current ? 'this device' : device.textContent;
      button.setAttribute('aria-label', `Sign out ${label}`);
      button.addEventListener('click', () => run(button, async () => {
        try {
          await api.revokeSession(session.id);
        } catch (error) {
          // Already gone (revoked elsewhere): the refreshed list shows it.
          if (!(error instanceof ApiError && error.status === 404)) throw error;
        }
        if (session.current) {
          await app.navigate('/login', { replace: true, state: { notice: 'logged_out' }, user: null });
          return;
        }
        status.textContent = `Signed out ${device.textContent}.`;
        announceChange();
      }));
      return row;
    };

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
      } finally {
        busy = false;
        if (button.isConnected) setButtonBusy(button, false);
      }
    };

    others.addEventListener('click', () => run(others, async () => {
      await api.revokeOtherSessions();
      status.textContent = 'Every other session has been signed out.';
      announceChange();
    }));
    onChange(card, load);
    load();
    return card;
  },
};

export const passwordSection = {
  id: 'password',
  render({ app }) {
    const card = cloneTemplate('tpl-section-password');
    const form = slot(card, 'form');
    const status = slot(card, 'status');
    new Form(form, async (values, handle) => {
      status.textContent = '';
      try {
        await api.changePassword(values.current_password, values.new_password);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return app.sessionExpired();
        if (error instanceof ApiError && error.code === 'wrong_password') {
          handle.setFieldError('current_password', 'This is not your current password.');
          handle.focusFirstError();
          return undefined;
        }
        throw error;
      }
      form.reset();
      status.textContent = 'Password changed. Your other sessions have been signed out.';
      announceChange();
      return undefined;
    });
    return card;
  },
};

const EVENT_WORDS = {
  registered: 'Account created',
  login: 'Logged in',
  login_failed: 'Failed login attempt',
  logout: 'Logged out',
  password_changed: 'Password changed',
  session_revoked: 'A session was signed out',
  sessions_revoked: 'All other sessions were signed out',
};

export const activitySection = {
  id: 'activity',
  render({ app }) {
    const card = cloneTemplate('tpl-section-activity');
    const list = slot(card, 'list');
    const alert = slot(card, 'alert');
    const load = async () => {
      try {
        const events = await api.events();
        list.replaceChildren(...events.map((event) => {
          const row = cloneTemplate('tpl-event-item');
          slot(row, 'kind').textContent = EVENT_WORDS[event.kind] || event.kind;
          row.dataset.kind = event.kind;
          setTime(slot(row, 'at'), event.at);
          slot(row, 'ip').textContent = event.ip || 'unknown';
          const device = slot(row, 'device');
          device.textContent = describeDevice(event.user_agent);
          device.title = event.user_agent || '';
          return row;
        }));
      } catch (error) {
        failed(error, alert, app);
      }
    };
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
    const handle = new Form(form, async (values) => {
      try {
        await api.deleteAccount(values.password);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return app.sessionExpired();
        if (error instanceof ApiError && error.code === 'wrong_password') {
          handle.setFieldError('password', 'This is not your password.');
          handle.focusFirstError();
          return undefined;
        }
        throw error;
      }
      return app.navigate('/login', { replace: true, state: { notice: 'account_deleted' }, user: null });
    });
    const show = (visible) => {
      form.hidden = !visible;
      open.setAttribute('aria-expanded', String(visible));
      if (visible) {
        form.querySelector('input').focus();
      } else {
        form.reset();
        handle.clearErrors();
        open.focus();
      }
    };
    open.addEventListener('click', () => show(form.hidden));
    cancel.addEventListener('click', () => show(false));
    form.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') show(false);
    });
    return card;
  },
};
