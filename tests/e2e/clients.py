"""Connects to the servers started by tests/e2e.rs with the real client libraries, using exactly
the connection profiles bakeryc emitted (client ConfigMap + credentials Secret). The only
substitutions are the ones a cluster makes: the Service name resolves to 127.0.0.1 and its port
maps to the test server's port, and the CA file sits where the test put it instead of the mount.

Every profile (libpq URL, libpq environment, asyncpg environment, SQLAlchemy + asyncpg URL,
redis-py URL, redis-py environment) must connect as emitted and refuse both a foreign CA and an
impostor host name on certificate verification.

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

# Every profile is tried three ways: as emitted (must connect), trusting a foreign CA (a man in
# the middle with another CA's certificate) and dialling a name the server's certificate does
# not carry (another service of the same CA impersonated: only hostname verification refuses
# it). Both impostor routes lead to the real server, so nothing but the client's verification
# can refuse them; a refusal counts only if the error names the certificate.
IMPOSTOR_PG = "impostor-db-service.e2e.svc.cluster.local"
IMPOSTOR_REDIS = "impostor-redis-service.e2e.svc.cluster.local"


def verify_refused(name, fn):
    """The connection must fail, and because the client refused the server's certificate."""
    global failures
    try:
        detail = fn()
        failures += 1
        print(f"FAIL {name}: connected although it must not ({detail})")
    except Exception as error:  # noqa: BLE001
        text = f"{type(error).__name__}: {error}"
        if "certificate" in text.lower():
            print(f"PASS {name}: refused ({text[:140]})")
        else:
            failures += 1
            print(f"FAIL {name}: failed, but not on certificate verification ({text[:300]})")


def profile(name, connect, env, foreign_env, impostor_env):
    """connect() reads the profile from os.environ; env is the profile as emitted, the other two
    are the changes that make it trust a foreign CA or dial an impostor name."""
    saved = dict(os.environ)
    try:
        os.environ.update(env)
        check(f"{name}: connects", connect)
        os.environ.update(foreign_env)
        verify_refused(f"{name}: refuses a foreign CA", connect)
        os.environ.clear()
        os.environ.update(saved)
        os.environ.update(env)
        os.environ.update(impostor_env)
        verify_refused(f"{name}: refuses an impostor host name", connect)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def tls_row(row):
    if not row[0]:
        raise AssertionError("connection is not TLS")
    return f"ssl={row[0]} {row[1]}"


SSL_ROW = "SELECT s.ssl, s.version FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"

