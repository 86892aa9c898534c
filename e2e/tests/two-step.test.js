// Two-step verification in the browser: set up on the dashboard (password, QR code, the key read
// from the page, a real code computed here with e2e/helpers/totp.js), the recovery codes shown
// once (copy, download), the login's second step with an authenticator code (keyboard only) and
// with recovery codes (each works once), its errors (wrong code, expired pending login, 429),
// new recovery codes, turning it off, and the QR code's SVG kept out of the page as markup.
//
// The tests run in order and share one user: the first sets it up and keeps its key and
// recovery codes. An authenticator code is accepted once per 30-second step, so the test that
// logs in with one waits for the step after the set-up's code (the tests in between usually use
// up most of that wait); the others use recovery codes.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
} from '../helpers/browser.js';
import { login, registerAndLogin, DASHBOARD_HEADING } from '../helpers/flows.js';
import { totp, stepAt, waitForStepAfter } from '../helpers/totp.js';

const SECTION = '[aria-labelledby="section-two-step-title"]';
const ACTIVITY = '[aria-labelledby="section-activity-title"]';
const STEP_HEADING = 'Two-step verification';
const RECOVERY_CODE = /^[0-9a-z]{4}(-[0-9a-z]{4}){5}$/;

/** A 6-digit code the server will not accept now: the app's code from an hour ahead. */
function wrongCode(secret) {
  const now = stepAt();
  const near = new Set([-2, -1, 0, 1, 2].map((d) => totp(secret, now + d)));
  for (let step = now + 120; ; step += 1) {
    const code = totp(secret, step);
    if (!near.has(code)) return code;
  }
}

/** From a fresh page: the password, then the second step is on screen. */
async function passwordStep(page, username, password) {
  await page.goto('/login');
  await waitForHeading(page, 'Log in to your account');
  await login(page, username, password);
  await waitForHeading(page, STEP_HEADING);
}

async function submitSecondStep(page, label, value) {
  await page.getByLabel(label, { exact: true }).fill(value);
  await page.getByRole('button', { name: 'Verify' }).click();
}

/** Opens the section's password form with `button` and confirms with `password`. */
async function withPassword(page, button, password) {
  const section = page.locator(SECTION);
  await section.getByRole('button', { name: button }).click();
  assert.equal((await focused(page)).id, 'two-step-password');
  await page.getByLabel('Your password', { exact: true }).fill(password);
  await page.locator('#two-step-password-form button[type="submit"]').click();
}

/**
 * A user with two-step verification on, made through the API with `context`'s cookie jar (no
 * Origin header: the CSRF check lets it by), logged out again. Tests that pile up failed attempts
 * use one of these: the right password counts in the account throttle until the second step
 * succeeds, and wrong codes count too.
 */
async function userWithTwoStep(context, password) {
  const username = uniqueUsername('otp');
  const api = context.request;
  assert.equal((await api.post('/api/register', { data: { username, password } })).status(), 201);
  assert.equal((await api.post('/api/login', { data: { username, password } })).status(), 200);
  const enrolment = await (await api.post('/api/me/totp', { data: { password } })).json();
  const confirmed = await api.post('/api/me/totp/confirm', { data: { code: totp(enrolment.secret) } });
  assert.equal(confirmed.status(), 200);
  assert.equal((await api.post('/api/logout')).status(), 204);
  return { username, secret: enrolment.secret };
}

/** The recovery codes on screen, once all ten are there. */
async function shownCodes(page) {
  await page.locator(`${SECTION} .recovery-codes li`).nth(9).waitFor();
  return page.locator(`${SECTION} .recovery-codes li`).allTextContents();
}

