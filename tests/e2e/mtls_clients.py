"""Connects to the servers started by tests/e2e_clients.rs as the declared client auth-service,
with the real client libraries and exactly the profile bakeryc emitted for it (its
`<client>-<db>-db-client` ConfigMap and its `<client>-credentials` Secret). The only
substitutions are a cluster's: the Service name resolves to 127.0.0.1 and its port maps to the test
server's, and the mounted files (CA, client certificate) sit where the test put them.

Each profile must connect as emitted, and be refused without the client certificate, or with a
certificate of a foreign CA, where the server demands one.

Usage: mtls_clients.py PLAN.json. Exit 0 only if every check passed.
"""
import asyncio
import json
import os
import socket
import sys

plan = json.load(open(sys.argv[1]))
failures = 0

real_getaddrinfo = socket.getaddrinfo
routes = {(host, int(port)): (addr, int(real)) for host, port, addr, real in plan["routes"]}


def routed_getaddrinfo(host, port, *args, **kwargs):
    target = routes.get((host, int(port) if port is not None else 0))
    if target:
        return real_getaddrinfo(target[0], target[1], *args, **kwargs)
    return real_getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = routed_getaddrinfo


def check(name, fn):
    global failures
    try:
        print(f"PASS {name}: {fn()}")
    except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
        failures += 1
        print(f"FAIL {name}: {type(error).__name__}: {error}")


CERTIFICATE = ("certificate", "unknown ca")
# Under TLS 1.3 the server judges the client certificate after the client has finished its side
# of the handshake, so redis-py may see the server's alert or only the connection it closed.
CERTIFICATE_OR_CLOSED = CERTIFICATE + ("eof occurred in violation of protocol",)


def refused(name, fn, signs=CERTIFICATE):
    """The connection must fail, and on the certificate (not on a missing file or name)."""
    global failures
    try:
        detail = fn()
        failures += 1
        print(f"FAIL {name}: connected although it must not ({detail})")
    except Exception as error:  # noqa: BLE001
        message = f"{type(error).__name__}: {error}"
        if any(sign in message.lower() for sign in signs):
            print(f"PASS {name}: refused ({message[:160]})")
        else:
            failures += 1
            print(f"FAIL {name}: failed, but not on the certificate ({message[:300]})")


import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

WHO = "SELECT current_user || ' ssl=' || s.ssl || ' dn=' || coalesce(s.client_dn, '-') FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
cert_dir = plan["certificate_dir"]
foreign_dir = plan["foreign_dir"]


def psycopg_url(url):
    with psycopg.connect(url, connect_timeout=10) as conn:
        return conn.execute(WHO).fetchone()[0]


def sqlalchemy_asyncpg(url, env):
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        async def run():
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    return (await conn.execute(text(WHO))).scalar_one()
            finally:
                await engine.dispose()

        return asyncio.run(asyncio.wait_for(run(), 30))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def redis_url(url):
    client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
    try:
        client.set("bakeryc:mtls", "ok")
        return f"{client.acl_whoami()} GET={client.get('bakeryc:mtls')!r}"
    finally:
        client.close()


url = plan["database_url"]
check("psycopg with AUTH_DATABASE_URL (its role, password and certificate)", lambda: psycopg_url(url))
without = url.replace(f"&sslcert={cert_dir}/tls.crt&sslkey={cert_dir}/tls.key", "&sslcert=/nonexistent&sslkey=/nonexistent")
assert without != url, "the URL carries the client certificate"
refused("psycopg without the client certificate", lambda: psycopg_url(without))
refused("psycopg with a foreign CA's certificate", lambda: psycopg_url(url.replace(cert_dir, foreign_dir)))

# SQLAlchemy passes URL parameters to asyncpg.connect() as keywords, which has no sslcert: the
# certificate comes from the ConfigMap's PGSSLCERT/PGSSLKEY, the CA from PGSSLROOTCERT.
env = {k: v for k, v in plan["pg_env"].items() if k in ("PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT")}
check("SQLAlchemy + asyncpg with AUTH_SQLALCHEMY_DATABASE_URL and the ConfigMap's PGSSLCERT/PGSSLKEY",
      lambda: sqlalchemy_asyncpg(plan["sqlalchemy_url"], env))
refused("SQLAlchemy + asyncpg without the client certificate",
        lambda: sqlalchemy_asyncpg(plan["sqlalchemy_url"], dict(env, PGSSLCERT="", PGSSLKEY="")))

# psycopg with the ConfigMap's PG* environment and PGPASSWORD from the Secret.
def psycopg_env():
    saved = dict(os.environ)
    os.environ.update(plan["pg_env"])
    os.environ.update({"PGPASSWORD": plan["password"], "PGHOSTADDR": "127.0.0.1", "PGPORT": str(routes[(plan["pg_env"]["PGHOST"], 5432)][1])})
    try:
        with psycopg.connect("", connect_timeout=10) as conn:
            return conn.execute(WHO).fetchone()[0]
    finally:
        os.environ.clear()
        os.environ.update(saved)


check("psycopg with the client ConfigMap's PG* environment", psycopg_env)

rurl = plan["redis_url"]
check("redis-py with REDIS_URL (its ACL user, password and certificate)", lambda: redis_url(rurl))
no_cert = rurl.replace(f"&ssl_certfile={cert_dir}/tls.crt&ssl_keyfile={cert_dir}/tls.key", "")
assert no_cert != rurl, "the URL carries the client certificate"
refused("redis-py without the client certificate", lambda: redis_url(no_cert), CERTIFICATE_OR_CLOSED)
refused("redis-py with a foreign CA's certificate", lambda: redis_url(rurl.replace(cert_dir, foreign_dir)),
        CERTIFICATE_OR_CLOSED)

print(f"clients: {'PASS' if failures == 0 else 'FAIL'} - {failures} failed")
sys.exit(1 if failures else 0)
