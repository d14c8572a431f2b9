#!/usr/bin/env python3
"""Set up Sentinel from nothing but Python 3.11+, then run the demo or the tests.

    python3 dev.py demo     # install, start the local stack, stream demo traffic
    python3 dev.py test     # install, run the whole test suite (extra args go to pytest)

Installs into ./.venv: uv (at the version uv.lock pins), then every dependency
exactly as uv.lock pins it; for `test`, also Debian's chromium for the browser
tests when it is missing. Uses only the standard library, so it runs before
anything else is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
CHROMIUM = Path("/usr/bin/chromium")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def locked_uv_version() -> str:
    lock = (ROOT / "uv.lock").read_text()
    match = re.search(r'\[\[package\]\]\nname = "uv"\nversion = "([^"]+)"', lock)
    if not match:
        sys.exit("uv.lock does not pin uv; run `uv lock` with uv in the dev group")
    return match.group(1)


def ensure_venv() -> None:
    if not (BIN / "python").exists():
        say(f"creating a virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    version = locked_uv_version()
    installed = (
        subprocess.run([str(BIN / "uv"), "--version"], capture_output=True, text=True).stdout
        if (BIN / "uv").exists()
        else ""
    )
    if version not in installed:
        say(f"installing uv {version}")
        subprocess.run(
            [str(BIN / "python"), "-m", "pip", "install", "--quiet", f"uv=={version}"],
            check=True,
        )


def sync_dependencies() -> None:
    say("installing dependencies from uv.lock")
    env = dict(os.environ, UV_PROJECT_ENVIRONMENT=str(VENV), UV_PYTHON_DOWNLOADS="never")
    subprocess.run(
        [str(BIN / "uv"), "sync", "--frozen", "--all-extras", "--python", str(BIN / "python")],
        cwd=ROOT,
        env=env,
        check=True,
    )


def ensure_chromium() -> None:
    """The browser tests drive Debian's chromium; install it when it is missing and this can."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        say(f"{CHROMIUM} is missing and installing it needs root and apt-get: the browser tests will be skipped")
        return
    say("installing Debian's chromium for the browser tests")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(command, env=env).returncode != 0:
            say(f"`{' '.join(command)}` failed: the browser tests will be skipped")
            return


def run(command: list[str]) -> int:
    env = dict(os.environ, VIRTUAL_ENV=str(VENV), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(command, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        sys.exit(f"Sentinel needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not argv or argv[0] not in {"demo", "test", "setup"}:
        print(__doc__)
        return 2
    ensure_venv()
    sync_dependencies()
    action, rest = argv[0], argv[1:]
    if action == "demo":
        return run([str(BIN / "sentinel"), "demo", *rest])
    if action == "test":
        ensure_chromium()
        return run([str(BIN / "python"), "-m", "pytest", *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