describe('two-step verification', () => {
  let server;
  let browser;
  const username = uniqueUsername('twostep');
  const password = strongPassword();
  /** Kept by the set-up test: what an authenticator app and the user's safe would hold. */
  let secret = null;
  let recoveryCodes = [];
  let confirmStep = null;

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('sets up two-step verification on the dashboard: password, QR code, key, code, recovery codes', async () => {
    const tab = await openPage(browser, server);
    const { page, context, apiRequests } = tab;
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    const section = page.locator(SECTION);
    try {
      await registerAndLogin(page, username, password);
      await waitForText(section.locator('.badge'), 'Off');
      const open = section.getByRole('button', { name: 'Set up two-step verification…' });
      assert.equal(await open.getAttribute('aria-expanded'), 'false');

      // The password first: empty is reported without a request, a wrong one at the field.
      await open.click();
      assert.equal(await open.getAttribute('aria-expanded'), 'true');
      assert.equal((await focused(page)).id, 'two-step-password');
      await page.locator('#two-step-password-form button[type="submit"]').click();
      await waitForText(page.locator('#two-step-password-error'), 'Enter your password to continue.');
      assert.equal(apiRequests.filter((r) => r.path === '/api/me/totp').length, 0);
      await page.getByLabel('Your password', { exact: true }).fill('not the password at all');
      await page.getByRole('button', { name: 'Continue' }).click();
      await waitForText(page.locator('#two-step-password-error'), 'This is not your password.');
      assert.equal((await focused(page)).id, 'two-step-password');
      await page.getByLabel('Your password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Continue' }).click();

      // The QR code: an <svg> built in the page from the server's, with only shapes in it.
      const qr = section.locator('.qr svg');
      await qr.waitFor();
      assert.equal((await focused(page)).id, 'two-step-setup-title');
      assert.equal(await qr.getAttribute('role'), 'img');
      assert.equal(await qr.getAttribute('aria-label'), 'QR code to scan with your authenticator app');
      const shape = await qr.evaluate((svg) => ({
        viewBox: svg.getAttribute('viewBox'),
        children: [...new Set([...svg.children].map((child) => child.localName))].sort(),
        attributes: [...new Set([svg, ...svg.children]
          .flatMap((element) => [...element.attributes].map((a) => a.name)))].sort(),
        box: svg.getBoundingClientRect().width,
      }));
      assert.match(shape.viewBox, /^0 0 \d+ \d+$/);
      assert.deepEqual(shape.children, ['path', 'rect']);
      for (const name of shape.attributes) {
        assert.ok(['aria-label', 'd', 'fill', 'focusable', 'height', 'preserveAspectRatio', 'role',
          'shape-rendering', 'viewBox', 'width', 'x', 'y'].includes(name), `attribute ${name}`);
      }
      assert.ok(shape.box >= 150, `the QR code is ${shape.box}px wide`);
      // Nothing the CSP would refuse: no style attribute or element, no inline script.
      assert.deepEqual(await page.evaluate(() => [
        document.querySelectorAll('[style], style').length,
        [...document.scripts].filter((script) => !script.src).length,
      ]), [0, 0]);

      // The key to type by hand, in groups of four; it is what the authenticator app needs.
      const grouped = (await section.locator('.secret').textContent()).trim();
      assert.match(grouped, /^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/);
      secret = grouped.replace(/ /g, '');
      assert.ok(secret.length >= 16, `a ${secret.length}-character key`);
      await section.getByRole('button', { name: 'Copy key' }).click();
      await waitForText(section.locator('[data-slot="copy-secret-status"]'), 'Copied');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

      // Not six digits: said in the page, nothing sent. A wrong code: next to the field.
      const codeField = page.getByLabel('Code from the app', { exact: true });
      assert.equal(await codeField.getAttribute('autocomplete'), 'one-time-code');
      assert.equal(await codeField.getAttribute('inputmode'), 'numeric');
      const turnOn = section.getByRole('button', { name: 'Turn on two-step verification' });
      await codeField.fill('12 34');
      await turnOn.click();
      await waitForText(page.locator('#two-step-code-error'), 'The code from the app has 6 digits.');
      assert.equal(apiRequests.filter((r) => r.path === '/api/me/totp/confirm').length, 0);
      await codeField.fill(wrongCode(secret));
      await turnOn.click();
      await waitForText(page.locator('#two-step-code-error'), 'That is not the code the app shows now.');
      assert.equal(await codeField.getAttribute('aria-invalid'), 'true');
      assert.equal((await focused(page)).id, 'two-step-code');

      // The app's current code turns it on; the ten recovery codes are shown this once.
      confirmStep = stepAt();
      await codeField.fill(totp(secret, confirmStep));
      await turnOn.click();
      recoveryCodes = await shownCodes(page);
      assert.equal((await focused(page)).id, 'two-step-codes-title');
      assert.equal(recoveryCodes.length, 10);
      assert.equal(new Set(recoveryCodes).size, 10);
      for (const code of recoveryCodes) assert.match(code, RECOVERY_CODE);
      await waitForText(section.locator('.badge'), 'On');

      await section.getByRole('button', { name: 'Copy codes' }).click();
      await waitForText(section.locator('[data-slot="copy-codes-status"]'), 'Copied');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), recoveryCodes.join('\n'));

      // Download: a text file from a blob: URL, with the account and every code on its own line.
      const link = section.getByRole('link', { name: 'Download' });
      assert.match(await link.getAttribute('href'), /^blob:/);
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(download.suggestedFilename(), `latchkey-recovery-codes-${username}.txt`);
      const file = await readFile(await download.path(), 'utf8');
      const lines = file.split('\n');
      assert.ok(lines.includes(`Account: ${username}`), file);
      assert.ok(lines.includes(`Server:  ${server.url}`), file);
      for (const code of recoveryCodes) assert.ok(lines.includes(code), `${code} in the file`);

      // Saved: the codes leave the page; the section says it is on, with ten codes left.
      await section.getByRole('button', { name: 'I have saved them' }).click();
      await waitForText(section.getByRole('status'), 'Two-step verification is on.');
      await waitForText(section.locator('[data-slot="left"]'), '10 of 10');
      assert.match(await section.locator('[data-slot="since"]').textContent(), /^On since /);
      assert.equal((await focused(page)).id, 'section-two-step-title');
      assert.equal(await section.locator('.recovery-codes li').count(), 0);
      assert.equal(await section.locator('.secret').textContent(), '');
      assert.equal(await section.locator('[data-slot="download"]').getAttribute('href'), null);
      await waitForText(page.locator(ACTIVITY), 'Two-step verification turned on');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('logs in with a recovery code once; the same code again is refused next to the field', async () => {
    assert.ok(secret, 'the set-up test ran');
    const tab = await openPage(browser, server);
    const { page, apiRequests } = tab;
    try {
      await passwordStep(page, username, password);
      // Not logged in yet; the URL is the login screen's; focus is in the code field.
      assert.match(page.url(), /\/login$/);
      assert.equal(await page.title(), 'Two-step verification · Latchkey');
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
      assert.equal((await focused(page)).id, 'second-factor-code');
      const code = page.getByLabel('Authentication code', { exact: true });
      assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
      assert.equal(await code.getAttribute('inputmode'), 'numeric');
      assert.ok(await page.evaluate(() => [...document.querySelectorAll('main input')]
        .every((input) => input.labels.length === 1)), 'every input has its label');
      assert.equal(await page.locator('h1').count(), 1);

      // Empty: said in the page, nothing sent. Wrong: next to the field, focus there.
      await page.getByRole('button', { name: 'Verify' }).click();
      await waitForText(page.locator('#second-factor-code-error'), 'Enter the 6-digit code');
      assert.equal(apiRequests.filter((r) => r.path === '/api/login/second-factor').length, 0);
      await submitSecondStep(page, 'Authentication code', wrongCode(secret));
      await waitForText(page.locator('#second-factor-code-error'), 'That code is wrong or was already used.');
      assert.equal(await code.getAttribute('aria-invalid'), 'true');
      assert.equal((await focused(page)).id, 'second-factor-code');
      assert.match(page.url(), /\/login$/);

      // A recovery code instead.
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      assert.equal((await focused(page)).id, 'second-factor-recovery');
      assert.equal(await code.isHidden(), true);
      assert.equal(await page.locator('#second-factor-code-error').textContent(), '');
      const recovery = page.getByLabel('Recovery code', { exact: true });
      assert.equal(await recovery.getAttribute('autocomplete'), 'off');
      await submitSecondStep(page, 'Recovery code', recoveryCodes[0]);
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      await waitForText(page.locator(`${SECTION} [data-slot="left"]`), '9 of 10');
      const used = page.locator(`${ACTIVITY} li[data-kind="recovery_code_used"]`);
      await waitForText(used, 'Recovery code used to sign in');
      assert.equal(await used.locator('.item-detail').textContent(), '9 recovery codes left');

      // The same code a second time: refused, next to the field.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await passwordStep(page, username, password);
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await submitSecondStep(page, 'Recovery code', recoveryCodes[0]);
      await waitForText(page.locator('#second-factor-recovery-error'),
        'That recovery code is wrong or was already used.');
      assert.equal((await focused(page)).id, 'second-factor-recovery');
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);

      // Back to the password: the username kept, the password to type again.
      await page.getByRole('button', { name: 'Back to the password' }).click();
      await waitForHeading(page, 'Log in to your account');
      assert.equal((await focused(page)).id, 'login-password');
      assert.equal(await page.getByLabel('Username').inputValue(), username);
      assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
      assert.equal(await page.title(), 'Log in · Latchkey');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('goes back to the password, with a notice, when the pending login has expired', async () => {
    const tab = await openPage(browser, server);
    const { page, context } = tab;
    try {
      const other = await userWithTwoStep(context, password);
      await passwordStep(page, other.username, password);
      // What five minutes do: the pending login is gone (its cookie here).
      await context.clearCookies();
      await submitSecondStep(page, 'Authentication code', wrongCode(other.secret));
      await waitForHeading(page, 'Log in to your account');
      await waitForText(page.getByRole('status'), 'The time to enter a code ran out. Enter your password again.');
      assert.equal((await focused(page)).id, 'login-password');
      assert.equal(await page.getByLabel('Username').inputValue(), other.username);
      // And the password starts a new second step.
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await waitForHeading(page, STEP_HEADING);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('says when to try again after too many wrong codes (429)', async () => {
    const tab = await openPage(browser, server);
    const { page, context } = tab;
    try {
      const other = await userWithTwoStep(context, password);
      await passwordStep(page, other.username, password);
      let status = 0;
      for (let attempt = 0; attempt < 8 && status !== 429; attempt += 1) {
        const answer = page.waitForResponse((r) => r.url().endsWith('/api/login/second-factor'));
        await submitSecondStep(page, 'Authentication code', wrongCode(other.secret));
        status = (await answer).status();
      }
      assert.equal(status, 429, 'wrong codes count in the account throttle');
      const alert = page.locator('#second-factor-alert');
      await waitForText(alert, 'try again');
      assert.match((await alert.textContent()).trim(),
        /^Too many failed attempts for this account\. Please try again in \d+ (seconds?|minutes)\.$/);
      assert.equal((await focused(page)).id, 'second-factor-alert');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('never puts the server’s SVG in the page as markup: anything but a plain QR code is refused', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      await registerAndLogin(page, uniqueUsername('svg'), password);
      // The checker on its own, with what an attacker would try.
      const verdicts = await page.evaluate(async () => {
        const { qrCodeElement } = await import('/qr-code.js');
        const open = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">';
        const rect = '<rect x="0" y="0" width="10" height="10" fill="#ffffff"/>';
        const cases = {
          plain: `<?xml version="1.0"?>${open}${rect}<path fill="#000000" d="M1 1h1v1H1V1"/></svg>`,
          rects: `\n${open}\n  ${rect}\n  <rect x='1' y='1' width='1' height='1' fill='#000'></rect>\n</svg>\n`,
          script: `${open}${rect}<script>window.__pwned = 1</script></svg>`,
          handler: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" onload="window.__pwned = 1">${rect}</svg>`,
          handlerOnShape: `${open}<rect x="0" y="0" width="1" height="1" onclick="window.__pwned = 1"/></svg>`,
          foreignObject: `${open}<foreignObject><img xmlns="http://www.w3.org/1999/xhtml" src="x"/></foreignObject></svg>`,
          link: `${open}<a href="javascript:alert(1)">${rect}</a></svg>`,
          image: `${open}<image href="https://example.invalid/x.png"/></svg>`,
          use: `${open}<use href="data:image/svg+xml,&lt;svg/&gt;#x"/></svg>`,
          styleAttribute: `${open}<rect x="0" y="0" width="1" height="1" style="fill:red"/></svg>`,
          styleElement: `${open}<style>rect{fill:url(https://example.invalid/)}</style>${rect}</svg>`,
          xlink: `${open}<path xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="#a" d="M0 0"/></svg>`,
          urlFill: `${open}<rect x="0" y="0" width="1" height="1" fill="url(https://example.invalid/#p)"/></svg>`,
          pathData: `${open}<path d="M0 0 url(x)"/></svg>`,
          doctype: `<!DOCTYPE svg [<!ENTITY x "y">]>${open}${rect}</svg>`,
          comment: `${open}<!-- hi -->${rect}</svg>`,
          text: `${open}hello${rect}</svg>`,
          nested: `${open}<svg>${rect}</svg></svg>`,
          html: `<html xmlns="http://www.w3.org/1999/xhtml"><body>${rect}</body></html>`,
          broken: `${open}<rect x="0"`,
          notString: null,
          empty: `${open}</svg>`,
        };
        return Object.fromEntries(Object.entries(cases)
          .map(([name, svg]) => [name, qrCodeElement(svg, 'label') !== null]));
      });
      const accepted = Object.entries(verdicts).filter(([, ok]) => ok).map(([name]) => name);
      assert.deepEqual(accepted, ['plain', 'rects']);

      // The set-up with a hostile picture: no QR code, the key to type instead, nothing ran.
      await page.route('**/api/me/totp', async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        const response = await route.fetch();
        const body = await response.json();
        body.qr_code_svg = body.qr_code_svg.replace('<path ', '<script>window.__pwned = 1</script><path onload="window.__pwned = 2" ');
        return route.fulfill({ response, json: body });
      });
      await withPassword(page, 'Set up two-step verification…', password);
      const section = page.locator(SECTION);
      await waitForText(section.locator('[data-slot="qr-missing"]'), 'The QR code cannot be shown here.');
      assert.equal(await section.locator('.qr svg').count(), 0);
      assert.match((await section.locator('.secret').textContent()).trim(), /^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/);
      assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
      assert.equal(await page.locator('main script').count(), 0);

      // Cancel: the set-up is abandoned, the key leaves the page, focus back on the button.
      await section.getByRole('button', { name: 'Cancel' }).click();
      assert.equal((await focused(page)).text, 'Set up two-step verification…');
      assert.equal(await section.locator('.secret').textContent(), '');
      await waitForText(section.locator('.badge'), 'Off');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('logs in with the authenticator app’s code, keyboard only; the same code twice is refused', async () => {
    assert.ok(secret, 'the set-up test ran');
    // A code is accepted once per 30-second step: the set-up used confirmStep's.
    await waitForStepAfter(confirmStep);
    const tab = await openPage(browser, server);
    const { page } = tab;
    const { keyboard } = page;
    try {
      await page.goto('/login');
      await waitForHeading(page, 'Log in to your account');
      await page.locator('#login-username').focus();
      await keyboard.type(username);
      await keyboard.press('Tab');
      await keyboard.type(password);
      await keyboard.press('Enter');
      await waitForHeading(page, STEP_HEADING);
      assert.equal((await focused(page)).id, 'second-factor-code');

      // Tab order: the code, Verify, the switch, Back. The switch works with Enter both ways.
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Verify');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Use a recovery code instead');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Back to the password');
      await keyboard.press('Shift+Tab');
      await keyboard.press('Enter');
      assert.equal((await focused(page)).id, 'second-factor-recovery');
      await keyboard.press('Tab');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Use your authenticator app instead');
      await keyboard.press('Space');
      assert.equal((await focused(page)).id, 'second-factor-code');

      // A wrong code: the error, focus stays with the code selected, so typing replaces it.
      await keyboard.type(wrongCode(secret));
      await keyboard.press('Enter');
      await waitForText(page.locator('#second-factor-code-error'), 'That code is wrong or was already used.');
      assert.equal((await focused(page)).id, 'second-factor-code');
      const step = stepAt();
      const code = totp(secret, step);
      await keyboard.type(code);
      assert.equal(await page.locator('#second-factor-code').inputValue(), code);
      await keyboard.press('Enter');
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.equal((await focused(page)).id, 'dashboard-title');
      const failedCode = page.locator(`${ACTIVITY} li[data-kind="second_factor_failed"]`).first();
      await waitForText(failedCode, 'Failed two-step verification code');
      assert.equal(await failedCode.evaluate((li) => li.classList.contains('is-warning')), true);

      // The same code again (a replay, as someone who saw it would try): refused.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await passwordStep(page, username, password);
      await submitSecondStep(page, 'Authentication code', code);
      await waitForText(page.locator('#second-factor-code-error'), 'That code is wrong or was already used.');
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('creates new recovery codes and turns two-step verification off, each after the password', async () => {
    assert.ok(secret, 'the set-up test ran');
    const tab = await openPage(browser, server);
    const { page } = tab;
    const section = page.locator(SECTION);
    try {
      await passwordStep(page, username, password);
      await page.getByRole('button', { name: 'Use a recovery code instead' }).click();
      await submitSecondStep(page, 'Recovery code', recoveryCodes[1]);
      await waitForHeading(page, DASHBOARD_HEADING(username));
      await waitForText(section.locator('[data-slot="left"]'), '8 of 10');

      // New codes: a wrong password at the field, then ten new codes, shown once.
      const regenerate = section.getByRole('button', { name: 'New recovery codes…' });
      await withPassword(page, 'New recovery codes…', 'not the password at all');
      await waitForText(page.locator('#two-step-password-error'), 'This is not your password.');
      assert.equal(await regenerate.getAttribute('aria-expanded'), 'true');
      await page.getByLabel('Your password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Create new codes' }).click();
      const fresh = await shownCodes(page);
      assert.equal(fresh.filter((code) => recoveryCodes.includes(code)).length, 0, 'all new');
      await section.getByRole('button', { name: 'I have saved them' }).click();
      await waitForText(section.getByRole('status'), 'the old ones no longer work');
      await waitForText(section.locator('[data-slot="left"]'), '10 of 10');

      // An old code no longer completes a login; a new one does (checked without the page).
      const probe = await browser.newContext({ baseURL: server.url });
      try {
        const second = (body) => probe.request.post('/api/login/second-factor', { data: body });
        assert.equal((await probe.request.post('/api/login', { data: { username, password } })).status(), 202);
        const old = await second({ recovery_code: recoveryCodes[2] });
        assert.equal(old.status(), 401);
        assert.equal((await old.json()).code, 'invalid_second_factor');
        assert.equal((await second({ recovery_code: fresh[0] })).status(), 200);
      } finally {
        await probe.close();
      }

      // Turn off: Escape closes the form, focus back on the button; then the password.
      const disable = section.getByRole('button', { name: 'Turn off…' });
      await disable.click();
      assert.equal((await focused(page)).id, 'two-step-password');
      await waitForText(page.locator('#two-step-password-title'), 'Logins will need only your password again');
      await page.keyboard.press('Escape');
      assert.equal(await page.locator('#two-step-password-form').isHidden(), true);
      assert.equal(await disable.getAttribute('aria-expanded'), 'false');
      assert.equal((await focused(page)).text, 'Turn off…');
      await withPassword(page, 'Turn off…', password);
      await waitForText(section.getByRole('status'), 'Two-step verification is off.');
      await waitForText(section.locator('.badge'), 'Off');
      assert.equal((await focused(page)).id, 'section-two-step-title');
      await section.getByRole('button', { name: 'Set up two-step verification…' }).waitFor();
      await waitForText(page.locator(ACTIVITY), 'Two-step verification turned off');
      await waitForText(page.locator(ACTIVITY), 'New recovery codes created');

      // The password alone logs in again.
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await login(page, username, password);
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });
});
