"""Every module an image ships imports with only what that image installs, without building it.

For each image this lays out what its Dockerfile copies into its WORKDIR, builds a
virtual environment with the very `uv sync` the Dockerfile runs (uv.lock, the same
extras, no dev group, not the project itself), and imports every copied module with
that environment's Python and only the laid-out directory on its path, as the image
runs it. So a module that imports what its image neither copies nor installs fails
here, as it would in the cluster. uv links the environments from its cache (about a
second each), and the four function images, which install the same, share one.

The environments use the interpreter .venv was made from; the images use Python of
the same minor version (python:3.11-slim).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dockerfiles import IMAGES, copies, image_env, uv_sync_arguments, workdir

from sentinel.config import PROJECT_ROOT

UV = Path(sys.executable).parent / "uv"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
# Imports each module named on the command line; prints {module: why it failed} as its last line.
IMPORT_EACH = """
import importlib, json, os, sys, traceback

app = os.environ["PYTHONPATH"]
failures = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as error:
        shipped = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(app + os.sep)]
        where = f" (at {os.path.relpath(shipped[-1].filename, app)}:{shipped[-1].lineno})" if shipped else ""
        failures[name] = f"{type(error).__name__}: {error}{where}"
print(json.dumps(failures))
"""


@pytest.fixture(scope="session")
def environment_for(tmp_path_factory) -> Iterator[Callable[[tuple[str, ...]], Path]]:
    """The virtual environment `uv sync <arguments>` makes, built once per test session for each argument list."""
    if not UV.exists():
        pytest.skip(f"{UV} is missing: run `python3 dev.py setup` (uv is in the dev group)")
    built: dict[tuple[str, ...], Path] = {}

    def environment(arguments: tuple[str, ...]) -> Path:
        if arguments not in built:
            target = tmp_path_factory.mktemp("image-environment") / "venv"
            env = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}
            env |= {"UV_PROJECT_ENVIRONMENT": str(target), "UV_PYTHON_DOWNLOADS": "never"}
            result = subprocess.run(
                [str(UV), "sync", *arguments, "--python", str(BASE_PYTHON)],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, f"uv sync {' '.join(arguments)} failed:\n{result.stderr}"
            built[arguments] = target
        return built[arguments]

    yield environment
    for target in built.values():
        shutil.rmtree(target)


def lay_out(image: str, app: Path) -> None:
    """Copy into `app` what the image copies into its WORKDIR, as `docker build` does."""
    assert image_env(image)["PYTHONPATH"] == workdir(image), f"{image} does not run its code from its WORKDIR"
    for copy in copies(image):
        destination = app / copy.destination
        for source in copy.sources:
            origin = PROJECT_ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into_directory = copy.destination.endswith("/") or len(copy.sources) > 1
                target = destination / origin.name if into_directory else destination
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def shipped_modules(app: Path) -> list[str]:
    """Every module under `app` by dotted name; a package's __main__ (which would start it) counts as the package."""
    names = set()
    for path in app.rglob("*.py"):
        parts = path.relative_to(app).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            parts = parts[:-1]
        if parts:
            names.add(".".join(parts))
    return sorted(names)


def import_each(python: Path, modules: list[str], app: Path, env: dict[str, str]) -> dict[str, str]:
    """{module: why it does not import} for `modules`, imported by `python` from `app` alone."""
    result = subprocess.run(
        [str(python), "-c", IMPORT_EACH, *modules], cwd=app, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip(), f"the imports did not finish:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("image", IMAGES)
def test_every_module_an_image_ships_imports_with_only_the_images_dependencies(image, environment_for, tmp_path):
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out(image, app)
    modules = shipped_modules(app)
    assert modules, f"{image} ships no Python module"
    environment = environment_for(tuple(uv_sync_arguments(image)))
    env = image_env(image) | {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(home)}
    failures = import_each(environment / "bin" / "python", modules, app, env)
    assert not failures, f"{image}: {len(failures)} of its {len(modules)} modules do not import:\n" + "\n".join(
        f"  {module}: {why}" for module, why in failures.items()
    )
