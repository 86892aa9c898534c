// Headless Chromium (the system's /usr/bin/chromium; playwright-core never downloads one) and
// pages that record everything that should not happen: console errors and warnings, uncaught
// exceptions, CSP violations, and failed loads of the SPA's own files.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 740 };

/** @param {{args?: string[]}} [options] extra command-line switches */
export function launchBrowser({ args = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      ...args,
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

// The SPA's expected API answers (401 from /api/me while logged out, 409, 422, 429 …) are
// logged by Chromium as "Failed to load resource"; those are the API doing its job. Any other
// console error (a static file that 404s, a CSP refusal, an exception) is a bug.
function isExpectedApiStatus(message) {
  const url = message.location()?.url ?? '';
  return /^Failed to load resource: the server responded with a status of [45]\d\d/.test(message.text())
    && new URL(url, 'http://x').pathname.startsWith('/api/');
}

/** User agents of other devices, for sessions that are not this Chromium. */
export const FIREFOX_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0';
export const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) '
  + 'AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

/**
 * A fresh browser context (own cookie jar) and page on the server; `userAgent` pretends to be
 * another browser, `timezoneId` another place (UTC by default).
 * @returns {Promise<{context, page, problems: string[], apiRequests: {method: string, path: string}[], assertClean(): void, close(): Promise<void>}>}
 */
export async function openPage(browser, server, {
  viewport = DESKTOP, colorScheme = 'light', userAgent, timezoneId = 'UTC',
} = {}) {
  const context = await browser.newContext({
    baseURL: server.url,
    viewport,
    colorScheme,
    reducedMotion: 'reduce',
    locale: 'en-US',
    timezoneId,
    ...(userAgent ? { userAgent } : {}),
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  const apiRequests = [];
  page.on('console', (message) => {
    const type = message.type();
    if (type !== 'error' && type !== 'warning') return;
    if (isExpectedApiStatus(message)) return;
    problems.push(`console.${type}: ${message.text()} (${message.location()?.url ?? ''})`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/api/')) apiRequests.push({ method: request.method(), path: url.pathname });
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/api/') && response.status() >= 400) {
      problems.push(`HTTP ${response.status()} for ${url.pathname}`);
    }
  });
  return {
    context,
    page,
    problems,
    apiRequests,
    assertClean() {
      assert.deepEqual(problems, [], 'the page logged errors or CSP violations');
    },
    close: () => context.close(),
  };
}

let counter = 0;

/** A username no other test (or run) uses: 3–32 characters, letters, digits and _. */
export function uniqueUsername(prefix = 'user') {
  counter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `${prefix}_${process.pid.toString(36)}${counter}${random}`.slice(0, 32);
}

/** A password zxcvbn scores 4: four random-ish words. */
export function strongPassword() {
  const words = ['lantern', 'quasar', 'velvet', 'orchid', 'tundra', 'mosaic', 'falcon', 'ember'];
  const pick = () => words[Math.floor(Math.random() * words.length)];
  return `${pick()}-${pick()}-${Math.random().toString(36).slice(2, 7)}-${pick()}`;
}

/** The text of the h1 once it reads `text` (waits for it). */
export async function waitForHeading(page, text) {
  await page.locator('h1', { hasText: text }).first().waitFor();
}

/** Waits until the element the locator finds contains `text`. */
export async function waitForText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor();
}

/** Everything that identifies the focused element, for keyboard assertions. */
export function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    return {
      tag: el?.tagName.toLowerCase(),
      id: el?.id || '',
      name: el?.getAttribute('name') || '',
      text: (el?.textContent || '').trim().replace(/\s+/g, ' '),
    };
  });
}
