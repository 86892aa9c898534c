// Keyboard-only use, labels and autocomplete, the show-password toggle, and the page hygiene
// the CSP demands (no inline script or style, no violations).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
} from '../helpers/browser.js';
import { DASHBOARD_HEADING } from '../helpers/flows.js';

describe('accessibility and page hygiene', () => {
  let server;
  let browser;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('registers, logs in and logs out with the keyboard only', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    const { keyboard } = page;
    const tabTo = async (expected) => {
      await keyboard.press('Tab');
      const now = await focused(page);
      for (const [key, value] of Object.entries(expected)) {
        assert.equal(now[key], value, `Tab should reach ${JSON.stringify(expected)}, got ${JSON.stringify(now)}`);
      }
    };
    try {
      const username = uniqueUsername('keys');
      const password = strongPassword();
      await page.goto('/register');
      await waitForHeading(page, 'Create an account');

      // The header first: skip link, brand, Log in, Create account (the current page).
      await tabTo({ tag: 'a', text: 'Skip to content' });
      await tabTo({ tag: 'a', text: 'Latchkey' });
      await tabTo({ tag: 'a', text: 'Log in' });
      await tabTo({ tag: 'a', text: 'Create account' });
      // Back to the skip link, which jumps over the header to the heading.
      await keyboard.press('Shift+Tab');
      await keyboard.press('Shift+Tab');
      await keyboard.press('Shift+Tab');
      assert.equal((await focused(page)).text, 'Skip to content');
      await keyboard.press('Enter');
      assert.equal((await focused(page)).id, 'register-title');

      await tabTo({ id: 'register-username' });
      await keyboard.type(username);
      await tabTo({ id: 'register-password' });
      await keyboard.type(password);
      await tabTo({ tag: 'button', text: 'Show password' });
      await keyboard.press('Space');
      assert.equal(await page.locator('#register-password').getAttribute('type'), 'text');
      assert.equal(await page.getByRole('button', { name: 'Show password' }).getAttribute('aria-pressed'), 'true');
      await keyboard.press('Space');
      assert.equal(await page.locator('#register-password').getAttribute('type'), 'password');
      await tabTo({ tag: 'button', text: 'Create account' });
      await keyboard.press('Enter');

      await page.waitForURL('**/login');
      await waitForText(page.getByRole('status'), 'Account created');
      assert.equal((await focused(page)).id, 'login-title');
      await tabTo({ id: 'login-username' });
      assert.equal(await page.locator('#login-username').inputValue(), username);
      await tabTo({ id: 'login-password' });
      await keyboard.type(password);
      await keyboard.press('Enter');

      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.equal((await focused(page)).id, 'dashboard-title');
      await tabTo({ tag: 'button', text: 'Log out' });
      await keyboard.press('Enter');
      await page.waitForURL('**/login');
      await waitForText(page.getByRole('status'), 'You have been logged out');
      assert.equal((await focused(page)).id, 'login-title');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('ties labels to inputs, sets autocomplete, and has a real show-password toggle', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      for (const [path, heading, passwordAutocomplete] of [
        ['/register', 'Create an account', 'new-password'],
        ['/login', 'Log in to your account', 'current-password'],
      ]) {
        await page.goto(path);
        await waitForHeading(page, heading);
        assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
        const passwordInput = page.getByLabel('Password', { exact: true });
        assert.equal(await passwordInput.getAttribute('autocomplete'), passwordAutocomplete);
        assert.equal(await passwordInput.getAttribute('type'), 'password');
        assert.ok(await page.evaluate(() => [...document.querySelectorAll('main input')]
          .every((input) => input.labels.length === 1)), 'every input has its label');

        const toggle = page.getByRole('button', { name: 'Show password' });
        assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
        assert.equal(await toggle.getAttribute('type'), 'button', 'the toggle never submits');
        await passwordInput.fill('secret value');
        await toggle.click();
        assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
        assert.equal(await passwordInput.getAttribute('type'), 'text');
        await toggle.click();
        assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
        assert.equal(await passwordInput.getAttribute('type'), 'password');
        assert.equal(await passwordInput.inputValue(), 'secret value');

        // One h1 per screen, alerts in place before they speak.
        assert.equal(await page.locator('h1').count(), 1);
        assert.equal(await page.locator('form [role="alert"]').count(), 1);
      }
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('serves every screen under the CSP with no inline code and no violations', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('csp');
      const password = strongPassword();
      for (const path of ['/', '/login', '/register', '/dashboard']) {
        const response = await page.goto(path);
        const csp = response.headers()['content-security-policy'] ?? '';
        assert.match(csp, /default-src 'self'/, `${path} has a CSP`);
        await page.locator('h1').waitFor();
      }
      await page.goto('/register');
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await waitForText(page.getByRole('status'), 'Account created');
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await waitForHeading(page, DASHBOARD_HEADING(username));

      const inline = await page.evaluate(() => ({
        scripts: [...document.scripts].filter((s) => !s.src).length,
        styleAttributes: document.querySelectorAll('[style]').length,
        styleElements: document.querySelectorAll('style').length,
        storage: localStorage.length + sessionStorage.length,
        cookieVisible: document.cookie.includes('latchkey'),
      }));
      assert.deepEqual(inline, {
        scripts: 0, styleAttributes: 0, styleElements: 0, storage: 0, cookieVisible: false,
      });
      tab.assertClean();

      // The watcher itself works: an inline script is refused and reported.
      await page.evaluate(() => {
        const script = document.createElement('script');
        script.textContent = 'window.__inlineRan = true;';
        document.body.append(script);
      });
      await page.waitForTimeout(100);
      assert.equal(await page.evaluate(() => window.__inlineRan ?? false), false);
      assert.ok(tab.problems.some((p) => p.includes('CSP violation')), tab.problems.join('\n'));
    } finally {
      await tab.close();
    }
  });
});
