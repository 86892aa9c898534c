// Passkeys in the browser, with Chromium's virtual authenticator (e2e/helpers/webauthn.js) in
// place of a phone or a fingerprint reader: adding one on the dashboard (the password asked, a
// name, the same device twice refused), signing in with it alone (the button, and the username
// field's autofill), as the login's second step after the password, renaming and removing it,
// after which the authenticator still holds it but the server refuses it; the login screen at an
// IP address, where WebAuthn cannot work, saying which address to open; a dialog closed without
// a passkey (nothing said), and a server that rules passkeys out (503, its reason shown).
//
// The pages that use passkeys open the server at http://localhost:PORT: WebAuthn refuses IP
// addresses as relying-party ids, and the server's relying party is `localhost` on loopback.
//
// The tests run in order and share one user and its one passkey. Each test's page has its own
// virtual authenticator, given the passkey the previous test ended with (its signature counter
// included, which the server checks only moves forward), as a synced passkey would arrive.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
} from '../helpers/browser.js';
import { login, registerAndLogin, DASHBOARD_HEADING } from '../helpers/flows.js';
import { totp } from '../helpers/totp.js';
import { addAuthenticator, atLocalhost, base64url, withoutAutofill } from '../helpers/webauthn.js';

const SECTION = 'article[aria-labelledby="section-passkeys-title"]';
const ACTIVITY = '[aria-labelledby="section-activity-title"]';
const BUTTON = 'Sign in with a passkey';
const REFUSED = 'This passkey was not accepted.';

/** The activity row of `kind` (the newest), once it reads `words`. */
async function activity(page, kind, words) {
  const row = page.locator(`${ACTIVITY} li[data-kind="${kind}"]`).first();
  await waitForText(row, words);
  return row;
}

