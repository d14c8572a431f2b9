"""Attacks on the local stack's services and credentials, against the running stack: each now fails.

Before, the local PostgreSQL trusted every local connection as any role, superuser
included; Redis (an end-of-life 6.2.5) took commands from anyone who reached it; score
could rewrite the model registry; and the connection URLs, with any password in them,
were shown by `sentinel status` and the UI's `/api/pipeline`.
"""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sentinel.config import LOCAL_DATABASE_ROLE, component_port, redis_password_file
from sentinel.stack import postgres
from sentinel.stack.pipeline_status import LocalStackStatus
from sentinel.stores import redis_client

pytestmark = pytest.mark.stack

NO_PASSFILE = "/nonexistent/pgpass"


def postgres_port(stack) -> int:
    return component_port("postgres", stack.settings.port_base)


def redis_port(stack) -> int:
    return component_port("redis", stack.settings.port_base)


def connect_as(stack, role: str, **options) -> psycopg.Connection:
    """A connection to the stack's PostgreSQL as `role`, with only the credentials given."""
    url = make_conninfo(host="127.0.0.1", port=postgres_port(stack), dbname="sentinel", user=role, **options)
    return psycopg.connect(url, connect_timeout=5, autocommit=True)


def secret_values(stack) -> list[str]:
    """Every credential the stack generated, as it is stored."""
    directory = stack.settings.state_dir / "secrets"
    return [path.read_text().strip() for path in directory.iterdir() if "." not in path.name]


def with_password_urls(stack) -> dict[str, str]:
    """DATABASE_URL and REDIS_URL as an external service's carry them: the password in the URL."""
    sentinel_password = postgres.password(stack.settings.state_dir, LOCAL_DATABASE_ROLE)
    redis_password = redis_password_file(stack.settings.state_dir).read_text().strip()
    return {
        "DATABASE_URL": f"postgresql://sentinel:{sentinel_password}@127.0.0.1:{postgres_port(stack)}/sentinel",
        "REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{redis_port(stack)}/0",
    }


def assert_no_secret_in(text: str, stack) -> None:
    for value in secret_values(stack):
        assert value not in text


# -- PostgreSQL --------------------------------------------------------------------


def test_postgres_refuses_the_application_role_without_a_password(stack):
    """Attack: any local user connects as the application's role, as trust allowed."""
    with pytest.raises(psycopg.OperationalError, match="password"):
        connect_as(stack, LOCAL_DATABASE_ROLE, passfile=NO_PASSFILE)


def test_postgres_refuses_the_superuser_without_its_password(stack):
    """Attack: any local user connects as the superuser."""
    with pytest.raises(psycopg.OperationalError, match="password"):
        connect_as(stack, postgres.SUPERUSER, passfile=NO_PASSFILE)


def test_postgres_refuses_the_superuser_with_the_application_password(stack):
    """Attack: a process holding the application's password escalates to the superuser."""
    application_password = postgres.password(stack.settings.state_dir, LOCAL_DATABASE_ROLE)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        connect_as(stack, postgres.SUPERUSER, password=application_password, passfile=NO_PASSFILE)


def test_the_superuser_logs_in_with_its_own_password_file(stack):
    with psycopg.connect(postgres.admin_url(stack.settings.state_dir, postgres_port(stack))) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)


def test_the_application_url_carries_no_password_and_logs_in(stack):
    assert "password" not in conninfo_to_dict(stack.settings.database_url)
    with psycopg.connect(stack.settings.database_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (LOCAL_DATABASE_ROLE,)


def test_no_role_but_the_superuser_holds_an_administrative_attribute(stack):
    """Attack: the application's role creates roles or databases, or is a superuser."""
    with psycopg.connect(postgres.admin_url(stack.settings.state_dir, postgres_port(stack))) as conn:
        privileged = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolcanlogin AND (rolsuper OR rolcreaterole OR rolcreatedb)"
        ).fetchall()
    assert privileged == [(postgres.SUPERUSER,)]


# -- score's role ------------------------------------------------------------------


def test_score_runs_as_its_own_role(stack):
    with psycopg.connect(stack.settings.database_url) as conn:
        users = {row[0] for row in conn.execute("SELECT usename FROM pg_stat_activity WHERE usename IS NOT NULL")}
    assert "sentinel_score" in users


