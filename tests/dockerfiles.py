"""The project's images as their Dockerfiles describe them, for the tests that check the images.

An image is named as `task k8s:up` names it: each function's (ingest, score, ...) is
built from images/function.Dockerfile with the build argument FUNCTION=<name>, every
other from images/<name>.Dockerfile.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from eventing import topology
from sentinel.config import PROJECT_ROOT

IMAGES_DIR = PROJECT_ROOT / "images"
FUNCTIONS = sorted(topology.load().functions)
IMAGES = [
    *FUNCTIONS,
    *sorted(
        path.name.removesuffix(".Dockerfile")
        for path in IMAGES_DIR.glob("*.Dockerfile")
        if path.name != "function.Dockerfile"
    ),
]
SHELL_OPERATORS = {"&&", "||", ";", "|"}


@dataclass(frozen=True)
class Copy:
    """One COPY from the build context: its sources as written, and where they go (relative to WORKDIR)."""

    sources: tuple[str, ...]
    destination: str


def dockerfile_of(image: str) -> tuple[str, dict[str, str]]:
    """The Dockerfile that builds `image`, and its build arguments: a function's is images/function.Dockerfile."""
    if image in FUNCTIONS:
        return "function", {"FUNCTION": image}
    return image, {}


def dockerfile(name: str, build_args: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(instruction, arguments) of images/<name>.Dockerfile, continuation lines joined, build arguments filled in."""
    text = (IMAGES_DIR / f"{name}.Dockerfile").read_text().replace("\\\n", " ")
    for argument, value in (build_args or {}).items():
        text = text.replace(f"${{{argument}}}", value)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def instructions(image: str, instruction: str) -> list[str]:
    """The arguments of every `instruction` in the image's Dockerfile, in every stage."""
    return [arguments for kind, arguments in dockerfile(*dockerfile_of(image)) if kind == instruction]


def final_stage(image: str) -> list[tuple[str, str]]:
    """The instructions after the last FROM: what the image that runs is made of."""
    steps = dockerfile(*dockerfile_of(image))
    last_from = max(index for index, (kind, _) in enumerate(steps) if kind == "FROM")
    return steps[last_from + 1 :]


def image_command(image: str) -> list[str]:
    (command,) = instructions(image, "CMD")
    return json.loads(command)


def image_env(image: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for arguments in instructions(image, "ENV") for pair in shlex.split(arguments))


def workdir(image: str) -> str:
    """The final stage's WORKDIR, where its COPYs land."""
    return [arguments for kind, arguments in final_stage(image) if kind == "WORKDIR"][-1]


def copies(image: str) -> list[Copy]:
    """What the running image copies from the project (COPY <source>... <destination>), in order."""
    found = []
    for kind, arguments in final_stage(image):
        if kind == "COPY" and not arguments.startswith("--from"):
            *sources, destination = arguments.split()
            found.append(Copy(tuple(sources), destination))
    return found


def copied_paths(image: str) -> set[str]:
    """Every project path the running image copies, as written, without a trailing slash."""
    return {source.rstrip("/") for copy in copies(image) for source in copy.sources}


def uv_sync_arguments(image: str) -> list[str]:
    """The arguments the image's `uv sync` runs with, e.g. ["--frozen", "--no-dev", "--extra", "ui"]."""
    (sync,) = [arguments for arguments in instructions(image, "RUN") if "uv sync" in arguments]
    words = shlex.split(sync)
    start = next(index for index in range(len(words) - 1) if words[index : index + 2] == ["uv", "sync"]) + 2
    end = next((index for index in range(start, len(words)) if words[index] in SHELL_OPERATORS), len(words))
    arguments = words[start:end]
    assert "--no-dev" in arguments and "--frozen" in arguments and "--all-extras" not in arguments, sync
    return arguments


def extras_installed(image: str) -> set[str]:
    """The extras the image's `uv sync` installs."""
    arguments = uv_sync_arguments(image)
    return {value for option, value in zip(arguments, arguments[1:], strict=False) if option == "--extra"}
