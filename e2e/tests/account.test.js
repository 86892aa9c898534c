// Account management on the dashboard: change password, the sessions list (sign out one device,
// all others, seen from other browser contexts), recent activity, deleting the account, and the
// busy, error and keyboard behaviour of all of them.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, apiCall } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText, focused,
  FIREFOX_WINDOWS, SAFARI_IPHONE,
} from '../helpers/browser.js';
import { register, login, registerAndLogin, DASHBOARD_HEADING } from '../helpers/flows.js';

const SESSIONS = '[aria-labelledby="section-sessions-title"]';
const ACTIVITY = '[aria-labelledby="section-activity-title"]';
const SESSION_ENDED = 'Your session has ended';

/** Logs an existing user in from a fresh context's login screen. */
async function loginFresh(page, username, password) {
  await page.goto('/login');
  await waitForHeading(page, 'Log in to your account');
  await login(page, username, password);
  await page.waitForURL('**/dashboard');
  await waitForHeading(page, DASHBOARD_HEADING(username));
}

/** The login screen, with the notice that says the session ended (not "log in to see …"). */
async function assertSessionEnded(page) {
  await page.waitForURL('**/login?next=/dashboard');
  await waitForHeading(page, 'Log in to your account');
  await waitForText(page.getByRole('status'), SESSION_ENDED);
}

/** Logging in again from that screen goes back to the dashboard. */
async function loginAgain(page, username, password) {
  await login(page, username, password);
  await page.waitForURL('**/dashboard');
  await waitForHeading(page, DASHBOARD_HEADING(username));
}

