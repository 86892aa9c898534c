// After login, back to the app that sent the user here. Forward-auth redirects a logged-out
// page load of a protected app to /login?rd=<the URL it wanted>; once logged in, the login
// screen goes there instead of the dashboard.
//
// This module does not judge the URL itself: the server holds the one rule (https, or http on a
// loopback host, to an allowed host or a subdomain of one; README "Protect another app") and
// GET /api/authz/return-url answers with the URL normalised, or null. Anything else (no rd, a
// refused URL, the server not answering) ends on the dashboard, which is always safe.
//
// Only after a login: a logged-in visit to /login?rd= goes to the dashboard, so a protected app
// that does not receive the session cookie (a wrong LATCHKEY_COOKIE_DOMAIN) shows the dashboard
// instead of bouncing between the two hosts forever.

import { request } from './api.js';

/** The vetted URL of this page's ?rd=, or null. */
export async function vettedReturnUrl() {
  const rd = new URLSearchParams(window.location.search).get('rd');
  if (!rd) return null;
  try {
    const answer = await request('GET', `/api/authz/return-url?rd=${encodeURIComponent(rd)}`);
    return typeof answer?.url === 'string' ? answer.url : null;
  } catch {
    return null;
  }
}

/**
 * Leaves for the vetted ?rd= with a full page load (it is another app, often another host);
 * resolves false, staying, when there is none.
 */
export async function leaveForReturnUrl() {
  const url = await vettedReturnUrl();
  if (!url) return false;
  window.location.assign(url);
  return true;
}
