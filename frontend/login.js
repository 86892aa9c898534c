// The login screen. On success it goes to the page that sent the user here (?next=, only ever
// one of this app's own screens) or the dashboard. For an account with two-step verification the
// right password answers 202: the second step (second-factor.js) takes the card's place until a
// code logs in, then the same navigation follows.

import { api, ApiError, errorMessage } from './api.js';
import { Form } from './forms.js';
import { slot } from './dom.js';
import { NOTICE, PROBLEM } from './codes.js';
import { secondStep } from './second-factor.js';
import { leaveForReturnUrl } from './return-url.js';

const NOTICES = {
  [NOTICE.accountCreated]: 'Account created. Log in with your new password.',
  [NOTICE.loggedOut]: 'You have been logged out.',
  [NOTICE.loginRequired]: 'Log in to see your dashboard.',
  [NOTICE.sessionExpired]: 'Your session has ended. Log in again to continue.',
  [NOTICE.accountDeleted]: 'Your account was deleted.',
};

export const loginScreen = {
  path: '/login',
  title: 'Log in',
  access: 'guest',
  template: 'tpl-login',
  mount(root, { app, state, next }) {
    const notice = NOTICES[state?.notice];
    if (notice) {
      // Filled after insertion so that screen readers announce the live region's change.
      requestAnimationFrame(() => { slot(root, 'notice').textContent = notice; });
    }
    const form = new Form(root.querySelector('form'), async ({ username, password, remember }) => {
      slot(root, 'notice').textContent = ''; // stale once the user acts
      let user;
      try {
        user = await api.login(username, password, remember);
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== PROBLEM.invalidCredentials) throw error;
        // One answer for "no such user" and "wrong password": both fields are suspect.
        form.markInvalid('username', 'password');
        form.setAlert(errorMessage(error));
        form.input('password').focus();
        form.input('password').select();
        return;
      }
      if (user?.second_factor_required) {
        user = await secondStep(root, user);
        if (!user) return; // back at the password
      }
      if (await leaveForReturnUrl()) return; // ?rd=: back to the protected app
      await app.navigate(next || '/dashboard', { replace: true, user });
    });
    if (typeof state?.username === 'string') form.input('username').value = state.username;
  },
};
