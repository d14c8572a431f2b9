"""One loader for every training source, named by a short spec, and the allow-list they must pass.

- `synthetic` (the default): the built-in generator, `rows` rows for `seed`;
- `csv:PATH`, or a path ending in .csv: a CSV in the public credit-card fraud dataset's format,
  only a `.csv` file inside the data directory (SENTINEL_DATA_DIR; a relative PATH is taken there);
- `gdrive:FILE_ID@SHA256`, or `gdrive` for SENTINEL_DATASET_GDRIVE_ID with SENTINEL_DATASET_SHA256:
  that Google Drive file, fetched with gdown, cached, and used only if it has that sha256;
- `postgres`: labelled history, scored transactions with their latest label (DATABASE_URL).

A flow run's `source` parameter comes from whoever can reach Prefect's API, so nothing
else is read: no other path, no Drive file of unknown content. The checks run when a
spec is parsed and again when a source is loaded. Every source's rows pass the same
schema check (training.dataset), whose messages never quote the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from training import csv_file, gdrive, history, synthetic
from training.dataset import Dataset, check
from training.settings import TrainingSettings

KINDS = ("synthetic", "csv", "gdrive", "postgres")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class SourceError(ValueError):
    """A source spec that names no usable source, or one outside the allow-list."""


@dataclass(frozen=True)
class Source:
    kind: str  # one of KINDS
    location: str = ""  # the CSV path or the Drive file id
    sha256: str = ""  # what a Drive file must hash to

    @classmethod
    def parse(cls, spec: str, settings: TrainingSettings) -> Source:
        kind, _, location = spec.strip().partition(":")
        if location == "" and kind.lower().endswith(".csv"):
            return cls("csv", str(allowed_csv(kind, settings)))
        if kind == "csv" and location:
            return cls("csv", str(allowed_csv(location, settings)))
        if kind == "gdrive":
            file_id, _, sha256 = location.partition("@")
            file_id = file_id or settings.gdrive_id or ""
            if not file_id:
                raise SourceError(
                    "`gdrive` needs a file id: give `gdrive:FILE_ID@SHA256` or set SENTINEL_DATASET_GDRIVE_ID"
                )
            if not sha256 and file_id == settings.gdrive_id:
                sha256 = settings.dataset_sha256 or ""
            return cls("gdrive", file_id, required_sha256(file_id, sha256))
        if kind in ("synthetic", "postgres") and not location:
            return cls(kind)
        raise SourceError(
            f"unknown data source {spec!r}: use synthetic, csv:PATH, gdrive:FILE_ID@SHA256 (or gdrive with"
            " SENTINEL_DATASET_GDRIVE_ID and SENTINEL_DATASET_SHA256 set), or postgres"
        )

    @property
    def spec(self) -> str:
        """The spec `parse` reads back as this source."""
        if self.sha256:
            return f"{self.kind}:{self.location}@{self.sha256}"
        return f"{self.kind}:{self.location}" if self.location else self.kind

    def describe(self, *, rows: int, seed: int) -> str:
        """What the data is, for the registry's data fingerprint and for people."""
        return f"synthetic:rows={rows}:seed={seed}" if self.kind == "synthetic" else self.spec


def allowed_csv(location: str, settings: TrainingSettings) -> Path:
    """The resolved path of a `.csv` file inside the data directory; SourceError for any other.

    Symbolic links are followed first, so a link inside the directory to a file outside it
    is refused too. Nothing is read or even looked up before the path is allowed.
    """
    root = settings.csv_dir.expanduser().resolve()
    given = Path(location).expanduser()
    path = (given if given.is_absolute() else root / given).resolve()
    if path == root or not path.is_relative_to(root):
        raise SourceError(
            f"{location!r} is outside the data directory {root}: training reads CSV files only from there"
            " (SENTINEL_DATA_DIR); copy the file into it"
        )
    if path.suffix.lower() != ".csv":
        raise SourceError(f"{location!r} is not a .csv file: training reads only CSV files from {root}")
    return path


def required_sha256(file_id: str, sha256: str) -> str:
    """`sha256` in lower case; SourceError unless it is one: a Drive file of unknown content is not trained on."""
    if not sha256:
        raise SourceError(
            f"Google Drive file {file_id} has no sha256 to check it against: give `gdrive:{file_id}@SHA256`"
            " (or set SENTINEL_DATASET_SHA256 for SENTINEL_DATASET_GDRIVE_ID)"
        )
    if not _SHA256.fullmatch(sha256.strip().lower()):
        raise SourceError(f"the sha256 given for Google Drive file {file_id} is not 64 hexadecimal digits")
    return sha256.strip().lower()


def load(
    source: Source,
    settings: TrainingSettings,
    *,
    rows: int,
    seed: int,
    fetch: gdrive.Fetch | None = None,
) -> Dataset:
    """The checked rows of `source`; raises SourceError, DataError, or DownloadError for a failed download."""
    if source.kind == "synthetic":
        return check(synthetic.generate(rows, seed=seed), origin=source.describe(rows=rows, seed=seed))
    if source.kind == "csv":
        return csv_file.read(allowed_csv(source.location, settings))
    if source.kind == "gdrive":
        return csv_file.read(download(source, settings, fetch=fetch))
    if source.kind == "postgres":
        return history.read(settings.database_url)
    raise SourceError(f"unknown kind of data source {source.kind!r}")


def download(source: Source, settings: TrainingSettings, *, fetch: gdrive.Fetch | None = None) -> Path:
    """The local, verified copy of a Drive source (gdown's download unless `fetch` is given)."""
    return gdrive.download(
        source.location,
        settings.dataset_cache_dir,
        expected_sha256=required_sha256(source.location, source.sha256),
        fetch=fetch or gdrive.fetch_from_drive,
    )
