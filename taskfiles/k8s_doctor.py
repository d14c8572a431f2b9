"""`task k8s:doctor`: is this host ready for `task k8s:up`, and if not, what to change.

Checks, each printed as ok, warn or FAIL with what to do: docker on PATH and its engine
running; the engine's image store (Docker's containerd store needs Docker 28 or later,
whose `docker save --platform` k8s:up loads images with); cgroup v2, which kind's
Kubernetes 1.35 node image needs; the CPUs and memory the engine has, and the memory
free now where the engine runs on this host without a VM; kind and its
version; kubectl in .venv; the host ports kind-config.yaml maps (free, or held by this
project's cluster already); and, on Linux, the inotify limits kind's nodes run out of.
Exits 1 when a check fails; warnings alone exit 0. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MIN_MEMORY_BYTES = 8 * 1000**3  # "8 GB": Docker Desktop's slider counts in GB, and reports a little less
MIN_MEMORY_SLACK = 0.9
MIN_CPUS = 4
KIND_VERSION = "v0.33.0"  # the release whose node image kind-config.yaml pins
CONTAINERD_STORE = "io.containerd.snapshotter"
# The limits kind's documentation asks for ("Known issues": pod errors due to "too many open files").
INOTIFY = {"max_user_watches": 524288, "max_user_instances": 512}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn or FAIL
    detail: str


def run(*command: str) -> subprocess.CompletedProcess[str] | None:
    """The command's result, or None when it cannot be run at all."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None


def docker_info() -> tuple[list[Check], dict | None]:
    if not shutil.which("docker"):
        return [Check("docker", "FAIL", "docker is not on PATH: install Docker Desktop or Docker Engine")], None
    result = run("docker", "info", "--format", "{{json .}}")
    info = None
    if result and result.returncode == 0:
        try:
            info = json.loads(result.stdout)
        except ValueError:
            info = None
    if not info or info.get("ServerErrors") or not info.get("ServerVersion"):
        lines = result.stderr.strip().splitlines() if result else []
        why = lines[-1] if lines else "`docker info` answered nothing"
        return [
            Check("docker", "FAIL", f"the Docker engine is not running ({why}): start Docker Desktop or dockerd")
        ], None
    return [Check("docker", "ok", f"engine {info['ServerVersion']} running")], info


def engine_checks(info: dict) -> list[Check]:
    checks = []
    version = str(info.get("ServerVersion", "0"))
    major = int(re.match(r"\d+", version).group()) if re.match(r"\d+", version) else 0
    driver_status = {str(key): str(value) for key, value in info.get("DriverStatus") or []}
    containerd = CONTAINERD_STORE in driver_status.get("driver-type", "") or CONTAINERD_STORE in str(info.get("Driver"))
    if containerd and major < 28:
        checks.append(
            Check(
                "image store",
                "FAIL",
                f"containerd image store on Docker {version}: `docker save --platform`, which k8s:up loads images "
                "with, needs Docker 28 or later; update Docker, or turn the containerd image store off "
                '(Docker Desktop: Settings → General; dockerd: "features": {"containerd-snapshotter": false})',
            )
        )
    elif containerd:
        checks.append(Check("image store", "ok", "containerd: k8s:up saves one platform and loads it as an archive"))
    else:
        checks.append(Check("image store", "ok", f"classic ({info.get('Driver', '?')})"))

    cgroup = str(info.get("CgroupVersion", ""))
    if cgroup == "2":
        checks.append(Check("cgroup", "ok", "v2"))
    else:
        checks.append(
            Check(
                "cgroup",
                "FAIL",
                f"the engine runs containers on cgroup v{cgroup or '?'}; kind's Kubernetes 1.35 node image needs v2: "
                "update Docker Desktop, or on Linux boot with systemd.unified_cgroup_hierarchy=1 "
                "(a distribution from 2021 on does by default)",
            )
        )

    memory = int(info.get("MemTotal") or 0)
    if memory >= MIN_MEMORY_BYTES * MIN_MEMORY_SLACK:
        checks.append(Check("memory", "ok", f"{memory / 1000**3:.1f} GB for containers"))
    else:
        checks.append(
            Check(
                "memory",
                "FAIL",
                f"{memory / 1000**3:.1f} GB for containers; the cluster needs 8 GB "
                "(Docker Desktop: Settings → Resources → Memory)",
            )
        )
    cpus = int(info.get("NCPU") or 0)
    if cpus >= MIN_CPUS:
        checks.append(Check("cpus", "ok", str(cpus)))
    else:
        checks.append(
            Check("cpus", "warn", f"{cpus}; {MIN_CPUS} or more keep k8s:up's waits short (Settings → Resources → CPUs)")
        )
    return checks


