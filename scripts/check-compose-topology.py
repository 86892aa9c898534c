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

# Profile "forward-auth": a sample app behind nginx with deploy/forward-auth/nginx.conf, every
# placeholder of which the gate's environment fills, in front of a Latchkey that trusts only it.
gated = ["fa-latchkey", "fa-app", "fa-gate"]
for name in gated:
    check("forward-auth" in services.get(name, {}).get("profiles", []), f"{name} is in the forward-auth profile")
gate = services.get("fa-gate", {})
check(
    "./deploy/forward-auth/nginx.conf:/etc/nginx/templates/forward-auth.conf.template:ro" in gate.get("volumes", []),
    "the gate runs deploy/forward-auth/nginx.conf as an nginx template",
)
forward_auth = (root / "deploy" / "forward-auth" / "nginx.conf").read_text()
code = "\n".join(line for line in forward_auth.splitlines() if not line.lstrip().startswith("#"))
placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", code))
gate_env = gate.get("environment", {})
check(placeholders and placeholders <= set(gate_env), f"the gate fills {sorted(placeholders)}, has {sorted(gate_env)}")
check(gate_env.get("LATCHKEY_UPSTREAM", "").startswith("http://fa-latchkey:"), "the gate asks fa-latchkey")
check(gate_env.get("APP_UPSTREAM", "").startswith("http://fa-app:"), "the gate guards fa-app")
gate_ip = gate.get("networks", {}).get("forward-auth", {}).get("ipv4_address")
fa_env = services.get("fa-latchkey", {}).get("environment", {})
check(gate_ip and fa_env.get("LATCHKEY_TRUSTED_PROXIES") == gate_ip, "fa-latchkey trusts only the gate")
check("ports" not in services.get("fa-app", {}), "the app is reachable only through the gate")

if problems:
    print("docker-compose.yml topology:", *problems, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print("docker-compose.yml topology ok: postgres, %s, proxy at %s" % (", ".join(replicas), proxy_ip))
print("docker-compose.yml forward-auth ok: %s, gate at %s" % (", ".join(gated), gate_ip))
