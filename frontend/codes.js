// Every code string this page acts on, written once: the API's problem codes and field-error
// codes (openapi.yaml, Problem.code and FieldError.code), its security event kinds (the
// EventKind schema) with the words the activity list uses for them, and the page's own notice
// keys passed between screens in history.state. Other modules import these names instead of
// writing the strings; e2e/tests/event-kinds.test.js checks EVENT_WORDS against openapi.yaml.
// No DOM here, so Node can import this module too.

/** Problem `code`s the page treats specially (any other code shows the API's own sentence). */
export const PROBLEM = Object.freeze({
  invalidCredentials: 'invalid_credentials',
  wrongPassword: 'wrong_password',
  tooManyAttempts: 'too_many_attempts',
  usernameTaken: 'username_taken',
  /** Not from the API: api.js's code for a 2xx answer that is not JSON. */
  unexpectedResponse: 'unexpected_response',
});

/** Field-error `code`s (a problem's `errors[].code`) a form words itself. */
export const FIELD_ERROR = Object.freeze({
  required: 'required',
});

/** Security event kinds, as GET /api/me/events reports them in `kind`. */
export const EVENT = Object.freeze({
  registered: 'registered',
  login: 'login',
  loginFailed: 'login_failed',
  logout: 'logout',
  passwordChanged: 'password_changed',
  sessionRevoked: 'session_revoked',
  sessionsRevoked: 'sessions_revoked',
});

/** How the recent-activity list words each event kind: one entry per kind, no more. */
export const EVENT_WORDS = Object.freeze({
  [EVENT.registered]: 'Account created',
  [EVENT.login]: 'Signed in',
  [EVENT.loginFailed]: 'Failed sign-in attempt',
  [EVENT.logout]: 'Signed out',
  [EVENT.passwordChanged]: 'Password changed',
  [EVENT.sessionRevoked]: 'A session was signed out',
  [EVENT.sessionsRevoked]: 'All other sessions were signed out',
});

/** The login screen's notices: history.state.notice, set by the screen that sends the user there. */
export const NOTICE = Object.freeze({
  accountCreated: 'account_created',
  loggedOut: 'logged_out',
  loginRequired: 'login_required',
  sessionExpired: 'session_expired',
  accountDeleted: 'account_deleted',
});
