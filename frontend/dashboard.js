// The dashboard: the original's greeting and Logout, then "Your account", a list of sections.
//
// Each section is a module exporting { id, render(ctx) } that returns an element (cloneTemplate()
// with a <template> in index.html, and Form from forms.js for its forms), listed in SECTIONS
// below; the account-management ones (passkeys included) live in account.js, two-step
// verification in two-step.js.
// ctx is { user, app }: app.sessionExpired() when a call says 401, app.navigate(path, options) to
// leave the dashboard.

import { api, ApiError, errorMessage } from './api.js';
import { setButtonBusy } from './forms.js';
import { slot } from './dom.js';
import { NOTICE } from './codes.js';
import { accountDetailsSection } from './account-details.js';
import {
  sessionsSection, passwordSection, passkeysSection, activitySection, deleteSection,
} from './account.js';
import { twoStepSection } from './two-step.js';

const SECTIONS = [
  accountDetailsSection,
  passwordSection,
  twoStepSection,
  passkeysSection,
  sessionsSection,
  activitySection,
  deleteSection,
];

export const dashboardScreen = {
  path: '/dashboard',
  title: 'Dashboard',
  access: 'user',
  template: 'tpl-dashboard',
  mount(root, { app, user }) {
    slot(root, 'username').textContent = user.username;

    const logout = root.querySelector('[data-action="logout"]');
    const alert = slot(root, 'alert');
    let busy = false;
    logout.addEventListener('click', async () => {
      if (busy) return;
      busy = true;
      alert.textContent = '';
      setButtonBusy(logout, true);
      try {
        await api.logout();
      } catch (error) {
        // 401: the session was already gone; the user is logged out either way.
        if (!(error instanceof ApiError && error.status === 401)) {
          busy = false;
          setButtonBusy(logout, false);
          alert.textContent = errorMessage(error);
          alert.focus();
          return;
        }
      }
      await app.navigate('/login', { replace: true, state: { notice: NOTICE.loggedOut }, user: null });
    });

    const container = slot(root, 'sections');
    for (const section of SECTIONS) {
      try {
        container.append(section.render({ user, app }));
      } catch (error) {
        console.error(`dashboard section ${section.id} failed`, error);
      }
    }
  },
};