/** Waits until the sessions list shows `count` rows. */
async function sessionRows(page, count) {
  await page.waitForFunction(
    ([sel, n]) => document.querySelectorAll(`${sel} li`).length === n,
    [SESSIONS, count],
  );
  return page.locator(`${SESSIONS} li`);
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
      const submit = page.getByRole('button', { name: 'Change password' });
      assert.equal(await current.getAttribute('autocomplete'), 'current-password');
      assert.equal(await fresh.getAttribute('autocomplete'), 'new-password');
      assert.ok(await page.evaluate(() => [...document.querySelectorAll('main input')]
        .every((input) => input.labels.length === 1)), 'every input on the dashboard has its label');

      // The show toggles say which password they show.
      const showNew = page.getByRole('button', { name: 'Show new password' });
      await fresh.fill('visible words');
      await showNew.click();
      assert.equal(await fresh.getAttribute('type'), 'text');
      assert.equal(await showNew.getAttribute('aria-pressed'), 'true');

      // Empty: both fields say what is missing, in words, and nothing is sent.
      await fresh.fill('');
      await submit.click();
      await waitForText(page.locator('#password-current-error'), 'Enter your current password.');
      await waitForText(page.locator('#password-new-error'), 'Enter a new password.');
      assert.equal((await focused(page)).id, 'password-current');
      assert.equal(tab.apiRequests.filter((r) => r.path === '/api/me/password').length, 0);

      // Wrong current password: next to that field, focus there.
      await current.fill('not my password at all');
      await fresh.fill(next);
      await submit.click();
      await waitForText(page.locator('#password-current-error'), 'This is not your current password.');
      assert.equal(await current.getAttribute('aria-invalid'), 'true');
      assert.equal(await fresh.getAttribute('aria-invalid'), null);
      assert.equal((await focused(page)).id, 'password-current');
      assert.ok((await current.getAttribute('aria-describedby')).split(' ').includes('password-current-error'));

      // A weak new password: zxcvbn's advice next to the new-password field.
      await current.fill(password);
      await fresh.fill('password123');
      await submit.click();
      await waitForText(page.locator('#password-new-error'), 'too easy to guess');
      assert.match(await page.locator('#password-new-error').textContent(),
        /^Password is too easy to guess\. .+/, 'the advice is shown');
      assert.equal((await focused(page)).id, 'password-new');

      // Success: a message, the form cleared and the passwords hidden again.
      await fresh.fill(next);
      await submit.click();
      await waitForText(page.getByRole('status').filter({ hasText: 'Password changed' }), 'Password changed');
      assert.equal(await current.inputValue(), '', 'the form is cleared');
      assert.equal(await fresh.getAttribute('type'), 'password');
      assert.equal(await showNew.getAttribute('aria-pressed'), 'false');
      assert.equal(await page.locator('#password-current-error').textContent(), '');

      // The old password no longer logs in, the new one does.
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

  it('says when to retry after too many wrong current passwords (429)', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('thr');
      await registerAndLogin(page, username, strongPassword());
      await page.getByLabel('New password').fill(strongPassword());
      const alert = page.locator('[aria-labelledby="section-password-title"] [role="alert"]');
      let last;
      for (let attempt = 1; attempt <= 8; attempt += 1) {
        await page.getByLabel('Current password').fill(`wrong password ${attempt}`);
        const answer = page.waitForResponse((r) => r.url().endsWith('/api/me/password'));
        await page.getByRole('button', { name: 'Change password' }).click();
        last = await answer;
        if (last.status() === 429) break;
        assert.equal(last.status(), 403);
      }
      assert.equal(last.status(), 429, 'the account throttle answers 429 after repeated failures');
      await waitForText(alert, 'Please try again in');
      assert.match(await alert.textContent(),
        /^Too many failed attempts for this account\. Please try again in \d+ seconds?\.$/);
      assert.equal((await focused(page)).tag, 'div', 'the alert takes focus');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('lists the sessions and signs another device out; its next action lands on login', async () => {
    const a = await openPage(browser, server);
    const b = await openPage(browser, server, { userAgent: FIREFOX_WINDOWS });
    try {
      const username = uniqueUsername('dev');
      const password = strongPassword();
      await registerAndLogin(a.page, username, password);
      await loginFresh(b.page, username, password);
      // A learns about B from other sections' changes or a reload; here, a reload.
      await a.page.reload();
      await waitForHeading(a.page, DASHBOARD_HEADING(username));

      const rows = await sessionRows(a.page, 2);
      const mine = rows.first();
      await waitForText(mine, 'This device');
      await waitForText(mine.locator('.item-title'), 'Chrome on Linux');
      await waitForText(mine, '127.0.0.1');
      for (const label of ['IP address', 'Signed in', 'Last active', 'Expires']) {
        await waitForText(mine.locator('dt'), label);
      }
      const times = await mine.locator('time').evaluateAll((els) => els.map((t) => [t.dateTime, t.title]));
      assert.equal(times.length, 3);
      for (const [iso, title] of times) {
        assert.match(iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        assert.match(title, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/, 'the exact UTC time is available');
      }

      const other = rows.filter({ hasNotText: 'This device' });
      await waitForText(other.locator('.item-title'), 'Firefox on Windows');
      assert.equal(await other.locator('.item-title span').first().getAttribute('title'), FIREFOX_WINDOWS);
      await other.getByText('User agent').click();
      assert.equal(await other.locator('code').textContent(), FIREFOX_WINDOWS);
      // Each button says which session it ends.
      assert.equal(await mine.getByRole('button').getAttribute('aria-label'), 'Sign out this device');
      const revoke = other.getByRole('button', { name: /^Sign out Firefox on Windows, signed in / });
      await revoke.click();
      await waitForText(a.page.locator(`${SESSIONS} [role="status"]`), 'Signed out Firefox on Windows.');
      await sessionRows(a.page, 1);
      assert.equal(await a.page.getByRole('button', { name: 'Sign out all other sessions' }).isHidden(), true);
      assert.equal((await focused(a.page)).id, 'section-sessions-title', 'focus stays in the section');
      // The activity refreshed by itself.
      await waitForText(a.page.locator(`${ACTIVITY} li`).first(), 'A session was signed out');

      // B's next action (changing its password) finds the session gone: login, with the notice,
      // and back to the dashboard after logging in.
      await b.page.getByLabel('Current password').fill(password);
      await b.page.getByLabel('New password').fill(strongPassword());
      await b.page.getByRole('button', { name: 'Change password' }).click();
      await assertSessionEnded(b.page);
      await loginAgain(b.page, username, password);

      a.assertClean();
      b.assertClean();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('says so when a session was already signed out elsewhere (404)', async () => {
    const a = await openPage(browser, server);
    const b = await openPage(browser, server, { userAgent: SAFARI_IPHONE });
    try {
      const username = uniqueUsername('gone');
      const password = strongPassword();
      await registerAndLogin(b.page, username, password);
      await loginFresh(a.page, username, password);
      const rows = await sessionRows(a.page, 2);
      await waitForText(rows.last().locator('.item-title'), 'Safari on iOS');

      // B logs out by itself; A's list is now stale.
      await b.page.getByRole('button', { name: 'Log out' }).click();
      await b.page.waitForURL('**/login');
      await rows.last().getByRole('button', { name: /^Sign out Safari on iOS/ }).click();
      await waitForText(a.page.locator(`${SESSIONS} [role="status"]`), 'had already ended');
      await sessionRows(a.page, 1);
      assert.equal(await a.page.locator(`${SESSIONS} [role="alert"]`).textContent(), '');
      a.assertClean();
      b.assertClean();
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('signs out all other sessions, and a password change does too, but not this one', async () => {
    const a = await openPage(browser, server);
    const b = await openPage(browser, server, { userAgent: FIREFOX_WINDOWS });
    const c = await openPage(browser, server, { userAgent: SAFARI_IPHONE });
    try {
      const username = uniqueUsername('all');
      const password = strongPassword();
      await registerAndLogin(a.page, username, password);
      await loginFresh(b.page, username, password);
      await loginFresh(c.page, username, password);
      await a.page.reload();
      await sessionRows(a.page, 3);

      // Slow the request down to see the busy button; a double click sends one request.
      await a.page.route('**/api/me/sessions', async (route) => {
        if (route.request().method() === 'DELETE') await new Promise((r) => setTimeout(r, 300));
        await route.continue();
      });
      const others = a.page.getByRole('button', { name: 'Sign out all other sessions' });
      await others.dblclick();
      await waitForText(a.page.locator(`${SESSIONS} button[aria-disabled="true"]`), 'Signing out…');
      await waitForText(a.page.locator(`${SESSIONS} [role="status"]`), 'Every other session has been signed out.');
      await a.page.unroute('**/api/me/sessions');
      const deletes = a.apiRequests.filter((r) => r.method === 'DELETE' && r.path === '/api/me/sessions');
      assert.equal(deletes.length, 1, 'one request for a double click');
      await sessionRows(a.page, 1);
      assert.equal((await focused(a.page)).id, 'section-sessions-title');

      // B reloads the dashboard, C acts: both land on login and are told why.
      await b.page.reload();
      await assertSessionEnded(b.page);
      await c.page.getByRole('button', { name: 'Sign out all other sessions' }).click();
      await assertSessionEnded(c.page);

      // B logs back in, then A changes the password: B is out again, A stays, and A's list
      // refreshes by itself.
      await loginAgain(b.page, username, password);
      await a.page.reload();
      await sessionRows(a.page, 2);
      const next = strongPassword();
      await a.page.getByLabel('Current password').fill(password);
      await a.page.getByLabel('New password').fill(next);
      await a.page.getByRole('button', { name: 'Change password' }).click();
      await waitForText(a.page.getByRole('status').filter({ hasText: 'Password changed' }), 'Password changed');
      await sessionRows(a.page, 1);
      await waitForText(a.page.locator(`${ACTIVITY} li`).first(), 'Password changed');
      await b.page.reload();
      await assertSessionEnded(b.page);
      await a.page.reload();
      await waitForHeading(a.page, DASHBOARD_HEADING(username));
      await sessionRows(a.page, 1);
      a.assertClean();
      b.assertClean();
      c.assertClean();
    } finally {
      await a.close();
      await b.close();
      await c.close();
    }
  });

  it('shows a failed request in the section, and Try again', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    try {
      const username = uniqueUsername('net');
      const password = strongPassword();
      await register(page, username, password);
      // The activity list cannot be fetched: the section says so and offers to retry.
      await page.route('**/api/me/events', (route) => route.abort('connectionrefused'));
      await login(page, username, password);
      await waitForHeading(page, DASHBOARD_HEADING(username));
      const alert = page.locator(`${ACTIVITY} [role="alert"]`);
      await waitForText(alert, 'Could not reach the Latchkey server.');
      await page.unroute('**/api/me/events');
      await page.locator(ACTIVITY).getByRole('button', { name: 'Try again' }).click();
      await waitForText(page.locator(`${ACTIVITY} li`).first(), 'Signed in');
      assert.equal(await alert.textContent(), '');

      // An action whose request fails: the message in the section, focus on it.
      await page.route('**/api/me/sessions/*', (route) => route.abort('connectionrefused'));
      await page.locator(SESSIONS).getByRole('button', { name: 'Sign out this device' }).click();
      const sessionsAlert = page.locator(`${SESSIONS} [role="alert"]`);
      await waitForText(sessionsAlert, 'Could not reach the Latchkey server.');
      assert.equal(await sessionsAlert.evaluate((el) => el === document.activeElement), true);
      assert.match(page.url(), /\/dashboard$/);
      await page.unroute('**/api/me/sessions/*');

      // Signing out this device from the list logs out.
      await page.locator(SESSIONS).getByRole('button', { name: 'Sign out this device' }).click();
      await page.waitForURL('**/login');
      await waitForText(page.getByRole('status'), 'You have been logged out');
      assert.deepEqual(tab.problems.filter((p) => !p.includes('ERR_CONNECTION_REFUSED')), []);
    } finally {
      await tab.close();
    }
  });

  it('shows the recent activity newest first, in words, with local and UTC times', async () => {
    const tab = await openPage(browser, server, { timezoneId: 'America/New_York' });
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
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL('**/login');
      await login(page, username, password);
      await page.waitForURL('**/dashboard');

      const items = page.locator(`${ACTIVITY} li`);
      await items.nth(4).waitFor();
      const rows = await items.evaluateAll((lis) => lis.map((li) => [
        li.dataset.kind, li.querySelector('.item-title').textContent,
      ]));
      assert.deepEqual(rows, [
        ['login', 'Signed in'],
        ['logout', 'Signed out'],
        ['login', 'Signed in'],
        ['login_failed', 'Failed sign-in attempt'],
        ['registered', 'Account created'],
      ]);
      await waitForText(items.first(), '127.0.0.1');
      await waitForText(items.first(), 'Chrome on Linux');
      // Local time in the text (New York here), the exact UTC instant in datetime and title.
      const time = items.first().locator('time');
      const iso = await time.getAttribute('datetime');
      assert.match(iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(await time.getAttribute('title'), `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`);
      const local = new Intl.DateTimeFormat('en-US', {
        dateStyle: 'medium', timeStyle: 'short', timeZone: 'America/New_York',
      }).format(new Date(iso));
      assert.equal(await time.textContent(), local);

      // A long history shows the newest eight, then all of them on request.
      for (let i = 0; i < 5; i += 1) {
        assert.equal((await apiCall(server, 'POST', '/api/login', { username, password })).status, 200);
      }
      await page.reload();
      await items.nth(9).waitFor({ state: 'attached' });
      const more = page.locator(ACTIVITY).getByRole('button', { name: 'Show all 10 events' });
      assert.equal(await page.locator(`${ACTIVITY} li:visible`).count(), 8);
      assert.equal(await more.getAttribute('aria-expanded'), 'false');
      await more.click();
      assert.equal(await page.locator(`${ACTIVITY} li:visible`).count(), 10);
      const expanded = page.locator(ACTIVITY).getByRole('button', { name: 'Show fewer' });
      assert.equal(await expanded.getAttribute('aria-expanded'), 'true');
      assert.equal(await page.evaluate(() => document.activeElement.matches('li')), true,
        'focus moves to the first newly shown event');
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });

  it('deletes the account only after the password, keyboard only', async () => {
    const tab = await openPage(browser, server);
    const { page } = tab;
    const { keyboard } = page;
    try {
      const username = uniqueUsername('bye');
      const password = strongPassword();
      await registerAndLogin(page, username, password);
      await sessionRows(page, 1);
      const open = page.getByRole('button', { name: 'Delete account…' });

      // From the heading, Tab through the dashboard until the delete button.
      assert.equal((await focused(page)).id, 'dashboard-title');
      let presses = 0;
      while ((await focused(page)).text !== 'Delete account…') {
        presses += 1;
        assert.ok(presses < 40, 'Tab reaches "Delete account…"');
        await keyboard.press('Tab');
      }
      assert.equal(await open.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.locator('#delete-confirm').isHidden(), true);

      // Enter opens the confirmation with focus in the password; Escape closes it, focus back.
      await keyboard.press('Enter');
      assert.equal(await open.getAttribute('aria-expanded'), 'true');
      assert.equal((await focused(page)).id, 'delete-password');
      await keyboard.type('typed then abandoned');
      await keyboard.press('Escape');
      assert.equal(await open.getAttribute('aria-expanded'), 'false');
      assert.equal(await page.locator('#delete-confirm').isHidden(), true);
      assert.equal((await focused(page)).text, 'Delete account…');

      // Space opens it again, empty. Nothing typed: the field says what is missing.
      await keyboard.press('Space');
      assert.equal(await page.locator('#delete-password').inputValue(), '');
      await keyboard.press('Enter');
      await waitForText(page.locator('#delete-password-error'), 'Enter your password to confirm.');

      // A wrong password: the error next to the field, focus there, the account stays.
      await keyboard.type('not the password');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Show password');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Delete my account');
      await keyboard.press('Enter');
      await waitForText(page.locator('#delete-password-error'), 'This is not your password.');
      assert.equal((await focused(page)).id, 'delete-password');

      // Cancel (Tab, Tab, Tab, Enter) closes it and keeps the account.
      await keyboard.press('Tab');
      await keyboard.press('Tab');
      await keyboard.press('Tab');
      assert.equal((await focused(page)).text, 'Cancel');
      await keyboard.press('Enter');
      assert.equal(await page.locator('#delete-confirm').isHidden(), true);
      assert.equal((await focused(page)).text, 'Delete account…');
      await page.reload();
      await waitForHeading(page, DASHBOARD_HEADING(username));
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 200);

      // The real thing.
      await open.focus();
      await keyboard.press('Enter');
      await keyboard.type(password);
      await keyboard.press('Enter');
      await page.waitForURL('**/login');
      await waitForText(page.getByRole('status'), 'Your account was deleted.');
      assert.equal((await focused(page)).id, 'login-title');
      assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
      assert.equal((await apiCall(server, 'POST', '/api/login', { username, password })).status, 401);

      // The name is free again.
      await register(page, username, strongPassword());
      tab.assertClean();
    } finally {
      await tab.close();
    }
  });
});
