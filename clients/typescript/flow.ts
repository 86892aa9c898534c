/**
 * Register, log in, ask who is logged in, list the sessions, log out: with types that
 * openapi-typescript generates from openapi.yaml and openapi-fetch as the client, against a live
 * server.
 *
 * Run by scripts/ecosystem (compiled with tsc first: Node 20 cannot run .ts):
 *   node flow.js http://127.0.0.1:PORT
 * The session is the `latchkey_session` cookie (the document's `session_cookie` apiKey scheme, in
 * a cookie; `__Host-latchkey_session` when Secure). Node's fetch keeps no cookies: the cookie is
 * read from the login response's Set-Cookie and sent as `Cookie` by a middleware from then on,
 * also after logout, so the last step shows the server ended the session.
 */

import { randomUUID } from "node:crypto";
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./generated/schema.d.ts";

type User = components["schemas"]["User"];
type Problem = components["schemas"]["Problem"];
type SessionInfo = components["schemas"]["SessionInfo"];
type RegisterRequest = components["schemas"]["RegisterRequest"];
type LoginRequest = components["schemas"]["LoginRequest"];

const PASSWORD = "correct horse battery staple";
const SESSION_COOKIE = /^((?:__Host-)?latchkey_session)=([^;]+)/;

class Mismatch extends Error {}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Mismatch(what);
}

function step(line: string): void {
  console.log(`typescript client: ${line}`);
}

/** Sends `name=value` as the Cookie header on every request made after it is installed. */
function sendCookie(cookie: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set("Cookie", cookie);
      return request;
    },
  };
}

function describe(status: number, problem: Problem | undefined): string {
  return problem === undefined ? `${status}` : `${status} (${problem.code}: ${problem.detail})`;
}

async function flow(baseUrl: string): Promise<void> {
  const client = createClient<paths>({ baseUrl });
  const username = `ts${randomUUID().replaceAll("-", "").slice(0, 8)}`;

  const registration: RegisterRequest = { username, password: PASSWORD };
  const created = await client.POST("/api/register", { body: registration });
  check(
    created.response.status === 201,
    `register answered ${describe(created.response.status, created.error)}`,
  );
  check(created.data !== undefined, "register returns a User");
  const registered: User = created.data;
  check(registered.username === username, `register returned the name ${registered.username}`);
  step(`register ${username}: 201, user id ${registered.id}`);

  const credentials: LoginRequest = { username, password: PASSWORD, remember: false };
  const loggedIn = await client.POST("/api/login", { body: credentials });
  check(
    loggedIn.response.status === 200,
    `login answered ${describe(loggedIn.response.status, loggedIn.error)}`,
  );
  check(loggedIn.data !== undefined, "login returns a User");
  // 200 is a User; 202 (two-step verification on) is a SecondFactorChallenge.
  check(!("second_factor_required" in loggedIn.data), "login without a second factor is complete");
  check(loggedIn.data.id === registered.id, "login returns the registered user");
  const setCookie = loggedIn.response.headers
    .getSetCookie()
    .map((header) => ({ header, match: SESSION_COOKIE.exec(header) }))
    .find(({ match }) => match !== null);
  check(setCookie?.match != null, "login sets the latchkey_session cookie");
  const [pair, cookieName] = setCookie.match;
  check(cookieName !== undefined, "the session cookie has a name");
  check(/;\s*HttpOnly/i.test(setCookie.header), "the session cookie is HttpOnly");
  client.use(sendCookie(pair));
  step(`login: 200, ${cookieName} cookie set`);

  const who = await client.GET("/api/me");
  check(who.response.status === 200, `me answered ${describe(who.response.status, who.error)}`);
  check(who.data !== undefined, "me returns a User");
  const me: User = who.data;
  check(me.username === username, `me is ${me.username}, not the user who logged in`);
  step(`me: 200, ${me.username}`);

  const listed = await client.GET("/api/me/sessions");
  check(
    listed.response.status === 200,
    `sessions answered ${describe(listed.response.status, listed.error)}`,
  );
  check(listed.data !== undefined, "sessions returns a list");
  const sessions: SessionInfo[] = listed.data;
  check(sessions.length === 1, `${sessions.length} sessions after one login, not 1`);
  const [only] = sessions;
  check(only !== undefined && only.current, "the one session is the current one");
  step(`sessions: 200, exactly one, current (expires ${only.expires_at})`);

  const out = await client.POST("/api/logout");
  check(out.response.status === 204, `logout answered ${describe(out.response.status, out.error)}`);
  step("logout: 204");

  const after = await client.GET("/api/me");
  check(after.response.status === 401, `me after logout answered ${after.response.status}`);
  check(after.error !== undefined, "me after logout returns a Problem");
  const problem: Problem = after.error;
  check(problem.code === "not_authenticated", `me after logout: code ${problem.code}`);
  check(problem.status === 401, `me after logout: the problem's status is ${problem.status}`);
  step("me after logout, with the old cookie: 401 not_authenticated");

  step(`register, login, me, sessions, logout as ${username}: ok`);
}

const baseUrl = process.argv[2];
if (baseUrl === undefined || process.argv.length !== 3) {
  console.error("usage: node flow.js BASE_URL   (e.g. http://127.0.0.1:8080)");
  process.exit(2);
}
try {
  await flow(baseUrl);
} catch (err) {
  // A mismatch says what differed; anything else (the server unreachable, a body that is not
  // JSON) is shown whole, with its stack and cause.
  if (err instanceof Mismatch) console.error(`typescript client: ${err.message}`);
  else console.error("typescript client: failed:", err);
  process.exit(1);
}
