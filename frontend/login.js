// The login screen. On success it goes to the page that sent the user here (?next=, only ever
// one of this app's own screens) or the dashboard. For an account with two-step verification the
// right password answers 202: the second step (second-factor.js) takes the card's place until a
// code logs in, then the same navigation follows.
//
// Passkeys (passkeys.js), where they can work: "Sign in with a passkey" (the browser's dialog),
// and the passkeys offered in the username field's suggestions (autofill, a conditional request
// that waits in the background while the screen is shown). Either is a complete login and leaves
// the same way as a password. At an IP address (http://127.0.0.1:…) WebAuthn refuses to work:
// the screen says which address to open instead.

import { api, ApiError, errorMessage } from './api.js';
import { Form, setButtonBusy } from './forms.js';
import { slot } from './dom.js';
import { NOTICE, PROBLEM } from './codes.js';
import { secondStep } from './second-factor.js';
import { leaveForReturnUrl } from './return-url.js';
import {
  autofillAvailable, getPasskey, isCancelled, passkeySupport, showHint,
} from './passkeys.js';

const NOTICES = {
  [NOTICE.accountCreated]: 'Account created. Log in with your new password.',
  [NOTICE.loggedOut]: 'You have been logged out.',
  [NOTICE.loginRequired]: 'Log in to see your dashboard.',
  [NOTICE.sessionExpired]: 'Your session has ended. Log in again to continue.',
  [NOTICE.accountDeleted]: 'Your account was deleted.',
};

const PASSKEY_REFUSED = 'This passkey was not accepted. It may have been removed from your account: '
  + 'log in with your password instead.';
const PASSKEY_TOO_SLOW = 'The passkey took too long to answer. Please try again.';
/** An autofill request that ends with NotAllowedError after this long timed out: ask again. */
const RENEW_AFTER_MS = 60_000;

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

    /** Both kinds of login leave the same way: ?rd=, else ?next= or the dashboard. */
    const loggedIn = async (user) => {
      if (await leaveForReturnUrl()) return; // ?rd=: back to the protected app
      await app.navigate(next || '/dashboard', { replace: true, user });
    };

    /** The second step has the card's place (the card comes back on "Back to the password"). */
    let inSecondStep = false;
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
        inSecondStep = true;
        stopAutofill(); // the username field leaves the page with the card
        user = await secondStep(root, user);
        inSecondStep = false;
        if (!user) {
          startAutofill(); // back at the password
          return;
        }
      }
      await loggedIn(user);
    });
    if (typeof state?.username === 'string') form.input('username').value = state.username;

    // ---- Passkeys ----

    const support = passkeySupport();
    const choice = slot(root, 'passkey');
    const button = root.querySelector('[data-action="passkey"]');
    const hint = slot(root, 'passkey-hint');
    const username = form.input('username');
    /** The waiting autofill request, or null. */
    let autofill = null;
    let busy = false;
    /** Set once the server said passkeys cannot work here: nothing more is asked. */
    let unavailable = !support.usable;

    const showUnavailable = (error) => {
      unavailable = true;
      stopAutofill();
      button.hidden = true;
      showHint(hint, { hint: errorMessage(error), href: null });
    };

    /** The passkey's answer goes to the server; a 200 is a complete login. */
    const finish = async (ceremony, credential) => {
      const user = await api.finishPasskeyLogin(ceremony, credential, form.input('remember').checked);
      await loggedIn(user);
    };

    /** What a failed passkey sign-in says, in the form's alert as the password's errors are. */
    const refused = (error) => {
      if (error instanceof ApiError && error.code === PROBLEM.passkeysUnavailable) {
        showUnavailable(error);
        return;
      }
      if (error instanceof ApiError && error.code === PROBLEM.invalidPasskey) {
        form.setAlert(PASSKEY_REFUSED);
        form.alert.focus();
        return;
      }
      if (error instanceof ApiError && error.code === PROBLEM.ceremonyExpired) {
        form.setAlert(PASSKEY_TOO_SLOW);
        form.alert.focus();
        return;
      }
      form.showError(error);
    };

    /** The passkey offered in the username field's suggestions: waits until one is chosen. */
    async function startAutofill() {
      if (unavailable || autofill || !(await autofillAvailable())) return;
      if (!root.isConnected || autofill || unavailable) return;
      const controller = new AbortController();
      autofill = controller;
      // Tells the browser to list passkeys with the saved usernames.
      username.setAttribute('autocomplete', 'username webauthn');
      let start;
      let credential;
      const asked = Date.now();
      let renew = false;
      try {
        start = await api.startPasskeyLogin();
        if (controller.signal.aborted) return;
        credential = await getPasskey(start.publicKey, { mediation: 'conditional', signal: controller.signal });
      } catch (error) {
        if (autofill !== controller) return; // ended by the page
        autofill = null;
        if (error instanceof ApiError && error.code === PROBLEM.passkeysUnavailable) {
          showUnavailable(error);
        } else if (error?.name === 'NotAllowedError' && Date.now() - asked > RENEW_AFTER_MS) {
          // The request timed out (its ceremony expires on the server too): a fresh one, while
          // the page stays open. (A quick refusal is not retried: that would go round in circles.)
          startAutofill();
        }
        // Anything else (429, no network): no suggestions; the button still works.
        return;
      }
      if (autofill !== controller) return;
      autofill = null;
      if (busy || !root.isConnected) return;
      busy = true;
      form.clearErrors();
      setButtonBusy(button, true);
      try {
        await finish(start.ceremony, credential);
      } catch (error) {
        refused(error);
        // Chosen after its ceremony expired (the page was open a long while): offered again.
        if (error instanceof ApiError && error.code === PROBLEM.ceremonyExpired) renew = true;
      } finally {
        busy = false;
        setButtonBusy(button, false);
      }
      if (renew) startAutofill();
    }

    function stopAutofill() {
      autofill?.abort();
      autofill = null;
    }

    button.addEventListener('click', async () => {
      if (busy || form.busy) return;
      busy = true;
      stopAutofill(); // one WebAuthn request at a time
      form.clearErrors();
      slot(root, 'notice').textContent = '';
      setButtonBusy(button, true);
      let cancelled = false;
      try {
        const start = await api.startPasskeyLogin();
        const credential = await getPasskey(start.publicKey);
        await finish(start.ceremony, credential);
      } catch (error) {
        if (isCancelled(error)) {
          cancelled = true; // closed the browser's dialog: nothing to say
        } else if (error instanceof DOMException) {
          form.setAlert(`The passkey could not be used here (${error.name}). Log in with your password instead.`);
          form.alert.focus();
        } else {
          refused(error);
        }
      } finally {
        busy = false;
        setButtonBusy(button, false);
      }
      if (cancelled) startAutofill(); // the suggestions are offered again
    });

    if (support.usable) {
      choice.hidden = false;
      button.hidden = false;
      startAutofill();
    } else if (support.hint) {
      choice.hidden = false;
      showHint(hint, support);
    }

    // The screen is replaced (a login, a link): the waiting request ends with it. (The second
    // step takes the card's place too, but stops the request itself and starts it again on Back.)
    const main = document.getElementById('main');
    if (main) {
      const watcher = new MutationObserver(() => {
        if (root.isConnected || inSecondStep) return;
        stopAutofill();
        watcher.disconnect();
      });
      watcher.observe(main, { childList: true });
    }
  },
};
