"""Checks what the Compose schema cannot: that the PostgreSQL profile of docker-compose.yml is the
deployment the README describes (PostgreSQL, two replicas on one database and one cookie key,
a proxy whose fixed address is the only trusted proxy, X-Forwarded-For overwritten by nginx)."""

import pathlib
import re
import sys

from ruamel.yaml import YAML

root = pathlib.Path(__file__).resolve().parent.parent
compose = YAML(typ="safe").load((root / "docker-compose.yml").read_text())
nginx = (root / "deploy" / "nginx.conf").read_text()
services = compose["services"]
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


replicas = [name for name, svc in services.items() if name.startswith("latchkey-")]
check(len(replicas) == 2, f"two replicas expected, found {replicas}")
for name in ["postgres", "proxy", *replicas]:
    check("postgres" in services.get(name, {}).get("profiles", []), f"{name} is in the postgres profile")
envs = [services[r]["environment"] for r in replicas]
check(all(e["DATABASE_URL"].startswith("postgres://") for e in envs), "replicas use PostgreSQL")
check(len({e["DATABASE_URL"] for e in envs}) == 1, "replicas share one database")
check(len({e["LATCHKEY_SECRET_KEY"] for e in envs}) == 1, "replicas share one cookie key")
proxy_ip = services["proxy"]["networks"]["backend"]["ipv4_address"]
check(all(e["LATCHKEY_TRUSTED_PROXIES"] == proxy_ip for e in envs), "only the proxy is trusted")
upstreams = set(re.findall(r"server\s+(latchkey-\w+):8080", nginx))
check(upstreams == set(replicas), f"nginx balances across {sorted(upstreams)}")
check("proxy_set_header X-Forwarded-For $remote_addr;" in nginx, "nginx overwrites X-Forwarded-For")
check(all("healthcheck" in services[n] for n in ["postgres", "proxy", *replicas]), "health checks everywhere")
check("condition" in str(services["proxy"]["depends_on"]), "the proxy waits for healthy replicas")

if problems:
    print("docker-compose.yml topology:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("docker-compose.yml topology ok: postgres, %s, proxy at %s" % (", ".join(replicas), proxy_ip))
