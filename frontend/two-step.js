// Dashboard section: two-step verification (an authenticator app, RFC 6238 TOTP, and ten
// single-use recovery codes).
//
// One card, one view at a time:
//   off     "Set up two-step verification…"
//   on      since when, how many recovery codes are left; "New recovery codes…", "Turn off…"
//   setup   the QR code (qr-code.js: the server's SVG checked and copied, never inserted as
//           markup), the key to type by hand in groups of four (with Copy), and the code that
//           confirms the set-up
//   codes   the ten recovery codes, shown this once: Copy, Download (a .txt file from a blob:
//           URL; downloads are navigation, which the CSP does not restrict) and "I have saved them"
// Setting up, new codes and turning off each ask for the password again, in one confirmation form
// under the button that opened it (a disclosure, as "Delete account…" is). Errors are shown next
// to their field; a 401 ends the session (app.sessionExpired()); a 409 (the state changed in
// another tab) reloads the status and says why.

import { api, ApiError, errorMessage } from './api.js';
import { Form } from './forms.js';
import { cloneTemplate, slot } from './dom.js';
import { PROBLEM } from './codes.js';
import { qrCodeElement } from './qr-code.js';
import { announceChange, failed, passwordCheckForm, setTime } from './account.js';

/** What each button that asks for the password does, and how the form words it. */
const ACTIONS = {
  setup: {
    title: 'Enter your password to start the set-up.',
    submit: 'Continue',
    busy: 'Checking…',
    send: (password) => api.startTotp(password),
  },
  regenerate: {
    title: 'Your current recovery codes will stop working. Enter your password to create new ones.',
    submit: 'Create new codes',
    busy: 'Creating codes…',
    send: (password) => api.regenerateRecoveryCodes(password),
  },
  disable: {
    title: 'Logins will need only your password again, and your recovery codes will stop working. '
      + 'Enter your password to turn two-step verification off.',
    submit: 'Turn off two-step verification',
    busy: 'Turning off…',
    danger: true,
    send: (password) => api.disableTotp(password),
  },
};

/** At or below this many recovery codes left, the section suggests new ones. */
const FEW_CODES = 3;

/** "JBSW Y3DP EHPK 3PXP": the key in groups of four, easier to type and to check. */
const groupKey = (secret) => (String(secret).match(/.{1,4}/g) || []).join(' ');

/** The downloaded file: what the codes are, for which account on which server, then the codes. */
function codesFile(codes, username) {
  const created = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return [
    'Latchkey recovery codes',
    '',
    `Account: ${username}`,
    `Server:  ${window.location.origin}`,
    `Created: ${created}`,
    '',
    'Each code logs you in once, instead of a code from your authenticator app.',
    'Keep them somewhere safe. Codes created before these no longer work.',
    '',
    ...codes,
    '',
  ].join('\n');
}

/**
 * Copies `text`; without clipboard access (a page served over plain http, or permission
 * refused) it selects `shown` so that Ctrl+C copies it. `say` gets the sentence to announce.
 */
async function copyText(text, shown, say) {
  try {
    if (!navigator.clipboard?.writeText) throw new Error('no clipboard access');
    await navigator.clipboard.writeText(text);
    say('Copied to the clipboard.');
  } catch {
    const range = document.createRange();
    range.selectNodeContents(shown);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    say('Selected: press Ctrl+C (⌘C on a Mac) to copy.');
  }
}

/** Sets a live region's text so that it is announced even when it says the same again. */
function announce(region, text) {
  region.textContent = '';
  requestAnimationFrame(() => { region.textContent = text; });
}

