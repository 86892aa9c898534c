// The login's second step, for accounts with two-step verification. The password was right and
// POST /api/login answered 202 (a SecondFactorChallenge) with an HttpOnly pending-login cookie:
// nothing is logged in until POST /api/login/second-factor gets the authenticator app's current
// code, or one of the recovery codes, within five minutes.
//
// It is a state of the login screen, not a screen of its own: the URL stays /login (?next=
// included), and the step replaces the password card in place. login.js awaits secondStep(),
// which resolves with the User once a code logs in (login.js then navigates exactly as after a
// password-only login), or with null when the user is back at the password: the "Back" button,
// or the pending login expired (then the password card says so). A reload shows the password
// step: the pending login is in an HttpOnly cookie this page cannot see.
//
// When the account has a passkey (the 202 lists "passkey") and passkeys can work on this page,
// "Use a passkey" is offered too: POST /api/login/second-factor/passkey for the options, the
// browser's passkey dialog, then the same POST /api/login/second-factor with the answer.

import { api, ApiError, errorMessage } from './api.js';
import { Form, setButtonBusy } from './forms.js';
import { cloneTemplate, slot } from './dom.js';
import { PROBLEM, SECOND_FACTOR_METHOD } from './codes.js';
import { getPasskey, isCancelled, passkeySupport } from './passkeys.js';

const FIELDS = {
  [SECOND_FACTOR_METHOD.totp]: {
    name: 'code',
    empty: 'Enter the 6-digit code from your authenticator app.',
    malformed: 'The code from your authenticator app has 6 digits.',
    invalid: 'That code is wrong or was already used. Enter the code your app shows now.',
    switchTo: 'Use a recovery code instead',
  },
  [SECOND_FACTOR_METHOD.recoveryCode]: {
    name: 'recovery_code',
    empty: 'Enter one of your recovery codes.',
    invalid: 'That recovery code is wrong or was already used. Each code works once.',
    switchTo: 'Use your authenticator app instead',
  },
};

const EXPIRED = 'The time to enter a code ran out. Enter your password again.';
const PASSKEY_REFUSED = 'This passkey was not accepted. Use a code instead.';

/**
 * Shows the second step in place of `passwordCard` (the login screen's root) and resolves with
 * the User once a code logs in, or with null when the user is back at the password step.
 * @param {HTMLElement} passwordCard
 * @param {{methods?: string[]}} challenge the 202 answer of POST /api/login
 * @returns {Promise<object|null>}
 */
