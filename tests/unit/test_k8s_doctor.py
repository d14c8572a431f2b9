"""`task k8s:doctor` (taskfiles/k8s_doctor.py) against stand-in docker and kind engines.

Each stand-in answers `docker info --format '{{json .}}'` as an engine of the kind
described, so every check is seen to pass on a good host and to fail, saying what
to change, on a host that `task k8s:up` would fail on.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.config import PROJECT_ROOT

DOCTOR = PROJECT_ROOT / "taskfiles" / "k8s_doctor.py"
TASK = Path(sys.executable).parent / "task"
GOOD_ENGINE = {
    "ServerVersion": "29.1.2",
    "Driver": "overlayfs",
    "DriverStatus": [["driver-type", "io.containerd.snapshotter.v1"]],
    "CgroupVersion": "2",
    "MemTotal": 8_218_886_144,
    "NCPU": 6,
}


def stand_ins(directory: Path, engine: dict | None, kind_version: str = "kind v0.33.0 go1.25.5 linux/amd64") -> Path:
    """docker and kind on a PATH of their own: docker answers as `engine` (None: not running)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    if engine is None:
        docker = "#!/bin/sh\necho 'Cannot connect to the Docker daemon. Is the docker daemon running?' >&2\nexit 1\n"
    else:
        (directory / "info.json").write_text(json.dumps(engine))
        docker = f"#!/bin/sh\ncat {directory / 'info.json'}\n"
    (bin_dir / "docker").write_text(docker)
    (bin_dir / "kind").write_text(f'#!/bin/sh\n[ "$1" = version ] && echo "{kind_version}"\nexit 0\n')
    for tool in ("docker", "kind"):
        (bin_dir / tool).chmod(0o755)
    (directory / "venv").mkdir()
    (directory / "venv" / "kubectl").write_text("#!/bin/sh\n")
    (directory / "venv" / "kubectl").chmod(0o755)
    return bin_dir


def doctor(
    tmp_path: Path, engine: dict | None, *ports: int, meminfo: str | None = None, **kind
) -> tuple[int, dict[str, tuple[str, str]]]:
    """(exit status, {check: (status, detail)}); `meminfo` is the host's /proc/meminfo (None: a host without one)."""
    bin_dir = stand_ins(tmp_path, engine, **kind)
    if meminfo is not None:
        (tmp_path / "meminfo").write_text(meminfo)
    result = subprocess.run(
        [
            sys.executable,
            str(DOCTOR),
            "--venv-bin",
            str(tmp_path / "venv"),
            "--meminfo",
            str(tmp_path / "meminfo"),
            "--ports",
            *map(str, ports),
        ],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    rows = {}
    for line in result.stdout.splitlines():
        if line[:4].strip() in ("ok", "warn", "FAIL"):
            status, rest = line[:4].strip(), line[4:].strip()
            name, _, detail = rest.partition("  ")
            rows[name.strip()] = (status, detail.strip())
    return result.returncode, rows


def test_a_good_host_passes(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE)
    assert status == 0, rows
    for name in ("docker", "image store", "cgroup", "memory", "cpus", "kind", "kubectl"):
        assert rows[name][0] == "ok", (name, rows[name])


def test_a_stopped_engine_fails_and_says_to_start_it(tmp_path):
    status, rows = doctor(tmp_path, None)
    assert status == 1
    assert rows["docker"][0] == "FAIL" and "start Docker" in rows["docker"][1]


def test_cgroup_v1_fails_and_says_what_to_change(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE | {"CgroupVersion": "1"})
    assert status == 1
    assert rows["cgroup"][0] == "FAIL" and "systemd.unified_cgroup_hierarchy=1" in rows["cgroup"][1]


def test_the_containerd_store_before_docker_28_fails_as_save_cannot_pick_a_platform(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE | {"ServerVersion": "27.5.1"})
    assert status == 1 and rows["image store"][0] == "FAIL"
    assert "containerd-snapshotter" in rows["image store"][1]


def test_the_classic_store_of_an_older_docker_passes(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE | {"ServerVersion": "26.1.4", "DriverStatus": [["Backing", "ext4"]]})
    assert status == 0 and rows["image store"][0] == "ok", rows


def test_too_little_memory_fails_and_too_few_cpus_warns(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE | {"MemTotal": 4 * 1024**3, "NCPU": 2})
    assert status == 1
    assert rows["memory"][0] == "FAIL" and "Resources" in rows["memory"][1]
    assert rows["cpus"][0] == "warn"


def test_little_free_memory_warns_where_the_engine_runs_on_the_host_itself(tmp_path):
    host_total_kb = GOOD_ENGINE["MemTotal"] // 1024  # the engine sees the host's memory: no VM between
    status, rows = doctor(tmp_path, GOOD_ENGINE, meminfo=f"MemTotal: {host_total_kb} kB\nMemAvailable: 2000000 kB\n")
    assert status == 0
    assert rows["memory free"][0] == "warn" and "2.0 GB of 8.2 GB" in rows["memory free"][1]


def test_free_memory_is_not_checked_where_the_engine_runs_in_a_vm_of_its_own(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE, meminfo="MemTotal: 32000000 kB\nMemAvailable: 2000000 kB\n")
    assert status == 0 and "memory free" not in rows


def test_another_kind_version_warns(tmp_path):
    status, rows = doctor(tmp_path, GOOD_ENGINE, kind_version="kind v0.20.0 go1.20 linux/amd64")
    assert status == 0 and rows["kind"][0] == "warn"


def test_a_mapped_port_in_use_fails(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        status, rows = doctor(tmp_path, GOOD_ENGINE, port)
    assert status == 1 and rows[f"port {port}"][0] == "FAIL"


@pytest.mark.skipif(not TASK.exists(), reason="task is installed by `python3 dev.py setup`")
def test_task_k8s_doctor_checks_the_ports_kind_maps():
    result = subprocess.run(
        [str(TASK), "--dry", "k8s:doctor"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "taskfiles/k8s_doctor.py --cluster sentinel --ports 31080 31000" in result.stderr
