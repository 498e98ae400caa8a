"""Connects to the servers started by tests/e2e.rs with the real client libraries, using exactly
the connection profiles bakeryc emitted (client ConfigMap + credentials Secret). The only
substitutions are the ones a cluster makes: the Service name resolves to 127.0.0.1 and its port
maps to the test server's port, and the CA file sits where the test put it instead of the mount.

Usage: clients.py PLAN.json   (written by tests/e2e.rs). Exit 0 only if every check passed.
"""
import asyncio
import json
import os
import socket
import sys

plan = json.load(open(sys.argv[1]))
failures = 0


def check(name, fn):
    global failures
    try:
        detail = fn()
        print(f"PASS {name}: {detail}")
    except Exception as error:  # noqa: BLE001 - every failure is reported, then counted
        failures += 1
        print(f"FAIL {name}: {type(error).__name__}: {error}")


def refused(name, fn):
    """The connection must fail (the client verifies the server)."""
    global failures
    try:
        detail = fn()
        failures += 1
        print(f"FAIL {name}: connected although it must not ({detail})")
    except Exception as error:  # noqa: BLE001
        print(f"PASS {name}: refused ({type(error).__name__}: {str(error)[:120]})")


# Service DNS: the profile host (and port) map to the loopback test server, as a Service would.
real_getaddrinfo = socket.getaddrinfo
routes = {(host, int(port)): (addr, int(real)) for host, port, addr, real in plan["routes"]}


def routed_getaddrinfo(host, port, *args, **kwargs):
    target = routes.get((host, int(port) if port is not None else 0))
    if target:
        return real_getaddrinfo(target[0], target[1], *args, **kwargs)
    return real_getaddrinfo(host, port, *args, **kwargs)


socket.getaddrinfo = routed_getaddrinfo

pg = plan.get("postgres")
if pg:
    os.environ.update(pg["client_env"])

    def sqlalchemy_asyncpg(url):
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine

        async def run():
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    row = (await conn.execute(text(
                        "SELECT s.ssl, s.version, current_user, current_database(), gen_random_uuid() IS NOT NULL "
                        "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"))).one()
                    if not row[0]:
                        raise AssertionError("connection is not TLS")
                    return f"ssl={row[0]} {row[1]} user={row[2]} db={row[3]}"
            finally:
                await engine.dispose()

        return asyncio.run(asyncio.wait_for(run(), 30))

    def psycopg_url(url):
        import psycopg

        with psycopg.connect(url, connect_timeout=10) as conn:
            row = conn.execute("SELECT s.ssl, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()").fetchone()
            if not row[0]:
                raise AssertionError("connection is not TLS")
            return f"ssl={row[0]} {row[1]} sslmode={conn.info.get_parameters().get('sslmode', conn.pgconn.ssl_in_use)}"

    def psycopg_env():
        import psycopg

        # Only the client ConfigMap's PG* variables and the password: libpq reads them itself.
        with psycopg.connect("", connect_timeout=10) as conn:
            row = conn.execute("SELECT s.ssl, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()").fetchone()
            if not row[0]:
                raise AssertionError("connection is not TLS")
            return f"ssl={row[0]} {row[1]} host={conn.info.host}"

    check("SQLAlchemy + asyncpg with SQLALCHEMY_DATABASE_URL (ssl=verify-full, CA from PGSSLROOTCERT)",
          lambda: sqlalchemy_asyncpg(pg["sqlalchemy_url"]))
    check("psycopg with DATABASE_URL (sslmode=verify-full, sslrootcert)", lambda: psycopg_url(pg["libpq_url"]))
    saved = dict(os.environ)
    os.environ.update({"PGPASSWORD": pg["password"], "PGHOSTADDR": "127.0.0.1", "PGPORT": str(pg["port"])})
    check("psycopg with the client ConfigMap's PG* environment only", psycopg_env)
    os.environ.clear()
    os.environ.update(saved)
    # The same profiles, trusting another CA: a man in the middle with a different certificate.
    os.environ["PGSSLROOTCERT"] = plan["foreign_ca"]
    refused("SQLAlchemy + asyncpg trusting a foreign CA", lambda: sqlalchemy_asyncpg(pg["sqlalchemy_url"]))
    refused("psycopg trusting a foreign CA",
            lambda: psycopg_url(pg["libpq_url"].replace(pg["ca_file"], plan["foreign_ca"])))
    os.environ.update(pg["client_env"])
    # The same profiles pointed at a name the server's certificate does not carry (another
    # service of the same CA impersonated): only hostname verification refuses this.
    impostor = "impostor-db-service.e2e.svc.cluster.local"
    routes[(impostor, 5432)] = ("127.0.0.1", int(pg["port"]))
    refused("SQLAlchemy + asyncpg to a name outside the certificate",
            lambda: sqlalchemy_asyncpg(pg["sqlalchemy_url"].replace(pg["host"], impostor)))
    refused("psycopg to a name outside the certificate", lambda: psycopg_url(pg["libpq_url"].replace(pg["host"], impostor)))

rd = plan.get("redis")
if rd:
    import redis

    def redis_ping(url, check_profile=True):
        client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        try:
            kwargs = client.connection_pool.connection_kwargs
            bad = kwargs.get("ssl_cert_reqs") != "required" or not kwargs.get("ssl_check_hostname", True)
            if check_profile and bad:
                raise AssertionError(f"profile does not verify: {kwargs}")
            if client.ping() is not True:
                raise AssertionError("PING failed")
            client.set("bakeryc:e2e", "ok")
            return f"PING ok, GET={client.get('bakeryc:e2e')!r}, ssl_cert_reqs={kwargs.get('ssl_cert_reqs')}"
        finally:
            client.close()

    check("redis-py with REDIS_URL (rediss://, ssl_cert_reqs=required, CA, hostname check)",
          lambda: redis_ping(rd["url"]))
    # A refusal must come from the TLS handshake or the server, not from the profile check above.
    refused("redis-py trusting a foreign CA",
            lambda: redis_ping(rd["url"].replace(rd["ca_file"], plan["foreign_ca"]), check_profile=False))
    refused("redis-py without the password", lambda: redis_ping(rd["url_without_password"], check_profile=False))

print(f"clients: {'PASS' if failures == 0 else 'FAIL'} - {failures} failed")
sys.exit(1 if failures else 0)
