// Account management on the dashboard: change password, sessions (revoke one, sign out all
// others, seen from a second browser context), recent activity, and deleting the account.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
  PHONE,
} from '../helpers/browser.js';
import { register, login, registerAndLogin, DASHBOARD_HEADING } from '../helpers/flows.js';

const screenshots = process.env.E2E_SCREENSHOTS === '1'
  ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots')
  : null;

const SESSIONS = '[aria-labelledby="section-sessions-title"]';
const ACTIVITY = '[aria-labelledby="section-activity-title"]';

/** Logs an existing user in from a fresh context's login screen. */
async function loginFresh(page, username, password) {
  await page.goto('/login');
  await waitForHeading(page, 'Log in to your account');
  await login(page, username, password);
  await page.waitForURL('**/dashboard');
  await waitForHeading(page, DASHBOARD_HEADING(username));
}

/** B's next visit to the dashboard lands on the login screen: its session is gone. */
async function assertLoggedOut(page) {
  await page.goto('/dashboard');
  await page.waitForURL('**/login?next=/dashboard');
  await waitForHeading(page, 'Log in to your account');
}

describe('account management', () => {
  let server;
  let browser;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('changes the password, with errors next to the fields', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('pw');
      const password = strongPassword();
      const next = strongPassword();
      await registerAndLogin(page, username, password);
      const current = page.getByLabel('Current password');
      const fresh = page.getByLabel('New password');

      await current.fill('not my password at all');
      await fresh.fill(next);
      await page.getByRole('button', { name: 'Change password' }).click();
      await waitForText(page.locator('#password-current-error'), 'not your current password');
      assert.equal(await current.getAttribute('aria-invalid'), 'true');
      assert.equal((await focused(page)).id, 'password-current');

      await current.fill(password);
      await fresh.fill('password123');
      await page.getByRole('button', { name: 'Change password' }).click();
      await waitForText(page.locator('#password-new-error'), 'too easy to guess');

      await fresh.fill(next);
      await page.getByRole('button', { name: 'Change password' }).click();
      await waitForText(page.getByRole('status').filter({ hasText: 'Password changed' }), 'Password changed');
      assert.equal(await current.inputValue(), '', 'the form is cleared');

      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await login(page, username, password);
      await waitForText(page.getByRole('alert'), 'incorrect');
      await page.getByLabel('Password', { exact: true }).fill(next);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL('**/dashboard');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('lists sessions and signs another device out', async () => {
    const a = await openPage(browser, server);
    const b = await openPage(browser, server);
    try {
      const username = uniqueUsername('dev');
      const password = strongPassword();
      await registerAndLogin(a.page, username, password);
      await loginFresh(b.page, username, password);
      await a.page.reload();
      await waitForHeading(a.page, DASHBOARD_HEADING(username));

      const rows = a.page.locator(`${SESSIONS} li`);
      await rows.nth(1).waitFor();
      assert.equal(await rows.count(), 2);
      const mine = rows.filter({ hasText: 'This device' });
      assert.equal(await mine.count(), 1);
      await waitForText(mine, 'Chrome on Linux');
      await waitForText(mine, '127.0.0.1');

      const other = rows.filter({ hasNotText: 'This device' });
      await other.getByRole('button', { name: /^Sign out/ }).click();
      await waitForText(a.page.locator(`${SESSIONS} [role="status"]`), 'Signed out');
      await a.page.waitForFunction((sel) => document.querySelectorAll(`${sel} li`).length === 1, SESSIONS);

      await assertLoggedOut(b.page);
      // A is untouched, and the activity says what happened.
      await a.page.reload();
      await waitForHeading(a.page, DASHBOARD_HEADING(username));
      await waitForText(a.page.locator(`${ACTIVITY} li`).first(), 'A session was signed out');
      a.assertClean();
      b.assertClean();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('signs out all other sessions, and a password change does too', async () => {
    const a = await openPage(browser, server);
    const b = await openPage(browser, server);
    const c = await openPage(browser, server);
    try {
      const username = uniqueUsername('all');
      const password = strongPassword();
      await registerAndLogin(a.page, username, password);
      await loginFresh(b.page, username, password);
      await loginFresh(c.page, username, password);
      await a.page.reload();
      await a.page.locator(`${SESSIONS} li`).nth(2).waitFor();

      await a.page.getByRole('button', { name: 'Sign out all other sessions' }).click();
      await waitForText(a.page.locator(`${SESSIONS} [role="status"]`), 'Every other session');
      await assertLoggedOut(b.page);
      await assertLoggedOut(c.page);

      // Log B back in, then change the password on A: B is out again, A stays.
      await login(b.page, username, password);
      await b.page.waitForURL('**/dashboard');
      const next = strongPassword();
      await a.page.getByLabel('Current password').fill(password);
      await a.page.getByLabel('New password').fill(next);
      await a.page.getByRole('button', { name: 'Change password' }).click();
      await waitForText(a.page.getByRole('status').filter({ hasText: 'Password changed' }), 'Password changed');
      await assertLoggedOut(b.page);
      await a.page.reload();
      await waitForHeading(a.page, DASHBOARD_HEADING(username));
      // A's own sections see a 401 only if its session ended: it did not.
      assert.equal(await a.page.locator(`${SESSIONS} li`).count(), 1);
      a.assertClean();
      b.assertClean();
      c.assertClean();
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });

  it('shows the recent activity newest first', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('act');
      const password = strongPassword();
      await register(page, username, password);
      await login(page, username, 'a wrong password here');
      await waitForText(page.getByRole('alert'), 'incorrect');
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in', exact: true }).click();
      await page.waitForURL('**/dashboard');
      const items = page.locator(`${ACTIVITY} li`);
      await items.nth(2).waitFor();
      const kinds = await items.evaluateAll((lis) => lis.map((li) => li.dataset.kind));
      assert.deepEqual(kinds, ['login', 'login_failed', 'registered']);
      await waitForText(items.first(), 'Logged in');
      await waitForText(items.nth(1), 'Failed login attempt');
      const time = items.first().locator('time');
      assert.match(await time.getAttribute('datetime'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('deletes the account only after the password, with the keyboard', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('bye');
      const password = strongPassword();
      await registerAndLogin(page, username, password);
      const open = page.getByRole('button', { name: 'Delete account…' });

      // Open with the keyboard, cancel with Escape: nothing happens, focus returns.
      await open.focus();
      await page.keyboard.press('Enter');
      assert.equal(await open.getAttribute('aria-expanded'), 'true');
      assert.equal((await focused(page)).id, 'delete-password');
      await page.keyboard.press('Escape');
      assert.equal(await open.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.locator('#delete-confirm').isHidden(), true);
      assert.equal((await focused(page)).tag, 'button');

      // Wrong password: an error next to the field, the account stays.
      await page.keyboard.press('Enter');
      await page.keyboard.type('not the password');
      await page.keyboard.press('Enter');
      await waitForText(page.locator('#delete-password-error'), 'not your password');

      if (screenshots) {
        for (const [name, viewport] of [['desktop', null], ['phone', PHONE]]) {
          if (viewport) await page.setViewportSize(viewport);
          await page.screenshot({ path: path.join(screenshots, `dashboard-account-${name}.png`), fullPage: true });
        }
        await page.setViewportSize({ width: 1280, height: 800 });
      }

      await page.locator('#delete-password').fill(password);
      await page.keyboard.press('Enter');
      await page.waitForURL('**/login');
      await waitForText(page.getByRole('status'), 'Your account was deleted');
      const me = await page.evaluate(async () => (await fetch('/api/me')).status);
      assert.equal(me, 401);

      // The name is free again.
      await register(page, username, strongPassword());
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });
});
