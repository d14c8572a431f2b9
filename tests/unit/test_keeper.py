"""The keeper restarts what dies and stops cleanly, as a kubelet does for a pod."""

import json
import signal
import subprocess
import sys
import time


def start_keeper(tmp_path, *command):
    state = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "sentinel.stack.keeper", "--state", str(state), "--", *command],
        stdout=subprocess.DEVNULL,
    )
    return process, state


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def read_state(state):
    try:
        return json.loads(state.read_text())
    except (OSError, ValueError):
        return None


def test_a_child_that_exits_is_restarted_and_counted(tmp_path):
    process, state = start_keeper(tmp_path, sys.executable, "-c", "raise SystemExit(3)")
    try:
        seen = wait_for(lambda: (s := read_state(state)) and s["restarts"] >= 2 and s)
        assert seen["last_exit"] in (3, None)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)


def test_sigterm_stops_the_child_and_the_keeper(tmp_path):
    process, state = start_keeper(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    child_pid = wait_for(lambda: (s := read_state(state)) and s["child_pid"])
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
    assert subprocess.run(["kill", "-0", str(child_pid)], capture_output=True).returncode != 0


def test_a_killed_child_is_replaced_by_a_new_process(tmp_path):
    process, state = start_keeper(tmp_path, sys.executable, "-c", "import time; time.sleep(60)")
    try:
        first = wait_for(lambda: (s := read_state(state)) and s["child_pid"])
        subprocess.run(["kill", "-9", str(first)], check=True)
        second = wait_for(lambda: (s := read_state(state)) and s["child_pid"] not in (None, first) and s["child_pid"])
        assert read_state(state)["restarts"] == 1 and second != first
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
