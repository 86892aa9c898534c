// Latchkey's single-page app: a History API router over three screens.
//
//   /            → /dashboard when logged in, else /login
//   /register    → guests only (logged in: /dashboard)
//   /login       → guests only (logged in: ?next= or /dashboard)
//   /dashboard   → logged in only (else /login?next=/dashboard, and back here after login)
//
// Login state comes from GET /api/me: on first load, on back/forward and on link clicks;
// actions that know the answer (login, logout, register) pass it along instead. The session
// cookie is HttpOnly and never read here; nothing is kept in localStorage or sessionStorage.
// The dashboard's history entry remembers that it was shown logged in (history.state.loggedIn),
// so that a reload after the session was revoked elsewhere says "Your session has ended".
//
// Modules: api.js (request() and typed errors), forms.js (busy state, field errors, focus),
// dom.js (templates), fields.js (the form-field component), codes.js (the API's code strings),
// one module per screen, and dashboard sections (see dashboard.js).

import { api, ApiError, errorMessage } from './api.js';
import { cloneTemplate, slot } from './dom.js';
import { NOTICE } from './codes.js';
import { registerScreen } from './register.js';
import { loginScreen } from './login.js';
import { dashboardScreen } from './dashboard.js';

const SCREENS = new Map([registerScreen, loginScreen, dashboardScreen].map((s) => [s.path, s]));
const main = document.getElementById('main');

/** A `next` target is only ever one of our own logged-in screens: no open redirect. */
function safeNext(value) {
  return value && SCREENS.get(value)?.access === 'user' ? value : null;
}

const app = {
  /** undefined: not asked yet; null: logged out; else the User from the API. */
  user: undefined,

  setUser(user) {
    this.user = user;
    document.body.dataset.auth = user ? 'user' : 'guest';
    slot(document.body, 'nav-username').textContent = user ? user.username : '';
  },

  /**
   * Goes to `path` (push, or replace) and renders it. `user` passes a login state the caller
   * already knows (null after logout); otherwise GET /api/me decides. Focus moves to the new
   * screen's heading unless `focus` is false (the first render leaves it to the browser).
   */
  navigate(path, { replace = false, state = null, user, focus = true } = {}) {
    history[replace ? 'replaceState' : 'pushState'](state, '', path);
    return render({ focus, user });
  },

  /** A dashboard call answered 401: the session expired or was revoked elsewhere. */
  sessionExpired() {
    return this.navigate('/login?next=/dashboard', {
      replace: true,
      state: { notice: NOTICE.sessionExpired },
      user: null,
    });
  },
};

let renderCount = 0;
/** path + query of the screen on display, to tell a #fragment change from a navigation. */
let shownLocation = null;
const currentLocation = () => window.location.pathname + window.location.search;

async function render({ focus, user } = {}) {
  const ticket = ++renderCount;
  if (user === undefined) {
    try {
      user = await api.me();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) {
        if (ticket === renderCount) showUnavailable(error, focus);
        return;
      }
      user = null;
    }
    if (ticket !== renderCount) return; // a newer navigation won
  }
  app.setUser(user);

  const url = new URL(window.location.href);
  const screen = SCREENS.get(url.pathname);
  const next = safeNext(url.searchParams.get('next'));
  if (!screen) {
    return app.navigate(user ? '/dashboard' : '/login', { replace: true, user, focus });
  }
  if (screen.access === 'user' && !user) {
    // This history entry showed the dashboard while logged in (a reload, Back or Forward to it):
    // the session has ended since, revoked from another device or timed out.
    const ended = history.state?.loggedIn === true;
    return app.navigate(`/login?next=${screen.path}`, {
      replace: true,
      state: { notice: ended ? NOTICE.sessionExpired : NOTICE.loginRequired },
      user,
      focus,
    });
  }
  if (screen.access === 'guest' && user) {
    return app.navigate(next || '/dashboard', { replace: true, user, focus });
  }

  const root = cloneTemplate(screen.template);
  screen.mount(root, { app, user, state: history.state, next });
  main.replaceChildren(root);
  if (screen.access === 'user') history.replaceState({ ...history.state, loggedIn: true }, '');
  shownLocation = currentLocation();
  document.title = `${screen.title} · Latchkey`;
  markCurrentLinks(url.pathname);
  if (focus) focusHeading();
}

function showUnavailable(error, focus) {
  const root = cloneTemplate('tpl-unavailable');
  slot(root, 'message').textContent = errorMessage(error);
  root.querySelector('[data-action="retry"]').addEventListener('click', () => {
    render({ focus: true });
  });
  main.replaceChildren(root);
  shownLocation = null;
  document.title = 'Unavailable · Latchkey';
  if (focus) focusHeading();
}

function focusHeading() {
  const heading = main.querySelector('h1');
  (heading || main).focus();
}

function markCurrentLinks(path) {
  for (const link of document.querySelectorAll('a[data-link]')) {
    if (new URL(link.href).pathname === path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// Same-document navigation for the app's own links; modified clicks (new tab…) stay native.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest('a') : null;
  if (!link) return;
  if (link.classList.contains('skip-link')) {
    event.preventDefault();
    focusHeading();
    return;
  }
  if (!link.hasAttribute('data-link') || link.origin !== window.location.origin) return;
  event.preventDefault();
  const target = link.pathname + link.search;
  if (target === currentLocation()) {
    focusHeading();
    return;
  }
  app.navigate(target);
});

window.addEventListener('popstate', () => {
  if (currentLocation() === shownLocation) return; // only the #fragment changed
  render({ focus: true });
});

render({ focus: false });