export function secondStep(passwordCard, challenge) {
  return new Promise((resolve) => {
    const card = cloneTemplate('tpl-login-second-factor');
    const offered = Array.isArray(challenge?.methods) ? challenge.methods : [];
    // Whatever the server offers; the authenticator app first when it is one of them.
    const methods = [SECOND_FACTOR_METHOD.totp, SECOND_FACTOR_METHOD.recoveryCode]
      .filter((method) => offered.length === 0 || offered.includes(method));
    let method = methods[0] || SECOND_FACTOR_METHOD.totp;
    const switcher = card.querySelector('[data-action="switch"]');
    const previousTitle = document.title;
    /** A passkey is being asked for (see below): the code waits. */
    let passkeyBusy = false;

    const fieldOf = (which) => card.querySelector(`[data-method="${which}"]`);
    const show = (which) => {
      method = which;
      for (const option of Object.keys(FIELDS)) fieldOf(option).hidden = option !== which;
      const other = methods.find((option) => option !== which);
      switcher.hidden = !other;
      if (other) switcher.textContent = FIELDS[which].switchTo;
      slot(card, 'lede-totp').hidden = which !== SECOND_FACTOR_METHOD.totp;
      slot(card, 'lede-recovery').hidden = which !== SECOND_FACTOR_METHOD.recoveryCode;
    };

    const form = new Form(card.querySelector('form'), async (values, handle) => {
      if (passkeyBusy) return;
      const field = FIELDS[method];
      const value = String(values[field.name] ?? '').trim();
      const digits = value.replace(/\s+/g, '');
      let problem = null;
      if (value === '') problem = field.empty;
      else if (field.malformed && !/^\d{6}$/.test(digits)) problem = field.malformed;
      if (problem) {
        // Never sent: a malformed code would count against the account's throttle.
        handle.setFieldError(field.name, problem);
        handle.focusFirstError();
        return;
      }
      let user;
      try {
        user = await api.loginSecondFactor(method === SECOND_FACTOR_METHOD.totp
          ? { code: digits }
          : { recovery_code: value });
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.code === PROBLEM.invalidSecondFactor) {
          handle.setFieldError(field.name, field.invalid);
          handle.focusFirstError();
          return;
        }
        if (error.code === PROBLEM.pendingLoginExpired) {
          back(EXPIRED);
          return;
        }
        throw error; // 429 with its wait, 5xx, a network failure: the form's alert
      }
      resolve(user);
    });

    /** Back to the password card (the username kept, the password cleared). */
    const back = (notice) => {
      card.replaceWith(passwordCard);
      document.title = previousTitle;
      const password = passwordCard.querySelector('input[name="password"]');
      password.value = '';
      password.focus();
      if (notice) {
        // Filled after the focus moved, so that screen readers announce the live region too.
        requestAnimationFrame(() => { slot(passwordCard, 'notice').textContent = notice; });
      }
      resolve(null);
    };

    switcher.addEventListener('click', () => {
      form.clearErrors();
      show(methods.find((option) => option !== method));
      form.input(FIELDS[method].name).focus();
    });
    card.querySelector('[data-action="back"]').addEventListener('click', () => {
      if (!form.busy && !passkeyBusy) back(null);
    });

    // ---- A passkey instead of a code ----

    const passkeyChoice = slot(card, 'passkey');
    const passkeyButton = card.querySelector('[data-action="passkey"]');
    passkeyChoice.hidden = !offered.includes(SECOND_FACTOR_METHOD.passkey) || !passkeySupport().usable;
    /** The passkey cannot be used after all (none left, or the server rules passkeys out). */
    const withdraw = (message) => {
      passkeyChoice.hidden = true;
      form.setAlert(message);
      form.input(FIELDS[method].name).focus();
    };
    passkeyButton.addEventListener('click', async () => {
      if (passkeyBusy || form.busy) return;
      passkeyBusy = true;
      form.clearErrors();
      setButtonBusy(passkeyButton, true);
      let user = null;
      try {
        const start = await api.startSecondFactorPasskey();
        const credential = await getPasskey(start.publicKey);
        user = await api.loginSecondFactor({ passkey: { ceremony: start.ceremony, credential } });
      } catch (error) {
        const code = error instanceof ApiError ? error.code : null;
        if (isCancelled(error)) {
          // Closed the browser's dialog: nothing to say, the codes are still there.
        } else if (code === PROBLEM.pendingLoginExpired) {
          back(EXPIRED);
        } else if (code === PROBLEM.noPasskeys || code === PROBLEM.passkeysUnavailable) {
          withdraw(errorMessage(error));
        } else if (code === PROBLEM.invalidSecondFactor) {
          form.setAlert(PASSKEY_REFUSED);
          form.alert.focus();
        } else if (code === PROBLEM.ceremonyExpired) {
          form.setAlert('The passkey took too long to answer. Please try again.');
          form.alert.focus();
        } else if (error instanceof DOMException) {
          form.setAlert(`The passkey could not be used here (${error.name}). Use a code instead.`);
          form.alert.focus();
        } else {
          form.showError(error); // 429 with its wait, 5xx, a network failure
        }
      } finally {
        passkeyBusy = false;
        setButtonBusy(passkeyButton, false);
      }
      if (user) resolve(user);
    });

    show(method);
    slot(passwordCard, 'notice').textContent = '';
    passwordCard.replaceWith(card);
    document.title = 'Two-step verification · Latchkey';
    // The next thing to do is to type the code; its label and hint say what is asked.
    form.input(FIELDS[method].name).focus();
  });
}
