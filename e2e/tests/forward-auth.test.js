// Forward-auth in a real browser, behind the real proxies: headless Chromium visits an app that
// nginx (then Caddy) protects with Latchkey, started from deploy/forward-auth/*, in the
// README's shape: the app on app.fa.localhost, Latchkey on auth.fa.localhost (one proxy, one
// port; Chromium resolves *.localhost to loopback), the session cookie's Domain fa.localhost
// (LATCHKEY_COOKIE_DOMAIN) so that it reaches the app.
//
// Without nginx or Caddy the tests skip loudly, except in CI (CI=true), where that fails.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, apiCall } from '../helpers/server.js';
import {
  launchBrowser, openPage, uniqueUsername, strongPassword, waitForHeading, waitForText,
} from '../helpers/browser.js';
import { login, DASHBOARD_HEADING } from '../helpers/flows.js';
import { freePort, proxyBinary, startProxy, startUpstream } from '../helpers/proxies.js';

for (const kind of ['nginx', 'caddy']) {
  const missing = proxyBinary(kind) === null;
  if (missing) {
    if (process.env.CI === 'true') throw new Error(`${kind} is not installed: CI must run this test`);
    console.warn(`\n${'#'.repeat(72)}\n# SKIPPED: forward-auth behind ${kind}: not installed `
      + `(apt-get install -y ${kind}, or scripts/e2e installs it)\n${'#'.repeat(72)}\n`);
  }

  describe(`forward-auth behind ${kind}`, { skip: missing }, () => {
    let server;
    let browser;
    let upstream;
    let proxy;
    before(async () => {
      const port = await freePort();
      upstream = await startUpstream();
      server = await startServer({
        LATCHKEY_PUBLIC_URL: `http://auth.fa.localhost:${port}`,
        LATCHKEY_COOKIE_DOMAIN: 'fa.localhost',
        LATCHKEY_COOKIE_SECURE: 'false',
        LATCHKEY_TRUSTED_PROXIES: '127.0.0.1',
      });
      proxy = await startProxy(kind, {
        port,
        appHost: 'app.fa.localhost',
        authHost: 'auth.fa.localhost',
        upstreamPort: upstream.port,
        latchkeyPort: server.port,
      });
      // Chromium would try ::1 for *.localhost too; the proxies listen on 127.0.0.1 only.
      browser = await launchBrowser({ args: ['--host-resolver-rules=MAP *.localhost 127.0.0.1'] });
    });
    after(async () => {
      await browser?.close();
      await proxy?.stop();
      await server?.stop();
      await upstream?.stop();
    });

    it('sends a visitor to log in and back, passes the user upstream, and closes at logout', async () => {
      const tab = await openPage(browser, { url: proxy.authUrl });
      const { page } = tab;
      try {
        const username = uniqueUsername('fa');
        const password = strongPassword();
        assert.equal((await apiCall(server, 'POST', '/api/register', { username, password })).status, 201);
        const original = `${proxy.appUrl}/reports/week?n=48&sort=desc`;

        // Logged out: the app's page load ends on Latchkey's login screen, carrying the URL.
        await page.goto(original);
        await page.waitForURL((url) => url.origin === proxy.authUrl && url.pathname === '/login');
        assert.equal(new URL(page.url()).searchParams.get('rd'), original);
        await waitForHeading(page, 'Log in to your account');
        assert.equal(upstream.hits, 0, 'nothing reached the app');

        // Logging in returns to the original URL, and the app greets the user Latchkey named:
        // the session cookie is the parent domain's, so the browser sends it to the app.
        await login(page, username, password);
        await page.waitForURL(original);
        const cookies = await tab.context.cookies();
        assert.deepEqual(
          cookies.map((c) => [c.name, c.domain, c.httpOnly]),
          [['latchkey_session', '.fa.localhost', true]],
        );
        await waitForText(page.locator('#who'), `Hello, ${username}`);
        assert.equal(await page.locator('#path').textContent(), '/reports/week?n=48&sort=desc');

        // The app's own scripts pass too, and a Remote-User they forge is overwritten.
        const call = await page.evaluate(async () => {
          const res = await fetch('/api/data', { headers: { 'Remote-User': 'admin' } });
          return { status: res.status, body: await res.json() };
        });
        assert.equal(call.status, 200);
        assert.equal(call.body.headers['remote-user'], username);
        // A script's call without the session gets 401, not the login page.
        const anonymous = await page.evaluate(async () => {
          const res = await fetch('/api/data', { credentials: 'omit' });
          return { status: res.status, redirected: res.redirected, url: res.url };
        });
        assert.equal(anonymous.status, 401);
        assert.equal(anonymous.redirected, false);

        // Logging out in Latchkey closes the app at once.
        await page.goto(`${proxy.authUrl}/dashboard`);
        await waitForHeading(page, DASHBOARD_HEADING(username));
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL('**/login');
        const hits = upstream.hits;
        await page.goto(original);
        await page.waitForURL((url) => url.origin === proxy.authUrl && url.pathname === '/login');
        assert.equal(new URL(page.url()).searchParams.get('rd'), original);
        assert.equal(upstream.hits, hits, 'the logged-out page load did not reach the app');
        tab.assertClean();
      } finally {
        await tab.close();
      }
    });

    it('goes to the dashboard when the return URL is another site', async () => {
      const tab = await openPage(browser, { url: proxy.authUrl });
      const { page } = tab;
      try {
        const username = uniqueUsername('fa_rd');
        const password = strongPassword();
        assert.equal((await apiCall(server, 'POST', '/api/register', { username, password })).status, 201);
        await page.goto(`/login?rd=${encodeURIComponent('https://evil.example/')}`);
        await waitForHeading(page, 'Log in to your account');
        await login(page, username, password);
        await page.waitForURL(`${proxy.authUrl}/dashboard`);
        await waitForHeading(page, DASHBOARD_HEADING(username));
        tab.assertClean();
      } finally {
        await tab.close();
      }
    });
  });
}