def free_memory_checks(info: dict, meminfo: Path) -> list[Check]:
    """The memory free now, where the engine runs on this host itself (Linux without a VM): there the
    cluster takes its memory from what else runs, while a VM's memory, counted above, is its own."""
    if not meminfo.exists():
        return []
    fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
    kilobytes = {name: int(value.split()[0]) for name, value in fields.items() if value.split()}
    total, available = kilobytes.get("MemTotal", 0) * 1024, kilobytes.get("MemAvailable", 0) * 1024
    if not total or abs(total - int(info.get("MemTotal") or 0)) > total * 0.01:
        return []
    if available >= MIN_MEMORY_BYTES * MIN_MEMORY_SLACK:
        return [Check("memory free", "ok", f"{available / 1000**3:.1f} GB")]
    return [
        Check(
            "memory free",
            "warn",
            f"{available / 1000**3:.1f} GB of {total / 1000**3:.1f} GB; the cluster is sized for 8 GB: "
            "stop what else runs, or its pods may be evicted or fail to start",
        )
    ]


def kind_checks(cluster: str) -> tuple[list[Check], bool]:
    """The kind checks, and whether the project's cluster exists already."""
    if not shutil.which("kind"):
        return [Check("kind", "FAIL", f"kind is not on PATH: install kind {KIND_VERSION} (kind.sigs.k8s.io)")], False
    result = run("kind", "version")
    found = re.search(r"v\d+\.\d+\.\d+", result.stdout if result else "")
    version = found.group() if found else "unknown"
    checks = [
        Check("kind", "ok", version)
        if version == KIND_VERSION
        else Check("kind", "warn", f"{version}; kind-config.yaml pins the node image of kind {KIND_VERSION}")
    ]
    clusters = run("kind", "get", "clusters")
    exists = bool(clusters and cluster in clusters.stdout.split())
    return checks, exists


def port_checks(ports: list[int], cluster_exists: bool, cluster: str) -> list[Check]:
    checks = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
                free = True
            except OSError:
                free = False
        if free:
            checks.append(Check(f"port {port}", "ok", "free"))
        elif cluster_exists:
            checks.append(Check(f"port {port}", "ok", f"held, presumably by the existing cluster {cluster}"))
        else:
            checks.append(
                Check(
                    f"port {port}",
                    "FAIL",
                    f"127.0.0.1:{port} is in use, and kind-config.yaml maps it: stop what listens there "
                    f"(`lsof -i :{port}`), or change the port in kind-config.yaml and taskfiles/k8s.yml",
                )
            )
    return checks


def inotify_checks(proc: Path) -> list[Check]:
    checks = []
    for name, wanted in INOTIFY.items():
        path = proc / name
        if not path.exists():
            continue
        value = int(path.read_text().split()[0])
        if value >= wanted:
            checks.append(Check(f"inotify {name}", "ok", str(value)))
        else:
            checks.append(
                Check(
                    f"inotify {name}",
                    "warn",
                    f"{value}; kind's pods may fail with 'too many open files': sudo sysctl fs.inotify.{name}={wanted}",
                )
            )
    return checks


def kubectl_checks(venv_bin: Path) -> list[Check]:
    if os.access(venv_bin / "kubectl", os.X_OK):
        return [Check("kubectl", "ok", str(venv_bin / "kubectl"))]
    return [Check("kubectl", "FAIL", f"{venv_bin / 'kubectl'} is missing: run `python3 dev.py setup`")]


def diagnose(cluster: str, ports: list[int], venv_bin: Path, proc: Path, meminfo: Path) -> list[Check]:
    checks, info = docker_info()
    if info is not None:
        checks += engine_checks(info)
        checks += free_memory_checks(info, meminfo)
    found, cluster_exists = kind_checks(cluster)
    checks += found
    checks += kubectl_checks(venv_bin)
    checks += port_checks(ports, cluster_exists, cluster)
    if sys.platform.startswith("linux"):
        checks += inotify_checks(proc)
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", default="sentinel")
    parser.add_argument("--ports", type=int, nargs="*", default=[])
    parser.add_argument("--venv-bin", type=Path, default=Path(sys.executable).parent)
    parser.add_argument("--proc", type=Path, default=Path("/proc/sys/fs/inotify"), help=argparse.SUPPRESS)
    parser.add_argument("--meminfo", type=Path, default=Path("/proc/meminfo"), help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    checks = diagnose(options.cluster, options.ports, options.venv_bin, options.proc, options.meminfo)
    width = max(len(check.name) for check in checks)
    for check in checks:
        print(f"{check.status:<4}  {check.name:<{width}}  {check.detail}")
    failed = [check.name for check in checks if check.status == "FAIL"]
    print(
        f"\n{len(failed)} to change before `task k8s:up`: {', '.join(failed)}" if failed else "\nready for task k8s:up"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
