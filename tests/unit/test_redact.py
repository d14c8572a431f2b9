"""Connection strings as they are shown (logs, `sentinel status`, the UI): never with a password."""

from sentinel.core.redact import without_password


def test_the_password_in_a_database_url_is_masked():
    url = "postgresql://sentinel:s3cr3t@postgres.sentinel.svc.cluster.local:5432/sentinel"
    assert without_password(url) == "postgresql://sentinel:***@postgres.sentinel.svc.cluster.local:5432/sentinel"


def test_the_password_in_a_redis_url_without_a_user_is_masked():
    assert without_password("redis://:s3cr3t@redis:6379/0") == "redis://:***@redis:6379/0"


def test_a_password_with_an_at_sign_is_masked_whole():
    assert without_password("postgresql://sentinel:a@b@db/sentinel") == "postgresql://sentinel:***@db/sentinel"


def test_a_password_in_a_url_query_is_masked():
    masked = without_password("postgresql://sentinel@db/sentinel?sslmode=require&password=s3cr3t")
    assert masked == "postgresql://sentinel@db/sentinel?sslmode=require&password=***"


def test_a_url_naming_a_password_file_is_shown_as_it_is():
    url = "postgresql://sentinel@127.0.0.1:18432/sentinel?passfile=/home/a/.sentinel/secrets/sentinel.pgpass"
    assert without_password(url) == url


def test_a_password_in_a_key_value_connection_string_is_masked():
    masked = without_password("host=postgres dbname=sentinel user=sentinel password=s3cr3t")
    assert masked == "host=postgres dbname=sentinel user=sentinel password=***"


def test_a_quoted_password_in_a_key_value_connection_string_is_masked_whole():
    masked = without_password(r"host=postgres password='s3 \'cr3t' user=sentinel")
    assert masked == "host=postgres password=*** user=sentinel"