pg = plan.get("postgres")
if pg:
    import asyncpg
    import psycopg
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    routes[(IMPOSTOR_PG, 5432)] = ("127.0.0.1", int(pg["port"]))
    # What a pod gets: the client ConfigMap's PG* variables (PGSSLROOTCERT at the test's CA
    # file) and PGPASSWORD from the credentials Secret. The URLs under test travel in BAKERY_*
    # variables so that one substitution mechanism serves URL and environment profiles alike.
    pod_env = dict(pg["client_env"], PGPASSWORD=pg["password"])

    def psycopg_url():
        with psycopg.connect(os.environ["BAKERY_URL"], connect_timeout=10) as conn:
            return tls_row(conn.execute(SSL_ROW).fetchone()) + f" host={conn.info.host}"

    def psycopg_env():
        # Only the PG* environment: libpq reads it itself. PGHOSTADDR/PGPORT stand in for the
        # Service's DNS and port mapping; libpq still verifies the certificate against PGHOST.
        with psycopg.connect("", connect_timeout=10) as conn:
            return tls_row(conn.execute(SSL_ROW).fetchone()) + f" host={conn.info.host}"

    def asyncpg_env():
        # asyncpg reads the same PG* variables (PGSSLMODE, PGSSLROOTCERT included) on its own.
        async def run():
            conn = await asyncpg.connect(timeout=10)
            try:
                return tls_row(await conn.fetchrow(SSL_ROW))
            finally:
                await conn.close()

        return asyncio.run(asyncio.wait_for(run(), 30))

    def sqlalchemy_asyncpg():
        async def run():
            engine = create_async_engine(os.environ["BAKERY_URL"])
            try:
                async with engine.connect() as conn:
                    row = (await conn.execute(text(
                        "SELECT s.ssl, s.version, current_user, current_database(), gen_random_uuid() IS NOT NULL "
                        "FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"))).one()
                    return tls_row(row) + f" user={row[2]} db={row[3]}"
            finally:
                await engine.dispose()

        return asyncio.run(asyncio.wait_for(run(), 30))

    libpq_url = pg["libpq_url"]
    profile("psycopg with DATABASE_URL (sslmode=verify-full, sslrootcert)", psycopg_url,
            {"BAKERY_URL": libpq_url},
            {"BAKERY_URL": libpq_url.replace(pg["ca_file"], plan["foreign_ca"])},
            {"BAKERY_URL": libpq_url.replace(pg["host"], IMPOSTOR_PG)})
    local = {"PGHOSTADDR": "127.0.0.1", "PGPORT": str(pg["port"])}
    profile("psycopg with the client ConfigMap's PG* environment only", psycopg_env,
            dict(pod_env, **local), {"PGSSLROOTCERT": plan["foreign_ca"]}, {"PGHOST": IMPOSTOR_PG})
    profile("asyncpg with the client ConfigMap's PG* environment only", asyncpg_env,
            pod_env, {"PGSSLROOTCERT": plan["foreign_ca"]}, {"PGHOST": IMPOSTOR_PG})
    sqlalchemy_url = pg["sqlalchemy_url"]
    profile("SQLAlchemy + asyncpg with SQLALCHEMY_DATABASE_URL (ssl=verify-full, CA from PGSSLROOTCERT)",
            sqlalchemy_asyncpg, dict(pod_env, BAKERY_URL=sqlalchemy_url), {"PGSSLROOTCERT": plan["foreign_ca"]},
            {"BAKERY_URL": sqlalchemy_url.replace(pg["host"], IMPOSTOR_PG)})

    # Control: with verification off, the impostor route does reach the server, so the refusals
    # above are the clients' verification and not an unreachable name.
    check("control: libpq with sslmode=require reaches the server under the impostor name",
          lambda: psycopg.connect(libpq_url.replace(pg["host"], IMPOSTOR_PG).replace("sslmode=verify-full", "sslmode=require")
                                  .replace(pg["ca_file"], "/nonexistent"), connect_timeout=10).close() or "connected")

rd = plan.get("redis")
if rd:
    import redis

    def redis_ping(client):
        try:
            if client.ping() is not True:
                raise AssertionError("PING failed")
            client.set("bakeryc:e2e", "ok")
            return f"PING ok, GET={client.get('bakeryc:e2e')!r}"
        finally:
            client.close()

    def redis_url():
        url = os.environ["BAKERY_URL"]
        return redis_ping(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10))

    def redis_env():
        # The cache ConfigMap's REDIS_* variables, passed the way redis-py names them; hostname
        # checking is redis-py's default (ssl_check_hostname=True), which the profile leaves on.
        return redis_ping(redis.Redis(
            host=os.environ["REDIS_HOST"], port=int(os.environ["REDIS_PORT"]), password=rd["password"], ssl=True,
            ssl_ca_certs=os.environ["REDIS_SSL_CA_CERTS"], ssl_cert_reqs=os.environ["REDIS_SSL_CERT_REQS"],
            socket_timeout=10, socket_connect_timeout=10))

    routes[(IMPOSTOR_REDIS, 6379)] = ("127.0.0.1", int(rd["port"]))
    url = rd["url"]
    profile("redis-py with REDIS_URL (rediss://, ssl_cert_reqs=required, CA, hostname check)", redis_url,
            {"BAKERY_URL": url}, {"BAKERY_URL": url.replace(rd["ca_file"], plan["foreign_ca"])},
            {"BAKERY_URL": url.replace(rd["host"], IMPOSTOR_REDIS)})
    profile("redis-py with the cache ConfigMap's REDIS_* environment", redis_env, rd["client_env"],
            {"REDIS_SSL_CA_CERTS": plan["foreign_ca"]}, {"REDIS_HOST": IMPOSTOR_REDIS})
    check("control: redis-py without verification reaches the server under the impostor name",
          lambda: redis_ping(redis.Redis(host=IMPOSTOR_REDIS, port=6379, password=rd["password"], ssl=True,
                                         ssl_cert_reqs="none", ssl_check_hostname=False, socket_timeout=10)))
    refused("redis-py without the password", lambda: redis_ping(redis.Redis.from_url(
        rd["url_without_password"], socket_timeout=10, socket_connect_timeout=10)))

print(f"clients: {'PASS' if failures == 0 else 'FAIL'} - {failures} failed")
sys.exit(1 if failures else 0)
