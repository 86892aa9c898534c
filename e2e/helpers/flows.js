// Screen-level steps shared by the tests, written the way a user works the forms.

import { waitForHeading } from './browser.js';

export const DASHBOARD_HEADING = (username) => `You are logged in as ${username}!`;

export async function register(page, username, password) {
  await page.goto('/register');
  await waitForHeading(page, 'Create an account');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL('**/login');
  await waitForHeading(page, 'Log in to your account');
}

export async function login(page, username, password) {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

export async function registerAndLogin(page, username, password) {
  await register(page, username, password);
  await login(page, username, password);
  await page.waitForURL('**/dashboard');
  await waitForHeading(page, DASHBOARD_HEADING(username));
}
