"""Fetch a dataset from Google Drive with gdown, keep it in a local cache, and verify it by sha256.

The cache holds `gdrive-<file id>.csv` and, beside it, the sha256 it had when it
was downloaded. A cached file is used only while it still hashes to that value;
with SENTINEL_DATASET_SHA256 set, a download must also hash to the expected value,
so a file that changed on Drive is refused rather than trained on.

`download` makes one attempt; the Prefect task that calls it retries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path

Fetch = Callable[[str, Path], None]
"""Download Drive file `file_id` to `destination`, raising on failure."""

_FILE_ID = re.compile(r"[A-Za-z0-9_-]{10,}")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """The dataset could not be downloaded; the message says what to do instead."""


def fetch_from_drive(file_id: str, destination: Path) -> None:
    """gdown's download of a public Drive file, without cookies or output of its own."""
    import gdown

    gdown.download(id=file_id, output=str(destination), quiet=True, use_cookies=False, timeout=60)


def cached_path(cache_dir: Path, file_id: str) -> Path:
    return cache_dir / f"gdrive-{file_id}.csv"


def download(
    file_id: str, cache_dir: Path, *, expected_sha256: str | None = None, fetch: Fetch = fetch_from_drive
) -> Path:
    """The path of the verified local copy of Drive file `file_id`, downloading it unless cached."""
    if not _FILE_ID.fullmatch(file_id):
        raise DownloadError(
            f"{file_id!r} is not a Google Drive file id: use the part between /d/ and /view"
            " of the file's sharing link (SENTINEL_DATASET_GDRIVE_ID)"
        )
    expected = expected_sha256.lower().strip() if expected_sha256 else None
    target = cached_path(cache_dir, file_id)
    recorded = target.with_name(target.name + ".sha256")
    if target.is_file() and recorded.is_file():
        known = recorded.read_text().strip()
        if sha256_of(target) == known and expected in (None, known):
            return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        fetch(file_id, partial)
    except Exception as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download Google Drive file {file_id}: {_first_line(error)}. Check that the file is shared"
            " as 'Anyone with the link' and that this machine can reach drive.google.com; or download it yourself"
            " and train on it with `sentinel retrain --source csv:PATH`"
        ) from error
    if not partial.is_file():
        raise DownloadError(f"downloading Google Drive file {file_id} produced no file")
    actual = sha256_of(partial)
    if expected is not None and actual != expected:
        partial.unlink()
        raise DownloadError(
            f"Google Drive file {file_id} has sha256 {actual}, not the expected {expected}"
            " (SENTINEL_DATASET_SHA256): the file changed on Drive, or the id is wrong."
            " Set SENTINEL_DATASET_SHA256 to the new value if the change is intended"
        )
    partial.replace(target)
    recorded.write_text(actual + "\n")
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
