// Every screen at desktop (1280×800) and phone (375×740) widths: nothing may overflow
// sideways (at 320 px either), and each screen is photographed; the dashboard's account
// sections (two sessions, the activity, the delete confirmation open) as a full-page picture;
// two-step verification (the set-up with its QR code, the recovery codes, the login's second
// step); passkeys (the login screen's passkey button, the dashboard's Passkeys section, at
// http://localhost:PORT with a virtual authenticator). With E2E_SCREENSHOTS=1 the pictures replace docs/screenshots/*.png; otherwise they go
// to e2e/test-results/screenshots/ (not committed). Each width gets its own fresh server so the
// pictures show the same user, "alice".

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../helpers/server.js';
import {
  launchBrowser, openPage, DESKTOP, PHONE, FIREFOX_WINDOWS, waitForHeading, waitForText,
} from '../helpers/browser.js';
import { DASHBOARD_HEADING, login, registerAndLogin } from '../helpers/flows.js';
import { totp } from '../helpers/totp.js';
import { addAuthenticator, atLocalhost, withoutAutofill } from '../helpers/webauthn.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const outDir = process.env.E2E_SCREENSHOTS === '1'
  ? path.resolve(here, '../../docs/screenshots')
  : path.resolve(here, '../test-results/screenshots');

const USERNAME = 'alice';
const TWO_STEP = '[aria-labelledby="section-two-step-title"]';
const PASSKEYS = 'article[aria-labelledby="section-passkeys-title"]';
const PASSWORD = 'correct horse battery staple';

const viewportHeight = (page) => page.viewportSize().height;

