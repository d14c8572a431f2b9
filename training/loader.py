"""One loader for every training source, named by a short spec.

- `synthetic` (the default): the built-in generator, `rows` rows for `seed`;
- `csv:PATH`, or a path ending in .csv: a CSV in the public credit-card fraud dataset's format;
- `gdrive:FILE_ID`, or `gdrive` for SENTINEL_DATASET_GDRIVE_ID: that Google Drive file,
  fetched with gdown, cached and verified by sha256;
- `postgres`: labelled history, scored transactions with their latest label (DATABASE_URL).

Every source's rows pass the same schema check (training.dataset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training import csv_file, gdrive, history, synthetic
from training.dataset import Dataset, check
from training.settings import TrainingSettings

KINDS = ("synthetic", "csv", "gdrive", "postgres")


class SourceError(ValueError):
    """A source spec that names no usable source."""


@dataclass(frozen=True)
class Source:
    kind: str  # one of KINDS
    location: str = ""  # the CSV path or the Drive file id

    @classmethod
    def parse(cls, spec: str, settings: TrainingSettings) -> Source:
        kind, _, location = spec.strip().partition(":")
        if location == "" and kind.lower().endswith(".csv"):
            return cls("csv", str(Path(kind).expanduser().resolve()))
        if kind == "csv" and location:
            return cls("csv", str(Path(location).expanduser().resolve()))
        if kind == "gdrive":
            file_id = location or settings.gdrive_id
            if not file_id:
                raise SourceError("`gdrive` needs a file id: give `gdrive:FILE_ID` or set SENTINEL_DATASET_GDRIVE_ID")
            return cls("gdrive", file_id)
        if kind in ("synthetic", "postgres") and not location:
            return cls(kind)
        raise SourceError(
            f"unknown data source {spec!r}: use synthetic, csv:PATH, gdrive:FILE_ID (or gdrive with"
            " SENTINEL_DATASET_GDRIVE_ID set), or postgres"
        )

    @property
    def spec(self) -> str:
        """The spec `parse` reads back as this source."""
        return f"{self.kind}:{self.location}" if self.location else self.kind

    def describe(self, *, rows: int, seed: int) -> str:
        """What the data is, for the registry's data fingerprint and for people."""
        return f"synthetic:rows={rows}:seed={seed}" if self.kind == "synthetic" else self.spec


def load(
    source: Source,
    settings: TrainingSettings,
    *,
    rows: int,
    seed: int,
    fetch: gdrive.Fetch | None = None,
) -> Dataset:
    """The checked rows of `source`; raises DataError, or DownloadError for a failed download."""
    if source.kind == "synthetic":
        return check(synthetic.generate(rows, seed=seed), origin=source.describe(rows=rows, seed=seed))
    if source.kind == "csv":
        return csv_file.read(Path(source.location))
    if source.kind == "gdrive":
        return csv_file.read(download(source, settings, fetch=fetch))
    return history.read(settings.database_url)


def download(source: Source, settings: TrainingSettings, *, fetch: gdrive.Fetch | None = None) -> Path:
    """The local, verified copy of a Drive source (gdown's download unless `fetch` is given)."""
    return gdrive.download(
        source.location,
        settings.dataset_cache_dir,
        expected_sha256=settings.dataset_sha256,
        fetch=fetch or gdrive.fetch_from_drive,
    )
