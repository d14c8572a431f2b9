"""How the UI's server describes itself in its log: never with the database password."""

from ui.server import without_password


def test_the_database_password_is_masked_in_the_log_line():
    url = "postgresql://sentinel:s3cr3t@postgres.sentinel.svc.cluster.local:5432/sentinel"
    assert without_password(url) == "postgresql://sentinel:***@postgres.sentinel.svc.cluster.local:5432/sentinel"


def test_a_url_without_a_password_is_logged_as_it_is():
    assert without_password("postgresql://sentinel@127.0.0.1:18432/sentinel") == (
        "postgresql://sentinel@127.0.0.1:18432/sentinel"
    )


def test_a_password_in_a_key_value_connection_string_is_masked_too():
    masked = without_password("host=postgres dbname=sentinel user=sentinel password=s3cr3t")
    assert "s3cr3t" not in masked and "password=***" in masked
