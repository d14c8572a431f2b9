"""`sentinel status` ends with one line: all healthy, degraded (naming each stall) or what is down."""

from support import A_STALLED_PARTITION as STALL

from sentinel.cli.stack import status_headline
from sentinel.stack.local import ComponentStatus


def component(name: str, *, healthy: bool = True, stalled: list | None = None) -> ComponentStatus:
    return ComponentStatus(
        name=name, kind="eventing", address="http://127.0.0.1:1", healthy=healthy, stalled=stalled or []
    )


def test_a_pipeline_making_progress_is_all_healthy():
    assert "all healthy" in status_headline([component("score-source"), component("persist-source")])


def test_a_stalled_dispatcher_is_degraded_naming_its_partition_event_attempts_and_error():
    line = status_headline([component("score-source"), component("persist-source", healthy=False, stalled=[STALL])])
    assert "degraded" in line and "all healthy" not in line
    assert "persist-source stalled at sentinel.scored/3" in line
    assert "txn-poison" in line and "7 failed attempts" in line and "HTTP 500" in line


def test_a_component_that_does_not_answer_is_down_before_any_stall():
    stalled = component("persist-source", healthy=False, stalled=[STALL])
    line = status_headline([component("broker", healthy=False), stalled])
    assert "down: broker" in line


def test_the_state_of_a_stalled_component_is_stalled_and_of_an_unanswering_one_down():
    assert component("a", healthy=False, stalled=[STALL]).state == "stalled"
    assert component("b", healthy=False).state == "down"
    assert component("c").to_json()["state"] == "healthy"
