"""How the local stack keeps and hands out its services' credentials, without starting them."""

from __future__ import annotations

import stat

from psycopg.conninfo import conninfo_to_dict

from sentinel.config import Settings, pgpass_file, redis_password_file
from sentinel.stack import postgres, redis_server
from sentinel.stores.redis_client import PasswordFile, split_password_file

TRUSTING_HBA = """\
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    replication     all             ::1/128                 trust  # initdb's
# host  all             all             0.0.0.0/0               trust
"""


def local_settings(monkeypatch, tmp_path) -> Settings:
    for name in ("DATABASE_URL", "REDIS_URL", "SCORE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    return Settings.from_env()


def test_the_default_database_urls_name_a_password_file_and_carry_no_password(monkeypatch, tmp_path):
    settings = local_settings(monkeypatch, tmp_path)
    for url, role in ((settings.database_url, "sentinel"), (settings.score_database_url, "sentinel_score")):
        conninfo = conninfo_to_dict(url)
        assert "password" not in conninfo
        assert (conninfo["user"], conninfo["passfile"]) == (role, str(pgpass_file(tmp_path, role)))


def test_score_uses_database_url_when_postgres_is_external_and_no_score_url_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql://app@db/app")
    monkeypatch.delenv("SCORE_DATABASE_URL", raising=False)
    assert Settings.from_env().score_database_url == "postgresql://app@db/app"


def test_the_default_redis_url_names_its_password_file(monkeypatch, tmp_path):
    url, password_file = split_password_file(local_settings(monkeypatch, tmp_path).redis_url)
    assert password_file == redis_password_file(tmp_path)
    assert "password" not in url


def test_a_redis_url_without_a_password_file_is_left_as_it_is():
    assert split_password_file("redis://:s3cr3t@redis:6379/0") == ("redis://:s3cr3t@redis:6379/0", None)


def test_the_password_file_parameter_is_removed_and_others_kept():
    url, password_file = split_password_file("redis://127.0.0.1:1/0?password_file=/s/redis&health_check_interval=5")
    assert (url, str(password_file)) == ("redis://127.0.0.1:1/0?health_check_interval=5", "/s/redis")


def test_a_redis_password_file_is_read_at_each_login_so_a_rotated_password_is_used(tmp_path):
    path = tmp_path / "redis"
    provider = PasswordFile(path)
    path.write_text("first\n")
    assert provider.get_credentials() == ("first",)
    path.write_text("second\n")
    assert provider.get_credentials() == ("second",)


def test_each_role_gets_its_own_owner_only_password_file_in_libpq_format(tmp_path):
    postgres.write_passfiles(tmp_path)
    for role in postgres.ROLES:
        path = pgpass_file(tmp_path, role)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() == f"*:*:*:{role}:{postgres.password(tmp_path, role)}\n"


def test_each_role_has_a_different_password(tmp_path):
    passwords = {postgres.password(tmp_path, role) for role in postgres.ROLES}
    assert len(passwords) == len(postgres.ROLES)


def test_an_old_trusting_pg_hba_is_switched_to_passwords_rule_by_rule():
    rules = [line for line in postgres.without_trust(TRUSTING_HBA).splitlines() if not line.startswith("#")]
    assert rules == [
        "local   all             all                                     scram-sha-256",
        "host    all             all             127.0.0.1/32            scram-sha-256",
        "host    replication     all             ::1/128                 scram-sha-256  # initdb's",
    ]


def test_the_redis_configuration_requires_the_password_and_never_evicts(tmp_path):
    path = redis_server.write_config(tmp_path, tmp_path / "redis", 6399, "64mb")
    settings = dict(line.split(" ", 1) for line in path.read_text().splitlines())
    assert settings["requirepass"] == f'"{redis_password_file(tmp_path).read_text().strip()}"'
    assert (settings["maxmemory"], settings["maxmemory-policy"]) == ("64mb", "noeviction")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_redis_password_is_on_no_command_line(tmp_path):
    config = redis_server.write_config(tmp_path, tmp_path / "redis", 6399, "64mb")
    command = redis_server.command(tmp_path / "valkey-server", config)
    assert redis_password_file(tmp_path).read_text().strip() not in " ".join(command)