def test_score_reads_the_champion(stack):
    with psycopg.connect(stack.settings.score_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM models WHERE status = 'champion'").fetchone() == (1,)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE models SET thresholds = '{\"review\": 0.99, \"block\": 1.0}'::jsonb WHERE status = 'champion'",
        "INSERT INTO models (version, sha256, onnx, feature_names, thresholds, data_fingerprint)"
        " VALUES ('v9999', 'x', 'x', '[]', '{}', 'x')",
        "DELETE FROM models",
        "INSERT INTO transactions SELECT * FROM transactions LIMIT 0",
        "CREATE TABLE score_was_here (id int)",
    ],
    ids=["update-models", "insert-models", "delete-models", "write-transactions", "create-table"],
)
def test_score_role_cannot_write(stack, statement):
    """Attack: a compromised score swaps the champion's thresholds or model, or writes elsewhere."""
    with psycopg.connect(stack.settings.score_database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


# -- Redis -------------------------------------------------------------------------


def test_redis_refuses_commands_without_the_password(stack):
    """Attack: anyone who reaches Redis reads or deletes the de-duplication claims."""
    client = redis.Redis(host="127.0.0.1", port=redis_port(stack), socket_timeout=3)
    with pytest.raises(redis.AuthenticationError):
        client.set("sentinel-attack", "x")


def test_redis_refuses_a_wrong_password(stack):
    """Attack: guessing the password."""
    client = redis.Redis(host="127.0.0.1", port=redis_port(stack), password="guess", socket_timeout=3)
    with pytest.raises(redis.AuthenticationError):
        client.ping()


def test_redis_accepts_the_stack_url_which_names_only_a_password_file(stack):
    assert redis_password_file(stack.settings.state_dir).read_text().strip() not in stack.settings.redis_url
    assert redis_client.connect(stack.settings.redis_url).ping()


def test_redis_refuses_writes_at_its_memory_limit_rather_than_evict_claims(stack):
    """Attack: flood Redis until it evicts de-duplication claims, then replay a transaction."""
    config = redis_client.connect(stack.settings.redis_url).config_get("maxmemory*")
    assert int(config["maxmemory"]) > 0
    assert config["maxmemory-policy"] == "noeviction"


def test_the_redis_server_is_a_maintained_release(stack):
    """Attack: a known vulnerability of an end-of-life Redis (6.2)."""
    info = redis_client.connect(stack.settings.redis_url).info("server")
    version = info.get("valkey_version") or info["redis_version"]
    assert tuple(int(part) for part in version.split(".")[:2]) >= (7, 0), version


# -- where the secrets are kept, and where they are not shown -----------------------


def test_every_secret_file_is_readable_by_its_owner_alone(stack):
    """Attack: another local user reads a password from the state directory."""
    directory = stack.settings.state_dir / "secrets"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = list(directory.iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_sentinel_status_shows_no_password(stack):
    """Attack: read the passwords off `sentinel status`, with services given by URLs that carry them."""
    given_by_url = dataclasses.replace(stack, env={**stack.env, **with_password_urls(stack)})
    for arguments in (("status",), ("status", "--json")):
        result = given_by_url.sentinel(*arguments, timeout=60)
        assert "postgres" in result.stdout
        assert_no_secret_in(result.stdout + result.stderr, stack)


def test_the_pipeline_status_shows_no_password_for_services_given_by_url(stack):
    """Attack: read the passwords off the UI's /api/pipeline (its snapshot) when services are external."""
    urls = with_password_urls(stack)
    settings = dataclasses.replace(
        stack.settings,
        database_url=urls["DATABASE_URL"],
        redis_url=urls["REDIS_URL"],
        external=frozenset({"postgres", "redis"}),
    )
    snapshot = LocalStackStatus(settings).snapshot()
    assert_no_secret_in(json.dumps(snapshot.to_json(), default=str), stack)
    assert {row["name"]: row["healthy"] for row in snapshot.components}["postgres"]


def test_the_running_uis_pipeline_api_shows_no_password(stack):
    """Attack: read the passwords off the running UI's /api/pipeline."""
    response = requests.get(
        stack.url("ui") + "/api/pipeline", headers={"Authorization": f"Bearer {stack.api_key}"}, timeout=30
    )
    assert response.status_code == 200
    assert_no_secret_in(response.text, stack)


def test_no_log_of_the_stack_holds_a_secret(stack):
    """Attack: read a password from a component's log (the UI logged DATABASE_URL)."""
    logs = list(Path(stack.settings.state_dir / "logs").glob("*.log"))
    assert any(path.name == "ui.log" for path in logs)
    for path in logs:
        assert_no_secret_in(path.read_text(errors="replace"), stack)
