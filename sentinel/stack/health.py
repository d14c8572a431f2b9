"""Health checks for stack components. Each returns None when healthy, else why not."""

from __future__ import annotations

import psycopg
import redis
import requests
from confluent_kafka.admin import AdminClient

from sentinel.stores import database, redis_client

PROBE_TIMEOUT_S = 2


def kafka(bootstrap_servers: str) -> str | None:
    # log_level 0: a broker that is still starting is expected here, not worth a log line.
    client = AdminClient({"bootstrap.servers": bootstrap_servers, "socket.timeout.ms": 2000, "log_level": 0})
    try:
        client.list_topics(timeout=PROBE_TIMEOUT_S)
    except Exception as error:
        return f"broker at {bootstrap_servers} does not answer: {error}"
    return None


def postgres(url: str) -> str | None:
    try:
        with database.connect(url, timeout=PROBE_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL does not answer: {str(error).strip().splitlines()[0]}"
    return None


def redis_server(url: str) -> str | None:
    client = redis_client.connect(url, timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:  # OSError: its password file is not there yet
        return f"Redis does not answer: {error}"
    finally:
        client.close()
    return None


def http(url: str) -> str | None:
    try:
        response = requests.get(url, timeout=3)
    except requests.RequestException as error:
        return f"{url} does not answer: {type(error).__name__}"
    if response.status_code == 200:
        return None
    try:
        reason = response.json().get("reason") or response.json().get("error")
    except ValueError:
        reason = response.text[:200]
    return f"{url} answered {response.status_code}: {reason}"
