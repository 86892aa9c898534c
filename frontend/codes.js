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
  /** The login's second step: no pending login (none, or over five minutes old). */
  pendingLoginExpired: 'pending_login_expired',
  /** The login's second step: a wrong, used or malformed code or recovery code. */
  invalidSecondFactor: 'invalid_second_factor',
  /** Confirming the authenticator set-up: not the app's current code. */
  wrongCode: 'wrong_code',
  /** Confirming the authenticator set-up: none waiting (none started, or over 15 minutes old). */
  noEnrolment: 'no_enrolment',
  secondFactorEnabled: 'second_factor_enabled',
  secondFactorNotEnabled: 'second_factor_not_enabled',
  /** Passkeys cannot work with the server's configuration (its detail says why and what to open). */
  passkeysUnavailable: 'passkeys_unavailable',
  /** A passkey sign-in: the passkey is not registered here, or its answer did not verify. */
  invalidPasskey: 'invalid_passkey',
  /** A passkey ceremony was used, is over five minutes old, or unknown: start again. */
  ceremonyExpired: 'ceremony_expired',
  /** The login's second step: the account has no passkey (any more). */
  noPasskeys: 'no_passkeys',
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
  secondFactorEnabled: 'second_factor_enabled',
  secondFactorDisabled: 'second_factor_disabled',
  secondFactorReset: 'second_factor_reset',
  recoveryCodesRegenerated: 'recovery_codes_regenerated',
  recoveryCodeUsed: 'recovery_code_used',
  secondFactorFailed: 'second_factor_failed',
  passkeyAdded: 'passkey_added',
  passkeyRemoved: 'passkey_removed',
  passkeyRenamed: 'passkey_renamed',
  passkeyUsed: 'passkey_used',
  passkeyCounterRegressed: 'passkey_counter_regressed',
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
  [EVENT.secondFactorEnabled]: 'Two-step verification turned on',
  [EVENT.secondFactorDisabled]: 'Two-step verification turned off',
  [EVENT.secondFactorReset]: 'Two-step verification removed by an administrator',
  [EVENT.recoveryCodesRegenerated]: 'New recovery codes created',
  [EVENT.recoveryCodeUsed]: 'Recovery code used to sign in',
  [EVENT.secondFactorFailed]: 'Failed two-step verification code',
  [EVENT.passkeyAdded]: 'Passkey added',
  [EVENT.passkeyRemoved]: 'Passkey removed',
  [EVENT.passkeyRenamed]: 'Passkey renamed',
  [EVENT.passkeyUsed]: 'Passkey used to sign in',
  [EVENT.passkeyCounterRegressed]: 'Passkey refused: it may have been copied',
});

/** Event kinds the activity list marks as warnings (someone may be trying to get in, or a
 * passkey may have been copied). */
export const WARNING_EVENTS = Object.freeze([
  EVENT.loginFailed, EVENT.secondFactorFailed, EVENT.passkeyCounterRegressed,
]);

/** What the login's second step accepts (SecondFactorChallenge.methods). */
export const SECOND_FACTOR_METHOD = Object.freeze({
  totp: 'totp',
  recoveryCode: 'recovery_code',
  passkey: 'passkey',
});

/** The login screen's notices: history.state.notice, set by the screen that sends the user there. */
export const NOTICE = Object.freeze({
  accountCreated: 'account_created',
  loggedOut: 'logged_out',
  loginRequired: 'login_required',
  sessionExpired: 'session_expired',
  accountDeleted: 'account_deleted',
});
