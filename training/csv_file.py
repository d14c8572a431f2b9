"""Read a CSV in the format of the public credit-card fraud dataset (creditcard.csv).

That file has a header row `"Time","V1",...,"V28","Amount","Class"`, plain numbers,
and the Class column quoted as "0" / "1"; Python's csv module reads the quotes
away. Other columns are ignored, and the order of columns does not matter.

Rows are converted in chunks, so even the full 284,807-row file never holds more
than a chunk of Python strings at once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from training.dataset import REQUIRED_COLUMNS, DataError, Dataset, from_rows, require_columns, to_numbers

CHUNK_ROWS = 50_000
_SNIFF_BYTES = 4096
_ARCHIVES = {b"\x1f\x8b": "a gzip archive", b"PK\x03\x04": "a zip archive", b"BZh": "a bzip2 archive"}


def read(path: Path) -> Dataset:
    """The labelled rows of the CSV file at `path`; raises DataError when it cannot be used."""
    origin = str(path)
    if not path.is_file():
        raise DataError(f"{origin} does not exist or is not a file")
    _require_text(path)
    lines: list[int] = []  # the file line of each data row, for error messages
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.reader(file)
        try:
            header = [name.strip() for name in next(reader)]
            require_columns(header, origin=origin)
            chunks = list(_numeric_chunks(reader, header, lines, origin))
        except UnicodeDecodeError:
            raise DataError(f"{origin} is not a CSV file: it is not UTF-8 text") from None
        except csv.Error as error:
            raise DataError(f"{origin} is not a CSV file: {error}") from error
        except StopIteration:
            raise DataError(f"{origin} is empty") from None
    values = np.concatenate(chunks) if chunks else np.empty((0, len(REQUIRED_COLUMNS)))
    return from_rows(values, columns=REQUIRED_COLUMNS, origin=origin, row_label=lambda index: f"line {lines[index]}")


def _numeric_chunks(reader, header: list[str], lines: list[int], origin: str) -> Iterator[np.ndarray]:
    """The required columns of every data row, as float64 arrays of up to CHUNK_ROWS rows."""
    wanted = [header.index(name) for name in REQUIRED_COLUMNS]
    rows: list[list[str]] = []
    for row in reader:
        if not row:
            continue  # a blank line
        if len(row) != len(header):
            raise DataError(f"{origin}: line {reader.line_num} has {len(row)} fields, but the header has {len(header)}")
        rows.append([row[position] for position in wanted])
        lines.append(reader.line_num)
        if len(rows) == CHUNK_ROWS:
            yield _chunk(rows, lines, origin)
            rows = []
    if rows:
        yield _chunk(rows, lines, origin)


def _chunk(rows: list[list[str]], lines: list[int], origin: str) -> np.ndarray:
    chunk_lines = lines[-len(rows) :]
    return to_numbers(
        rows, columns=REQUIRED_COLUMNS, origin=origin, row_label=lambda index: f"line {chunk_lines[index]}"
    )


def _require_text(path: Path) -> None:
    """Refuse archives, binary files and web pages with a message that says what the file is."""
    with path.open("rb") as file:
        head = file.read(_SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"{path} is empty")
    for magic, kind in _ARCHIVES.items():
        if head.startswith(magic):
            raise DataError(f"{path} is not a CSV file but {kind}: unpack it and give the CSV inside")
    if b"\x00" in head:
        raise DataError(f"{path} is not a CSV file: it holds binary data")
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        raise DataError(
            f"{path} is not a CSV file but a web page; a download that needs a login or hit a quota"
            " returns one instead of the file"
        )
