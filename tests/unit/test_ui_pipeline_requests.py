"""The Pipeline page shows each function's request rate and latency percentiles, as read from its /metrics."""

from __future__ import annotations

from test_ui_pipeline_health import client_for, component


def a_function(name: str, requests: dict | None) -> dict:
    return {**component(name), "kind": "function", "requests": requests}


def row_of(page: str, name: str) -> str:
    start = page.index(f'data-component="{name}"')
    return page[start : page.index("</tr>", start)]


def test_a_functions_row_shows_its_rate_and_percentiles(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 41.2, "errors_per_s": 0.0, "p50_ms": 3.42, "p99_ms": 18.0}
    page = client_for(a_function("score", requests), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    row = row_of(page, "score")
    assert "41.2/s" in row and "p50 3.4 ms" in row and "p99 18.0 ms" in row
    assert "errors/s" not in row


def test_errors_a_second_are_shown_when_there_are_any(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 10.0, "errors_per_s": 2.5, "p50_ms": 1.0, "p99_ms": 2.0}
    page = client_for(a_function("persist", requests), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    assert "2.5 errors/s" in row_of(page, "persist")


def test_before_a_second_reading_a_function_says_it_is_measuring(tmp_path):
    page = client_for(a_function("alert", None), tmp_path=tmp_path).get("/partials/pipeline").get_data(True)
    assert "measuring" in row_of(page, "alert")


def test_the_pipeline_api_carries_the_requests(tmp_path):
    requests = {"window_s": 5.0, "rate_per_s": 1.0, "errors_per_s": 0.0, "p50_ms": None, "p99_ms": None}
    document = client_for(a_function("ingest", requests), tmp_path=tmp_path).get("/api/pipeline").json
    assert document["components"][0]["requests"] == requests