describe('passkeys', () => {
  let server;
  let site;
  let browser;
  const username = uniqueUsername('passkey');
  const password = strongPassword();
  /** The user's passkey as the authenticator holds it, carried from test to test. */
  let credential = null;

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    site = atLocalhost(server);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** A page on http://localhost:PORT with a virtual authenticator holding the user's passkey. */
  async function passkeyPage({ autofill = false } = {}) {
    const tab = await openPage(browser, site);
    if (!autofill) await withoutAutofill(tab.context);
    const authenticator = await addAuthenticator(tab.page);
    if (credential) await authenticator.add(credential);
    /** Keeps the passkey (its counter moved) for the next test. */
    tab.keepPasskey = async () => {
      const held = await authenticator.credentials();
      assert.equal(held.length, 1, 'the authenticator holds one passkey');
      [credential] = held;
    };
    return { ...tab, authenticator };
  }

  it('adds a passkey on the dashboard, then signs in with it alone: no username, no password', async () => {
    const tab = await passkeyPage();
    const { page, apiRequests, authenticator } = tab;
    const section = page.locator(SECTION);
    try {
      await registerAndLogin(page, username, password);
      await waitForText(section.locator('[data-slot="empty"]'), 'No passkeys yet.');
      assert.equal(await section.locator('li').count(), 0);

      // "Add a passkey…" opens the password form (a disclosure), a name prefilled.
      const add = section.getByRole('button', { name: 'Add a passkey…' });
      assert.equal(await add.getAttribute('aria-expanded'), 'false');
      await add.click();
      assert.equal(await add.getAttribute('aria-expanded'), 'true');
      assert.equal((await focused(page)).id, 'passkeys-add-password');
      const passwordField = page.locator('#passkeys-add-password');
      const nameField = page.getByLabel('Name (optional)');
      assert.equal(await passwordField.getAttribute('autocomplete'), 'current-password');
      assert.equal(await nameField.inputValue(), 'Chrome on Linux');
      const submit = section.getByRole('button', { name: 'Add passkey', exact: true });

      // Empty: said in the page, nothing sent. Wrong: at the field. Nothing made either time.
      await submit.click();
      await waitForText(page.locator('#passkeys-add-password-error'), 'Enter your password to continue.');
      assert.equal(apiRequests.filter((r) => r.path === '/api/me/passkeys/register/start').length, 0);
      await passwordField.fill('not the password at all');
      await submit.click();
      await waitForText(page.locator('#passkeys-add-password-error'), 'This is not your password.');
      assert.equal((await focused(page)).id, 'passkeys-add-password');
      assert.equal((await authenticator.credentials()).length, 0);

      // The password and a name: the device makes the passkey, the list shows it.
      await passwordField.fill(password);
      await nameField.fill('Work laptop');
      await submit.click();
      await waitForText(section.getByRole('status'), 'Passkey “Work laptop” added.');
      const row = section.locator('li.passkey');
      assert.equal(await row.count(), 1);
      assert.equal(await row.locator('[data-slot="name"]').textContent(), 'Work laptop');
      assert.match(await row.locator('.item-meta').textContent(), /^Added .+ · Never used$/);
      assert.equal(await row.locator('[data-slot="synced"]').textContent(), 'Synced');
      assert.equal(await section.locator('[data-slot="empty"]').isHidden(), true);
      assert.equal(await page.locator('#passkeys-add-form').isHidden(), true);
      assert.equal(await add.getAttribute('aria-expanded'), 'false');
      assert.equal((await focused(page)).text, 'Rename');

      // The authenticator keeps it as a resident (discoverable) credential for localhost.
      const held = await authenticator.credentials();
      assert.equal(held.length, 1);
      assert.equal(held[0].isResidentCredential, true);
      assert.equal(held[0].rpId, 'localhost');
      const addedEvent = await activity(page, 'passkey_added', 'Passkey added');
      assert.equal(await addedEvent.locator('.item-detail').textContent(), 'Work laptop');

      // The same device again: WebAuthn refuses (the server listed it to exclude).
      await add.click();
      await passwordField.fill(password);
      await submit.click();
      await waitForText(page.locator('#passkeys-add-form [role="alert"]'),
        'This device already has a passkey for this account.');
      assert.equal(await row.count(), 1);
      assert.equal((await authenticator.credentials()).length, 1);
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('#passkeys-add-form').isHidden(), true);
      assert.equal((await focused(page)).text, 'Add a passkey…');

      // Log out; sign in with the passkey button, "Keep me logged in" ticked, nothing typed.
      await page.getByRole('button', { name: 'Log out' }).click();
      await waitForText(page.getByRole('status'), 'You have been logged out');
      const button = page.getByRole('button', { name: BUTTON });
      await button.waitFor();
      assert.equal(await page.getByLabel('Username').inputValue(), '');
      await page.getByLabel('Keep me logged in on this device').check();
      const finish = page.waitForRequest((r) => r.url().endsWith('/api/login/passkey/finish'));
      await button.click();
      const body = (await finish).postDataJSON();
      assert.deepEqual(Object.keys(body).sort(), ['ceremony', 'credential', 'remember']);
      assert.equal(body.remember, true);
      assert.equal(body.credential.id, base64url(held[0].credentialId));
      assert.equal(body.credential.type, 'public-key');
      assert.deepEqual(Object.keys(body.credential.response).sort(),
        ['authenticatorData', 'clientDataJSON', 'signature', 'userHandle']);
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.equal(apiRequests.filter((r) => r.path === '/api/login').length, 1, 'no password login');
      const cookie = (await tab.context.cookies()).find((c) => c.name.endsWith('latchkey_session'));
      assert.ok(cookie?.expires > Date.now() / 1000 + 3600, 'remembered: a persistent cookie');

      // The list says it was used; the activity too, with its name.
      await waitForText(row.locator('.item-meta'), 'Last used');
      const usedEvent = await activity(page, 'passkey_used', 'Passkey used to sign in');
      assert.equal(await usedEvent.locator('.item-detail').textContent(), 'Work laptop');
      await tab.keepPasskey();
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('offers the passkey in the username field’s suggestions (autofill) and signs in with it', async () => {
    assert.ok(credential, 'the first test added a passkey');
    const tab = await passkeyPage({ autofill: true });
    const { page, apiRequests } = tab;
    try {
      // The virtual authenticator picks the passkey as soon as the page asks, as a user would from
      // the suggestions; its answer is held back a moment to look at the page.
      let release;
      const held = new Promise((resolve) => { release = resolve; });
      await page.route('**/api/login/passkey/finish', async (route) => {
        await held;
        await route.continue();
      });
      const finish = page.waitForRequest((r) => r.url().endsWith('/api/login/passkey/finish'));
      await page.goto('/login');
      await waitForHeading(page, 'Log in to your account');
      const body = (await finish).postDataJSON();
      assert.equal(body.remember, false);
      assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username webauthn');
      assert.equal(await page.getByLabel('Username').inputValue(), '');
      release();
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.deepEqual(apiRequests.map((r) => r.path).filter((p) => p.startsWith('/api/login')),
        ['/api/login/passkey/start', '/api/login/passkey/finish']);
      await tab.keepPasskey();
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('completes the login’s second step with the passkey after the password (two-step verification on)', async () => {
    assert.ok(credential, 'the first test added a passkey');
    const tab = await passkeyPage();
    const { page, context, apiRequests } = tab;
    try {
      // Two-step verification on, through the API (no Origin header: the CSRF check lets it by).
      const api = context.request;
      assert.equal((await api.post('/api/login', { data: { username, password } })).status(), 200);
      const enrolment = await (await api.post('/api/me/totp', { data: { password } })).json();
      const confirmed = await api.post('/api/me/totp/confirm', { data: { code: totp(enrolment.secret) } });
      assert.equal(confirmed.status(), 200);
      const factors = await (await api.get('/api/me/second-factors')).json();
      assert.equal(factors.passkeys, 1);
      assert.equal((await api.post('/api/logout')).status(), 204);

      await page.goto('/login');
      await waitForHeading(page, 'Log in to your account');
      const answer = page.waitForResponse((r) => r.url().endsWith('/api/login'));
      await login(page, username, password);
      const challenge = await (await answer).json();
      assert.equal((await answer).status(), 202);
      assert.ok(challenge.methods.includes('passkey'), JSON.stringify(challenge));
      await waitForHeading(page, 'Two-step verification');
      assert.equal((await focused(page)).id, 'second-factor-code');

      const second = page.waitForRequest((r) => r.url().endsWith('/api/login/second-factor'));
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      const body = (await second).postDataJSON();
      assert.deepEqual(Object.keys(body), ['passkey']);
      assert.deepEqual(Object.keys(body.passkey).sort(), ['ceremony', 'credential']);
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.ok(apiRequests.some((r) => r.path === '/api/login/second-factor/passkey'));
      await activity(page, 'passkey_used', 'Passkey used to sign in');
      await tab.keepPasskey();
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('renames and removes the passkey (password asked); the removed passkey no longer signs in', async () => {
    assert.ok(credential, 'the first test added a passkey');
    const tab = await passkeyPage();
    const { page, authenticator } = tab;
    const section = page.locator(SECTION);
    try {
      // With two-step verification on, the passkey alone is still a complete login.
      await page.goto('/login');
      await page.getByRole('button', { name: BUTTON }).click();
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));

      // Rename, in the row: Escape leaves it as it was; empty is refused; then a new name.
      const row = section.locator('li.passkey');
      await waitForText(row, 'Work laptop');
      const rename = section.getByRole('button', { name: 'Rename Work laptop' });
      await rename.click();
      const nameField = page.getByLabel('New name');
      assert.equal((await focused(page)).id, 'passkeys-rename-name');
      assert.equal(await nameField.inputValue(), 'Work laptop');
      await page.keyboard.press('Escape');
      assert.equal(await nameField.count(), 1);
      assert.equal(await nameField.isHidden(), true);
      assert.equal((await focused(page)).text, 'Rename');
      await rename.click();
      await nameField.fill('  ');
      await section.getByRole('button', { name: 'Save' }).click();
      await waitForText(page.locator('#passkeys-rename-name-error'), 'Enter a name for the passkey.');
      await nameField.fill('Old phone');
      await section.getByRole('button', { name: 'Save' }).click();
      await waitForText(section.getByRole('status'), 'Renamed to “Old phone”.');
      assert.equal(await row.locator('[data-slot="name"]').textContent(), 'Old phone');
      assert.equal(await nameField.isHidden(), true);
      assert.equal((await focused(page)).text, 'Rename');
      const renamed = await activity(page, 'passkey_renamed', 'Passkey renamed');
      assert.equal(await renamed.locator('.item-detail').textContent(), 'Old phone');

      // Remove: the password asked (empty and wrong at the field), then the list is empty.
      const remove = section.getByRole('button', { name: 'Remove Old phone…' });
      await remove.click();
      assert.equal(await remove.getAttribute('aria-expanded'), 'true');
      assert.equal((await focused(page)).id, 'passkeys-remove-password');
      await waitForText(page.locator('#passkeys-remove-title'), 'Remove “Old phone”? It will no longer sign you in.');
      const confirm = section.getByRole('button', { name: 'Remove passkey' });
      await confirm.click();
      await waitForText(page.locator('#passkeys-remove-password-error'), 'Enter your password to confirm.');
      await page.locator('#passkeys-remove-password').fill('not the password at all');
      await confirm.click();
      await waitForText(page.locator('#passkeys-remove-password-error'), 'This is not your password.');
      assert.equal(await row.count(), 1);
      await page.locator('#passkeys-remove-password').fill(password);
      await confirm.click();
      await waitForText(section.getByRole('status'), 'Removed “Old phone”.');
      await waitForText(section.locator('[data-slot="empty"]'), 'No passkeys yet.');
      assert.equal(await row.count(), 0);
      assert.equal((await focused(page)).id, 'section-passkeys-title');
      await activity(page, 'passkey_removed', 'Passkey removed');

      // The authenticator still holds it; the server no longer knows it.
      assert.equal((await authenticator.credentials()).length, 1);
      await page.getByRole('button', { name: 'Log out' }).click();
      await waitForText(page.getByRole('status'), 'You have been logged out');
      const refused = page.waitForResponse((r) => r.url().endsWith('/api/login/passkey/finish'));
      await page.getByRole('button', { name: BUTTON }).click();
      const answer = await refused;
      assert.equal(answer.status(), 401);
      assert.equal((await answer.json()).code, 'invalid_passkey');
      const alert = page.locator('#login-form-alert');
      await waitForText(alert, REFUSED);
      assert.equal((await focused(page)).id, 'login-form-alert');
      assert.match(page.url(), /\/login$/);
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);

      // And the second step no longer offers it.
      await login(page, username, password);
      await waitForHeading(page, 'Two-step verification');
      assert.equal(await page.getByRole('button', { name: 'Use a passkey' }).isHidden(), true);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('at 127.0.0.1, where WebAuthn cannot work, says which address to open instead of the button', async () => {
    const tab = await openPage(browser, server); // http://127.0.0.1:PORT
    const { page, apiRequests } = tab;
    try {
      await page.goto('/login');
      await waitForHeading(page, 'Log in to your account');
      const hint = page.locator('[data-slot="passkey-hint"]');
      await waitForText(hint, 'Passkeys need this page at a name, not an IP address');
      assert.equal((await hint.textContent()).trim(),
        `Passkeys need this page at a name, not an IP address: open http://localhost:${server.port}`);
      assert.equal(await hint.getByRole('link').getAttribute('href'), `http://localhost:${server.port}/login`);
      assert.equal(await page.getByRole('button', { name: BUTTON }).isHidden(), true);
      assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');

      // The dashboard's section says the same instead of "Add a passkey…".
      await registerAndLogin(page, uniqueUsername('atip'), password);
      const section = page.locator(SECTION);
      await waitForText(section.locator('[data-slot="unusable"]'), 'not an IP address');
      await waitForText(section.locator('[data-slot="empty"]'), 'No passkeys yet.');
      assert.equal(await section.getByRole('button', { name: 'Add a passkey…' }).isHidden(), true);
      assert.equal(apiRequests.filter((r) => r.path.includes('passkey/')).length, 0);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('says nothing when the passkey dialog ends without a passkey (closed, or none for this site)', async () => {
    const tab = await openPage(browser, site);
    const { page, context, apiRequests } = tab;
    try {
      await withoutAutofill(context);
      await addAuthenticator(page); // empty: WebAuthn answers NotAllowedError, as when the user cancels
      await page.goto('/login');
      const button = page.getByRole('button', { name: BUTTON });
      const started = page.waitForResponse((r) => r.url().endsWith('/api/login/passkey/start'));
      await button.click();
      assert.equal((await started).status(), 200);
      await page.waitForFunction(() => !document.querySelector('[data-action="passkey"]').classList.contains('is-busy'));
      assert.equal(await button.getAttribute('aria-disabled'), null);
      assert.equal(await page.locator('#login-form-alert').textContent(), '');
      assert.equal(apiRequests.filter((r) => r.path === '/api/login/passkey/finish').length, 0);
      assert.match(page.url(), /\/login$/);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('hides the passkey button when the server says passkeys cannot work, and says why', async () => {
    const tab = await openPage(browser, site);
    const { page, context } = tab;
    try {
      await withoutAutofill(context);
      const detail = 'Passkeys cannot work with this server\u2019s configuration: open https://auth.example.';
      await page.route('**/api/login/passkey/start', (route) => route.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          type: 'about:blank', title: 'Passkeys unavailable', status: 503, detail, code: 'passkeys_unavailable',
        }),
      }));
      await page.goto('/login');
      await page.getByRole('button', { name: BUTTON }).click();
      await waitForText(page.locator('[data-slot="passkey-hint"]'), detail);
      assert.equal(await page.getByRole('button', { name: BUTTON }).isHidden(), true);
      assert.equal(await page.locator('#login-form-alert').textContent(), '');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });
});
