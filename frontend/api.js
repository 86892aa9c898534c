// Talking to the Latchkey API. Every call goes through request(): same-origin, JSON in and
// out, the session cookie sent by the browser (HttpOnly: this code never sees it). A failure
// becomes a typed error: NetworkError when fetch itself fails, ApiError for any non-2xx
// answer, carrying the RFC 9457 problem (code, detail, per-field errors) and Retry-After.

import { PROBLEM } from './codes.js';

/** fetch() rejected: no answer at all (offline, server down, connection reset). */
export class NetworkError extends Error {
  constructor(cause) {
    super('The request did not reach the server.', { cause });
    this.name = 'NetworkError';
  }
}

/** The server answered with an error status; `problem` is its problem+json body. */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = typeof problem.code === 'string' ? problem.code : `http_${status}`;
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    /** @type {{field: string, code: string, message: string}[]} */
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    /** Seconds to wait before retrying, from Retry-After; null when absent. */
    this.retryAfter = retryAfter;
  }
}

/** Retry-After is an integer number of seconds (the contract); an HTTP date is tolerated. */
export function parseRetryAfter(value) {
  if (value == null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/**
 * One API call. Resolves with the parsed JSON body (null for 204), rejects with
 * NetworkError or ApiError.
 */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(path, init);
    text = await response.text();
  } catch (cause) {
    throw new NetworkError(cause);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  const retryAfter = parseRetryAfter(response.headers.get('Retry-After'));
  if (response.ok) {
    if (text && data === null) {
      throw new ApiError(response.status, {
        code: PROBLEM.unexpectedResponse,
        title: 'Unexpected response',
        detail: 'The server sent an answer this page does not understand.',
      }, retryAfter);
    }
    return data;
  }
  const problem = data && typeof data === 'object' && !Array.isArray(data)
    ? data
    : { title: response.statusText || 'Error' };
  throw new ApiError(response.status, problem, retryAfter);
}

/** The endpoints the screens use. Account-management calls go here as they are added. */
export const api = {
  me: () => request('GET', '/api/me'),
  register: (username, password) => request('POST', '/api/register', { username, password }),
  /** 200: the User (logged in); 202: a SecondFactorChallenge (the password was right, a code is next). */
  login: (username, password, remember) =>
    request('POST', '/api/login', { username, password, remember }),
  /** The login's second step: `{ code }`, `{ recovery_code }` or `{ passkey: { ceremony, credential } }`. */
  loginSecondFactor: (proof) => request('POST', '/api/login/second-factor', proof),
  /** The login's second step with a passkey: `{ ceremony, publicKey }` for navigator.credentials.get(). */
  startSecondFactorPasskey: () => request('POST', '/api/login/second-factor/passkey'),
  /** A sign-in with a passkey alone: `{ ceremony, publicKey, mediation }`. */
  startPasskeyLogin: () => request('POST', '/api/login/passkey/start'),
  /** 200: the User, logged in (a complete login, two-step verification or not). */
  finishPasskeyLogin: (ceremony, credential, remember) =>
    request('POST', '/api/login/passkey/finish', { ceremony, credential, remember }),
  logout: () => request('POST', '/api/logout'),
  changePassword: (currentPassword, newPassword) => request('PUT', '/api/me/password', {
    current_password: currentPassword,
    new_password: newPassword,
  }),
  deleteAccount: (password) => request('DELETE', '/api/me', { password }),
  sessions: () => request('GET', '/api/me/sessions'),
  revokeSession: (id) => request('DELETE', `/api/me/sessions/${encodeURIComponent(id)}`),
  revokeOtherSessions: () => request('DELETE', '/api/me/sessions'),
  events: () => request('GET', '/api/me/events'),
  secondFactors: () => request('GET', '/api/me/second-factors'),
  startTotp: (password) => request('POST', '/api/me/totp', { password }),
  confirmTotp: (code) => request('POST', '/api/me/totp/confirm', { code }),
  disableTotp: (password) => request('DELETE', '/api/me/totp', { password }),
  regenerateRecoveryCodes: (password) => request('POST', '/api/me/recovery-codes', { password }),
  passkeys: () => request('GET', '/api/me/passkeys'),
  /** `{ ceremony, publicKey }` for navigator.credentials.create(). */
  startPasskeyRegistration: (password) => request('POST', '/api/me/passkeys/register/start', { password }),
  /** 201: the Passkey. `name` is optional (the server names it when absent). */
  finishPasskeyRegistration: (ceremony, credential, name) => request('POST',
    '/api/me/passkeys/register/finish', { ceremony, credential, ...(name ? { name } : {}) }),
  renamePasskey: (id, name) => request('PATCH', `/api/me/passkeys/${encodeURIComponent(id)}`, { name }),
  removePasskey: (id, password) =>
    request('DELETE', `/api/me/passkeys/${encodeURIComponent(id)}`, { password }),
};

function duration(seconds) {
  if (seconds < 120) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/** A sentence for the user about any error a request() can throw. */
export function errorMessage(error) {
  if (error instanceof NetworkError) {
    return 'Could not reach the Latchkey server. Check your internet connection and try again.';
  }
  if (!(error instanceof ApiError)) {
    return 'Something went wrong in this page. Reload it and try again.';
  }
  const when = error.retryAfter != null ? `in ${duration(error.retryAfter)}` : 'in a moment';
  if (error.status === 429) {
    const what = error.code === PROBLEM.tooManyAttempts
      ? 'Too many failed attempts for this account.'
      : 'Too many attempts from this device.';
    return `${what} Please try again ${when}.`;
  }
  // Not a fault of the service: its configuration rules passkeys out, and the detail says why.
  if (error.code === PROBLEM.passkeysUnavailable && error.detail) return error.detail;
  if (error.status >= 500) {
    return `The service is having a problem right now (error ${error.status}). Please try again ${when}.`;
  }
  return error.detail || error.title || `The request failed (error ${error.status}).`;
}