async function shoot(page, name, save = true, fullPage = false) {
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the viewport`);
  if (!save) return;
  await page.mouse.move(0, viewportHeight(page) - 1); // no hover effects in the picture
  await page.screenshot({
    path: path.join(outDir, `${name}.png`), animations: 'disabled', caret: 'hide', fullPage,
  });
}

/** One dashboard section (and a margin of the page around it), as a picture of its own. */
async function shootSection(page, name, section, save = true) {
  await shoot(page, name, false); // the overflow check
  if (!save) return;
  await page.mouse.move(0, viewportHeight(page) - 1);
  const box = await section.boundingBox();
  const scrollY = await page.evaluate(() => window.scrollY);
  const margin = 12;
  const width = page.viewportSize().width;
  await page.screenshot({
    path: path.join(outDir, `${name}.png`),
    animations: 'disabled',
    caret: 'hide',
    fullPage: true,
    clip: {
      x: Math.max(0, box.x - margin),
      y: Math.max(0, box.y + scrollY - margin),
      width: Math.min(width, box.width + 2 * margin),
      height: box.height + 2 * margin,
    },
  });
}

/** Two-step verification: the set-up (QR code), the recovery codes, the login's second step. */
async function twoStepScreens(browser, viewport, suffix, colorScheme = 'light', save = true) {
  const server = await startServer();
  const tab = await openPage(browser, server, { viewport, colorScheme });
  const { page } = tab;
  try {
    await registerAndLogin(page, USERNAME, PASSWORD);
    const section = page.locator(TWO_STEP);
    await section.getByRole('button', { name: 'Set up two-step verification…' }).click();
    await page.getByLabel('Your password', { exact: true }).fill(PASSWORD);
    await section.getByRole('button', { name: 'Continue' }).click();
    await section.locator('.qr svg').waitFor();
    await shootSection(page, `two-step-setup-${suffix}`, section, save);

    const secret = (await section.locator('.secret').textContent()).replace(/\s/g, '');
    await page.getByLabel('Code from the app', { exact: true }).fill(totp(secret));
    await section.getByRole('button', { name: 'Turn on two-step verification' }).click();
    await section.locator('.recovery-codes li').nth(9).waitFor();
    await shootSection(page, `two-step-codes-${suffix}`, section, save);
    await section.getByRole('button', { name: 'I have saved them' }).click();
    await waitForText(section.locator('[data-slot="left"]'), '10 of 10');
    await shootSection(page, `two-step-on-${suffix}`, section, false);

    await page.getByRole('button', { name: 'Log out' }).click();
    await waitForText(page.getByRole('status'), 'You have been logged out');
    await login(page, USERNAME, PASSWORD);
    await waitForHeading(page, 'Two-step verification');
    await page.locator('h1').focus(); // no focus ring in the picture
    await shoot(page, `login-second-factor-${suffix}`, save);
    tab.assertClean();
  } finally {
    await tab.close();
    await server.stop();
  }
}

/**
 * Passkeys: the login screen with "Sign in with a passkey", and the dashboard's section with a
 * passkey that signed in. At http://localhost:PORT (WebAuthn refuses IP addresses), with a
 * virtual authenticator and no autofill (which would sign in as soon as the login screen shows).
 */
async function passkeyScreens(browser, viewport, suffix, colorScheme = 'light', save = true) {
  const server = await startServer();
  const tab = await openPage(browser, atLocalhost(server), { viewport, colorScheme });
  const { page } = tab;
  try {
    await withoutAutofill(tab.context);
    await addAuthenticator(page);
    await registerAndLogin(page, USERNAME, PASSWORD);
    const section = page.locator(PASSKEYS);
    await section.getByRole('button', { name: 'Add a passkey…' }).click();
    await page.locator('#passkeys-add-password').fill(PASSWORD);
    await page.getByLabel('Name (optional)').fill('Laptop');
    await section.getByRole('button', { name: 'Add passkey', exact: true }).click();
    await waitForText(section.getByRole('status'), 'added');

    await page.getByRole('button', { name: 'Log out' }).click();
    await waitForText(page.getByRole('status'), 'You have been logged out');
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    await page.locator('h1').focus(); // no focus ring in the picture
    await shoot(page, `login-passkey-${suffix}`, save);

    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await waitForHeading(page, DASHBOARD_HEADING(USERNAME));
    await waitForText(section.locator('.item-meta'), 'Last used');
    await shootSection(page, `passkeys-${suffix}`, section, save);
    tab.assertClean();
  } finally {
    await tab.close();
    await server.stop();
  }
}

/**
 * Register → login notice → dashboard, photographed at one size and colour scheme. At
 * http://localhost:PORT, as users open it at a name: at an IP address the login screen would say
 * that passkeys cannot work there (and show the port, which changes every run).
 */
async function screens(browser, viewport, suffix, colorScheme = 'light', only = null) {
  const server = await startServer();
  const site = atLocalhost(server);
  const tab = await openPage(browser, site, { viewport, colorScheme });
  const { page } = tab;
  const want = (name) => !only || only.includes(name);
  try {
    await page.goto('/register');
    await waitForHeading(page, 'Create an account');
    // Errors next to their fields: a short username and a guessable password.
    await page.getByLabel('Username').fill('al');
    await page.getByLabel('Password', { exact: true }).fill('password123');
    await page.getByRole('button', { name: 'Create account' }).click();
    await waitForText(page.locator('#register-password-error'), 'too easy');
    await shoot(page, `register-errors-${suffix}`, want('register-errors'));

    await page.goto('/register');
    await waitForHeading(page, 'Create an account');
    await shoot(page, `register-${suffix}`, want('register'));

    await page.getByLabel('Username').fill(USERNAME);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await waitForText(page.getByRole('status'), 'Account created');
    await shoot(page, `login-${suffix}`, want('login'));

    // A wrong password: the error above the form.
    await page.getByLabel('Password', { exact: true }).fill('not my password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await waitForText(page.getByRole('alert'), 'incorrect');
    await shoot(page, `login-error-${suffix}`, want('login-error'));

    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await waitForHeading(page, DASHBOARD_HEADING(USERNAME));
    await page.locator(`${TWO_STEP} .badge`).waitFor(); // its status loaded: the same picture each time
    await shoot(page, `dashboard-${suffix}`, want('dashboard'));

    // The account sections in full: a second device signed in, the activity so far (created,
    // the failed attempt above, two sign-ins) and the delete confirmation open.
    const other = await openPage(browser, site, { userAgent: FIREFOX_WINDOWS });
    try {
      await other.page.goto('/login');
      await login(other.page, USERNAME, PASSWORD);
      await waitForHeading(other.page, DASHBOARD_HEADING(USERNAME));
      other.assertClean();
    } finally {
      await other.close();
    }
    await page.reload();
    await waitForHeading(page, DASHBOARD_HEADING(USERNAME));
    await page.locator('[aria-labelledby="section-sessions-title"] li').nth(1).waitFor();
    await page.locator('[aria-labelledby="section-activity-title"] li').nth(3).waitFor();
    await page.locator(`${TWO_STEP} .badge`).waitFor();
    await page.getByRole('button', { name: 'Delete account…' }).click();
    await page.getByLabel('Password', { exact: true }).waitFor();
    await page.locator('h1').focus(); // no focus ring in the picture
    await shoot(page, `dashboard-account-${suffix}`, want('dashboard-account'), true);
    tab.assertClean();
  } finally {
    await tab.close();
    await server.stop();
  }
}

describe('screenshots and layout', () => {
  let browser;
  before(async () => {
    await mkdir(outDir, { recursive: true });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  it('renders every screen at desktop width (1280×800)', async () => {
    await screens(browser, DESKTOP, 'desktop');
  });

  it('renders every screen at phone width (375×740)', async () => {
    await screens(browser, PHONE, 'phone');
  });

  it('fits a 320 px wide phone', async () => {
    await screens(browser, { width: 320, height: 640 }, 'narrow', 'light', []);
  });

  it('renders two-step verification: set-up, recovery codes, the login\'s second step', async () => {
    await twoStepScreens(browser, DESKTOP, 'desktop');
    await twoStepScreens(browser, PHONE, 'phone', 'light', false);
    await twoStepScreens(browser, { width: 320, height: 640 }, 'narrow', 'dark', false);
  });

  it('renders passkeys: the login screen\'s passkey button, the dashboard\'s Passkeys section', async () => {
    await passkeyScreens(browser, DESKTOP, 'desktop');
    await passkeyScreens(browser, PHONE, 'phone', 'light', false);
    await passkeyScreens(browser, { width: 320, height: 640 }, 'narrow', 'dark', false);
  });

  it('renders in the dark colour scheme', async () => {
    await screens(browser, DESKTOP, 'dark-desktop', 'dark', ['login', 'dashboard', 'dashboard-account']);
    await screens(browser, PHONE, 'dark-phone', 'dark', ['register-errors', 'dashboard-account']);
  });
});
