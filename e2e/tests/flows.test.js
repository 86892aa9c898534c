// The original app's journey and the router: register → login → dashboard → logout, redirects
// in both directions, reload, back/forward.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
} from '../helpers/browser.js';
import { register, login, registerAndLogin, DASHBOARD_HEADING } from '../helpers/flows.js';

describe('screens and navigation', () => {
  let server;
  let browser;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('registers, logs in, shows the dashboard and logs out', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('flow');
      const password = strongPassword();
      await register(page, username, password);

      // The login screen says the account exists and has the username filled in.
      await waitForText(page.getByRole('status'), 'Account created');
      assert.equal(await page.getByLabel('Username').inputValue(), username);
      assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
      assert.equal((await focused(page)).id, 'login-title', 'focus moves to the new screen heading');
      assert.equal(await page.title(), 'Log in · Latchkey');

      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.equal(
        (await page.locator('h1').textContent()).trim(),
        `You are logged in as ${username}!`,
      );
      assert.equal(await page.title(), 'Dashboard · Latchkey');
      await waitForText(page.locator('nav'), `Signed in as ${username}`);
      await waitForText(page.getByRole('region', { name: 'Your account' }), 'Account details');

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await waitForHeading(page, 'Log in to your account');
      await waitForText(page.getByRole('status'), 'You have been logged out');

      // The session is gone on the server too: the API says so and the dashboard is closed.
      const me = await page.evaluate(async () => (await fetch('/api/me')).status);
      assert.equal(me, 401);
      await page.goto('/dashboard');
      await page.waitForURL('**/login?next=/dashboard');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('sends / to the login screen when logged out and to the dashboard when logged in', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      await page.goto('/');
      await page.waitForURL('**/login');
      await waitForHeading(page, 'Log in to your account');

      const username = uniqueUsername('root');
      await registerAndLogin(page, username, strongPassword());
      await page.goto('/');
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('sends the dashboard to login while logged out, and back to the dashboard after login', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('next');
      const password = strongPassword();
      await register(page, username, password);

      await page.goto('/dashboard');
      await page.waitForURL('**/login?next=/dashboard');
      await waitForHeading(page, 'Log in to your account');
      await waitForText(page.getByRole('status'), 'Log in to see your dashboard');

      await login(page, username, password);
      await page.waitForURL('**/dashboard');
      await waitForHeading(page, DASHBOARD_HEADING(username));
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('sends the login and register screens to the dashboard while logged in', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('guard');
      await registerAndLogin(page, username, strongPassword());
      for (const path of ['/login', '/register', '/login?next=/dashboard']) {
        await page.goto(path);
        await page.waitForURL('**/dashboard');
        await waitForHeading(page, DASHBOARD_HEADING(username));
      }
      // An unvetted ?next= never leaves the app's own screens.
      await page.goto('/login?next=https://example.invalid/');
      await page.waitForURL('**/dashboard');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('keeps the user logged in across a reload of /dashboard', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('reload');
      const password = strongPassword();
      await register(page, username, password);
      await page.getByLabel('Keep me logged in on this device').check();
      const sent = page.waitForRequest((r) => r.url().endsWith('/api/login'));
      await login(page, username, password);
      const request = await sent;
      assert.equal(request.headers()['content-type'], 'application/json');
      assert.deepEqual(request.postDataJSON(), { username, password, remember: true });
      await waitForHeading(page, DASHBOARD_HEADING(username));

      // "Keep me logged in" gives a persistent, HttpOnly cookie.
      const cookie = (await tab.context.cookies()).find((c) => c.name.endsWith('latchkey_session'));
      assert.ok(cookie, 'a session cookie is set');
      assert.equal(cookie.httpOnly, true);
      assert.ok(cookie.expires > Date.now() / 1000 + 3600, 'the cookie outlives the browser session');

      await page.reload();
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.match(page.url(), /\/dashboard$/);
      // A new tab of the same browser session is logged in as well.
      const second = await tab.context.newPage();
      await second.goto('/dashboard');
      await waitForHeading(second, DASHBOARD_HEADING(username));
      await second.close();
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('follows links with the History API and supports back and forward', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      await page.goto('/login');
      await waitForHeading(page, 'Log in to your account');
      const documentId = await page.evaluate(() => {
        window.__sameDocument = Math.random();
        return window.__sameDocument;
      });

      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForURL('**/register');
      await waitForHeading(page, 'Create an account');
      assert.equal(await page.getByRole('link', { name: 'Create account' }).getAttribute('aria-current'), 'page');

      await page.goBack();
      await page.waitForURL('**/login');
      await waitForHeading(page, 'Log in to your account');
      await page.goForward();
      await page.waitForURL('**/register');
      await waitForHeading(page, 'Create an account');
      // No full page load happened on the way.
      assert.equal(await page.evaluate(() => window.__sameDocument), documentId);

      // Log in, log out, then Back: the dashboard does not come back.
      const username = uniqueUsername('back');
      const password = strongPassword();
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL('**/login');
      await login(page, username, password);
      await waitForHeading(page, DASHBOARD_HEADING(username));
      await page.getByRole('button', { name: 'Log out' }).click();
      await waitForHeading(page, 'Log in to your account');
      await page.goBack();
      await page.waitForURL(/\/(login|register)(\?.*)?$/);
      assert.notEqual(await page.locator('h1').textContent(), DASHBOARD_HEADING(username));
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });
});
