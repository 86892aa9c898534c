"""Register, log in, ask who is logged in, log out: with the Python client that
openapi-python-client generates from openapi.yaml, against a live server.

Run by scripts/ecosystem:  PYTHONPATH=<generated client> python flow.py http://127.0.0.1:PORT
The session is the `latchkey_session` cookie (the document's `session_cookie` apiKey scheme, in
a cookie): it is read from the login response and sent with the calls that need it.
"""

import sys
import uuid

from latchkey_client import AuthenticatedClient, Client
from latchkey_client.api.account import me
from latchkey_client.api.auth import login, logout, register
from latchkey_client.models import LoginRequest, Problem, RegisterRequest, User

PASSWORD = "correct horse battery staple"


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"python client: {what}")


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

    session = AuthenticatedClient(
        base_url=base_url,
        token=f"latchkey_session={cookie}",
        prefix="",
        auth_header_name="Cookie",
        raise_on_unexpected_status=True,
    )
    with session:
        who = me.sync_detailed(client=session)
        check(who.status_code == 200, f"me answered {who.status_code}")
        check(who.parsed.username == username, "me is the user who logged in")

        out = logout.sync_detailed(client=session)
        check(out.status_code == 204, f"logout answered {out.status_code}")

        after = me.sync_detailed(client=session)
        check(after.status_code == 401, f"me after logout answered {after.status_code}")
        check(after.parsed.code == "not_authenticated", f"code {after.parsed.code}")
    print(f"python client: register, login, me, logout as {username}: ok")


if __name__ == "__main__":
    main(sys.argv[1])