export const twoStepSection = {
  id: 'two-step',
  render({ user, app }) {
    const card = cloneTemplate('tpl-section-two-step');
    const heading = card.querySelector('h3');
    const alert = slot(card, 'alert');
    const status = slot(card, 'status');
    const loading = slot(card, 'loading');
    const retry = card.querySelector('[data-action="reload"]');
    const badge = slot(card, 'state');
    const views = new Map([...card.querySelectorAll('[data-view]')].map((v) => [v.dataset.view, v]));
    const openers = {
      setup: card.querySelector('[data-action="setup"]'),
      regenerate: card.querySelector('[data-action="regenerate"]'),
      disable: card.querySelector('[data-action="disable"]'),
    };
    const passwordForm = slot(card, 'password-form');
    const passwordSubmit = slot(card, 'password-submit');
    const confirmForm = slot(card, 'confirm-form');
    const secretElement = slot(card, 'secret');
    const codesList = slot(card, 'codes');
    const download = slot(card, 'download');
    /** Which button opened the password form (a key of ACTIONS), or null when it is closed. */
    let action = null;
    let secret = '';
    let codes = [];
    let downloadUrl = null;
    /** What the status says once the codes are saved. */
    let savedMessage = '';

    const clearMessages = () => {
      alert.textContent = '';
      status.textContent = '';
    };

    const forgetCodes = () => {
      codes = [];
      codesList.replaceChildren();
      slot(card, 'copy-codes-status').textContent = '';
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = null;
      download.removeAttribute('href');
    };
    const forgetSetup = () => {
      secret = '';
      secretElement.textContent = '';
      slot(card, 'qr').replaceChildren();
      slot(card, 'copy-secret-status').textContent = '';
    };

    const showView = (name) => {
      for (const [key, element] of views) element.hidden = key !== name;
      if (name !== 'codes') forgetCodes();
      if (name !== 'setup') forgetSetup();
    };

    const showState = (factors) => {
      const on = factors?.totp?.enabled === true;
      badge.hidden = false;
      badge.textContent = on ? 'On' : 'Off';
      badge.classList.toggle('is-on', on);
      if (on) {
        const since = slot(card, 'since');
        if (factors.totp.enabled_at) {
          const time = document.createElement('time');
          setTime(time, factors.totp.enabled_at);
          since.replaceChildren('On since ', time);
        } else {
          since.textContent = 'On';
        }
        const left = Number(factors.recovery_codes_left) || 0;
        slot(card, 'left').textContent = `${left} of 10`;
        slot(card, 'low').hidden = left > FEW_CODES;
      }
      showView(on ? 'on' : 'off');
    };

    let ticket = 0;
    /** GET /api/me/second-factors, then the on or off view; true when it worked. */
    const load = async () => {
      const mine = ++ticket;
      try {
        const factors = await api.secondFactors();
        if (mine !== ticket || !card.isConnected) return false;
        loading.hidden = true;
        retry.hidden = true;
        showState(factors);
        return true;
      } catch (error) {
        if (mine !== ticket) return false;
        loading.hidden = true;
        failed(error, alert, app);
        retry.hidden = !alert.textContent;
        return false;
      }
    };
    retry.addEventListener('click', () => {
      retry.hidden = true;
      alert.textContent = '';
      loading.hidden = false;
      heading.focus();
      load();
    });

    // ---- The password, for set up, new codes and turn off ----

    const openPassword = (name) => {
      clearMessages();
      action = name;
      const words = ACTIONS[name];
      slot(card, 'password-title').textContent = words.title;
      passwordSubmit.textContent = words.submit;
      passwordSubmit.dataset.idleLabel = words.submit;
      passwordSubmit.dataset.busyLabel = words.busy;
      passwordSubmit.classList.toggle('btn-danger', Boolean(words.danger));
      passwordSubmit.classList.toggle('btn-primary', !words.danger);
      passwordForm.classList.toggle('is-danger', Boolean(words.danger));
      for (const [key, button] of Object.entries(openers)) {
        button.setAttribute('aria-expanded', String(key === name));
      }
      passwordForm.hidden = false;
      passwordForm.elements.namedItem('password').focus();
    };
    /** Closes the form (not while its request runs); focus back to its button unless told. */
    const closePassword = ({ focus = true } = {}) => {
      if (passwordHandle.busy && focus) return;
      const opener = action ? openers[action] : null;
      action = null;
      passwordForm.hidden = true;
      passwordForm.reset(); // the password goes back to hidden with it
      passwordHandle.clearErrors();
      for (const button of Object.values(openers)) button.setAttribute('aria-expanded', 'false');
      if (focus && opener && !opener.closest('[hidden]')) opener.focus();
    };
    for (const [name, button] of Object.entries(openers)) {
      button.addEventListener('click', () => {
        if (action === name) closePassword();
        else if (!passwordHandle.busy) openPassword(name);
      });
    }
    passwordForm.querySelector('[data-action="cancel"]').addEventListener('click', () => closePassword());
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !event.isComposing && !passwordForm.hidden) {
        event.preventDefault();
        closePassword();
      }
    });

    /** The state changed elsewhere (another tab, an administrator): show it and say why. */
    const stale = async (error) => {
      closePassword({ focus: false });
      await load();
      alert.textContent = errorMessage(error);
      alert.focus();
    };

    const passwordHandle = passwordCheckForm(passwordForm, app, {
      required: { password: 'Enter your password to continue.' },
      passwordField: 'password',
      wrongPassword: 'This is not your password.',
      send: async ({ password }) => {
        try {
          return { action, answer: await ACTIONS[action].send(password) };
        } catch (error) {
          const conflict = error instanceof ApiError && (error.code === PROBLEM.secondFactorEnabled
            || error.code === PROBLEM.secondFactorNotEnabled);
          if (!conflict) throw error;
          return { action, conflict: error };
        }
      },
      done: async (values, { action: done, answer, conflict }) => {
        if (conflict) {
          await stale(conflict);
          return;
        }
        closePassword({ focus: false });
        if (done === 'setup') {
          showSetup(answer);
        } else if (done === 'regenerate') {
          showCodes(answer.recovery_codes, 'Your new recovery codes are in use; the old ones no longer work.');
          announceChange(card);
        } else {
          announceChange(card);
          await load();
          status.textContent = 'Two-step verification is off. Logins need only your password.';
          heading.focus();
        }
      },
    });

    // ---- Set-up: QR code, key, confirm ----

    const showSetup = (enrolment) => {
      const qr = slot(card, 'qr');
      const picture = qrCodeElement(enrolment?.qr_code_svg,
        'QR code to scan with your authenticator app');
      qr.replaceChildren(...(picture ? [picture] : []));
      qr.hidden = !picture;
      slot(card, 'qr-missing').hidden = Boolean(picture);
      secret = String(enrolment?.secret ?? '');
      secretElement.textContent = groupKey(secret);
      confirmForm.reset();
      confirmHandle.clearErrors();
      showView('setup');
      slot(card, 'copy-secret-status').textContent = '';
      card.querySelector('#two-step-setup-title').focus();
    };

    card.querySelector('[data-action="copy-secret"]').addEventListener('click', () => {
      copyText(secret, secretElement, (text) => announce(slot(card, 'copy-secret-status'), text));
    });
    card.querySelector('[data-action="cancel-setup"]').addEventListener('click', () => {
      if (confirmHandle.busy) return;
      showView('off');
      openers.setup.focus();
    });

    const confirmHandle = new Form(confirmForm, async (values, handle) => {
      const digits = String(values.code ?? '').replace(/\s+/g, '');
      const problem = digits === '' ? 'Enter the 6-digit code the app shows.'
        : !/^\d{6}$/.test(digits) ? 'The code from the app has 6 digits.' : null;
      if (problem) {
        handle.setFieldError('code', problem);
        handle.focusFirstError();
        return;
      }
      let answer;
      try {
        answer = await api.confirmTotp(digits);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.status === 401) {
          app.sessionExpired();
          return;
        }
        if (error.code === PROBLEM.wrongCode) {
          handle.setFieldError('code', 'That is not the code the app shows now. Check that the '
            + 'phone’s time is right, then enter the current code.');
          handle.focusFirstError();
          return;
        }
        if (error.code === PROBLEM.noEnrolment) {
          await load();
          alert.textContent = 'The set-up was not finished within 15 minutes. Please set up again.';
          alert.focus();
          return;
        }
        throw error;
      }
      showCodes(answer.recovery_codes, 'Two-step verification is on. Your next login will ask for a '
        + 'code from the app.');
      announceChange(card);
    });

    // ---- Recovery codes, shown once ----

    const showCodes = (fresh, message) => {
      showView('codes');
      codes = Array.isArray(fresh) ? fresh.map(String) : [];
      codesList.replaceChildren(...codes.map((code) => {
        const item = document.createElement('li');
        item.textContent = code;
        return item;
      }));
      downloadUrl = URL.createObjectURL(new Blob([codesFile(codes, user.username)],
        { type: 'text/plain;charset=utf-8' }));
      download.href = downloadUrl;
      download.download = `latchkey-recovery-codes-${user.username}.txt`;
      savedMessage = message;
      badge.hidden = false;
      badge.textContent = 'On';
      badge.classList.add('is-on');
      card.querySelector('#two-step-codes-title').focus();
    };

    card.querySelector('[data-action="copy-codes"]').addEventListener('click', () => {
      copyText(codes.join('\n'), codesList, (text) => announce(slot(card, 'copy-codes-status'), text));
    });
    let saving = false;
    card.querySelector('[data-action="saved"]').addEventListener('click', async () => {
      if (saving) return;
      saving = true;
      clearMessages();
      try {
        if (await load()) {
          status.textContent = savedMessage;
          heading.focus();
        } else if (alert.isConnected && alert.textContent) {
          alert.focus();
        }
      } finally {
        saving = false;
      }
    });

    load();
    return card;
  },
};
