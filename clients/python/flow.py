"""Register, log in, ask who is logged in, log out, then turn on two-step verification and
complete a two-step login: with the Python client that openapi-python-client generates from
openapi.yaml, against a live server.

Run by scripts/ecosystem:  PYTHONPATH=<generated client> python flow.py http://127.0.0.1:PORT
The session is the `latchkey_session` cookie (the document's `session_cookie` apiKey scheme, in
a cookie): it is read from the login response and sent with the calls that need it. The
authenticator app is played by `totp()`, RFC 6238 in the standard library.
"""

import base64
import hmac
import struct
import sys
import time
import uuid

from latchkey_client import AuthenticatedClient, Client
from latchkey_client.api.account import me
from latchkey_client.api.auth import login, login_second_factor, logout, register
from latchkey_client.api.second_factor import confirm_totp, second_factors, start_totp
from latchkey_client.models import (
    ConfirmTotpRequest,
    CurrentPasswordRequest,
    LoginRequest,
    Problem,
    RecoveryCodes,
    RegisterRequest,
    SecondFactorChallenge,
    SecondStepRequest,
    TotpEnrolmentInfo,
    User,
)

PASSWORD = "correct horse battery staple"


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"python client: {what}")


def totp(secret: str, at: float) -> str:
    """The code an authenticator app shows for a base32 secret (SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.digest(key, struct.pack(">Q", int(at) // 30), "sha1")
    offset = digest[-1] & 15
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def session_client(base_url: str, cookie: str) -> AuthenticatedClient:
    return AuthenticatedClient(
        base_url=base_url,
        token=f"latchkey_session={cookie}",
        prefix="",
        auth_header_name="Cookie",
        raise_on_unexpected_status=True,
    )


def two_step_login(base_url: str, username: str) -> None:
    """Turn on the authenticator app, then log in with the password and a recovery code."""
    with Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        logged_in = login.sync_detailed(
            client=client, body=LoginRequest(username=username, password=PASSWORD)
        )
        check(logged_in.status_code == 200, f"login answered {logged_in.status_code}")
        cookie = client.get_httpx_client().cookies.get("latchkey_session")
    with session_client(base_url, cookie) as session:
        started = start_totp.sync_detailed(
            client=session, body=CurrentPasswordRequest(password=PASSWORD)
        )
        check(started.status_code == 200, f"start_totp answered {started.status_code}")
        check(isinstance(started.parsed, TotpEnrolmentInfo), "a TotpEnrolmentInfo")
        check(started.parsed.otpauth_uri.startswith("otpauth://totp/"), "an otpauth URI")
        code = totp(started.parsed.secret, time.time())
        confirmed = confirm_totp.sync_detailed(client=session, body=ConfirmTotpRequest(code=code))
        check(confirmed.status_code == 200, f"confirm_totp answered {confirmed.status_code}")
        check(isinstance(confirmed.parsed, RecoveryCodes), "RecoveryCodes")
        recovery = confirmed.parsed.recovery_codes
        check(len(recovery) == 10, f"{len(recovery)} recovery codes")
        status = second_factors.sync_detailed(client=session)
        check(status.parsed.totp.enabled, "the authenticator app is on")

    with Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        first = login.sync_detailed(
            client=client, body=LoginRequest(username=username, password=PASSWORD)
        )
        check(first.status_code == 202, f"the password step answered {first.status_code}")
        check(isinstance(first.parsed, SecondFactorChallenge), "a SecondFactorChallenge")
        check(first.parsed.second_factor_required, "second_factor_required")
        check("recovery_code" in first.parsed.methods, f"methods {first.parsed.methods}")
        check(
            not client.get_httpx_client().cookies.get("latchkey_session"),
            "no session after the password alone",
        )
        # The client's cookie jar carries the pending-login cookie to the second step.
        second = login_second_factor.sync_detailed(
            client=client, body=SecondStepRequest(recovery_code=recovery[0])
        )
        check(second.status_code == 200, f"the second step answered {second.status_code}")
        check(second.parsed.username == username, "the second step returns the user")
        cookie = client.get_httpx_client().cookies.get("latchkey_session")
        check(bool(cookie), "the second step set the session cookie")

        again = login.sync_detailed(
            client=client, body=LoginRequest(username=username, password=PASSWORD)
        )
        check(again.status_code == 202, f"the password step answered {again.status_code}")
        reused = login_second_factor.sync_detailed(
            client=client, body=SecondStepRequest(recovery_code=recovery[0])
        )
        check(reused.status_code == 401, f"a used recovery code answered {reused.status_code}")
        check(reused.parsed.code == "invalid_second_factor", f"code {reused.parsed.code}")
    with session_client(base_url, cookie) as session:
        who = me.sync_detailed(client=session)
        check(who.status_code == 200, f"me after the two-step login answered {who.status_code}")
    print(f"python client: two-step login with a recovery code as {username}: ok")


def main(base_url: str) -> None:
    username = f"py{uuid.uuid4().hex[:8]}"
    with Client(base_url=base_url, raise_on_unexpected_status=True) as client:
        created = register.sync_detailed(
            client=client, body=RegisterRequest(username=username, password=PASSWORD)
        )
        check(created.status_code == 201, f"register answered {created.status_code}")
        check(isinstance(created.parsed, User), "register returns a User")
        check(created.parsed.username == username, "the registered name")

        taken = register.sync_detailed(
            client=client, body=RegisterRequest(username=username.upper(), password=PASSWORD)
        )
        check(taken.status_code == 409, f"a taken name answered {taken.status_code}")
        check(isinstance(taken.parsed, Problem), "errors are Problems")
        check(taken.parsed.code == "username_taken", f"code {taken.parsed.code}")

        wrong = login.sync_detailed(
            client=client, body=LoginRequest(username=username, password="not the password")
        )
        check(wrong.status_code == 401, f"a wrong password answered {wrong.status_code}")

        logged_in = login.sync_detailed(
            client=client, body=LoginRequest(username=username, password=PASSWORD)
        )
        check(logged_in.status_code == 200, f"login answered {logged_in.status_code}")
        check(logged_in.parsed.id == created.parsed.id, "login returns the same user")
        cookie = client.get_httpx_client().cookies.get("latchkey_session")
        check(bool(cookie), "login set the latchkey_session cookie")

    with session_client(base_url, cookie) as session:
        who = me.sync_detailed(client=session)
        check(who.status_code == 200, f"me answered {who.status_code}")
        check(who.parsed.username == username, "me is the user who logged in")

        out = logout.sync_detailed(client=session)
        check(out.status_code == 204, f"logout answered {out.status_code}")

        after = me.sync_detailed(client=session)
        check(after.status_code == 401, f"me after logout answered {after.status_code}")
        check(after.parsed.code == "not_authenticated", f"code {after.parsed.code}")
    print(f"python client: register, login, me, logout as {username}: ok")
    two_step_login(base_url, username)


if __name__ == "__main__":
    main(sys.argv[1])
