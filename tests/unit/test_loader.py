"""The loader: sources by spec, the public dataset's CSV format, and a clear error for each kind of bad data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sentinel.core.transaction import FEATURE_NAMES
from training.dataset import DataError
from training.loader import Source, SourceError, load
from training.settings import TrainingSettings
from training.synthetic import generate

HEADER = ",".join(f'"{name}"' for name in (*FEATURE_NAMES, "Class"))


@pytest.fixture
def settings(tmp_path: Path) -> TrainingSettings:
    return TrainingSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        state_dir=tmp_path,
        gdrive_id=None,
        dataset_sha256=None,
        data_dir=tmp_path,
    )


def public_format(features: np.ndarray, labels: np.ndarray) -> str:
    """Rows as creditcard.csv writes them: quoted header, Time as an integer, Class quoted as "0" / "1"."""
    lines = [HEADER]
    for row, label in zip(features.astype(np.float64), labels, strict=True):
        lines.append(",".join([str(int(row[0])), *(repr(float(value)) for value in row[1:])]) + f',"{label}"')
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def valid_rows(count: int = 3) -> list[list[str]]:
    """`count` rows of 31 values, the last one fraud."""
    return [["0"] * 30 + ["1" if index == count - 1 else "0"] for index in range(count)]


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([",".join(header), *(",".join(row) for row in rows)]) + "\n"


COLUMNS = [*FEATURE_NAMES, "Class"]
SHA = "ab" * 32


def load_csv(path: Path, settings: TrainingSettings):
    return load(Source.parse(f"csv:{path}", settings), settings, rows=0, seed=0)


def test_the_loader_reads_a_csv_in_the_public_datasets_exact_format(tmp_path, settings):
    expected = generate(3_000, seed=4)
    path = write(tmp_path, public_format(expected.features, expected.labels), "creditcard.csv")
    assert path.read_text().startswith('"Time","V1","V2"')
    assert path.read_text().splitlines()[1].endswith(('"0"', '"1"'))

    dataset = load_csv(path, settings)

    assert np.array_equal(dataset.features, expected.features)
    assert np.array_equal(dataset.labels, expected.labels)
    assert dataset.features.dtype == np.float32 and dataset.labels.dtype == np.int8
    assert dataset.event_times is None


def test_column_order_does_not_matter_and_extra_columns_are_ignored(tmp_path, settings):
    header = ["Class", "note", *reversed(FEATURE_NAMES)]
    rows = [["1", "x", *(["2.5"] * 30)], ["0", "y", *(["1.5"] * 30)]]
    dataset = load_csv(write(tmp_path, csv_text(header, rows)), settings)
    assert dataset.labels.tolist() == [1, 0]
    assert dataset.features[:, 0].tolist() == [2.5, 1.5]


def test_missing_columns_are_named(tmp_path, settings):
    header = [name for name in COLUMNS if name not in ("V3", "Amount")]
    path = write(tmp_path, csv_text(header, [row[:29] for row in valid_rows()]))
    with pytest.raises(DataError, match=r"missing 2 columns V3, Amount"):
        load_csv(path, settings)


def test_a_non_numeric_value_is_reported_with_its_line_and_column_but_not_quoted(tmp_path, settings):
    rows = valid_rows(4)
    rows[2][7] = "abc"
    with pytest.raises(DataError, match=r"line 4 has a value in column V7 that is not a number") as refusal:
        load_csv(write(tmp_path, csv_text(COLUMNS, rows)), settings)
    assert "abc" not in str(refusal.value)


def test_an_empty_value_is_not_a_number(tmp_path, settings):
    rows = valid_rows(3)
    rows[0][29] = ""
    with pytest.raises(DataError, match=r"line 2 has a value in column Amount that is not a number"):
        load_csv(write(tmp_path, csv_text(COLUMNS, rows)), settings)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_non_finite_values_are_refused(tmp_path, settings, value):
    rows = valid_rows(3)
    rows[1][14] = value
    with pytest.raises(DataError, match=r"line 3 has .* in column V14; every value must be a finite number"):
        load_csv(write(tmp_path, csv_text(COLUMNS, rows)), settings)


def test_a_class_other_than_0_or_1_is_refused(tmp_path, settings):
    rows = valid_rows(3)
    rows[0][30] = "2"
    with pytest.raises(DataError, match=r"line 2 has a value in column Class other than 0 \(legitimate\) or 1"):
        load_csv(write(tmp_path, csv_text(COLUMNS, rows)), settings)


def test_data_without_fraud_has_no_positive_class(tmp_path, settings):
    rows = [["0"] * 31 for _ in range(5)]
    with pytest.raises(DataError, match=r"no positive class: none of its 5 rows has Class 1"):
        load_csv(write(tmp_path, csv_text(COLUMNS, rows)), settings)


def test_a_row_with_too_few_fields_is_refused(tmp_path, settings):
    text = csv_text(COLUMNS, valid_rows(3)) + "1,2,3\n"
    with pytest.raises(DataError, match=r"line 5 has 3 fields, but the header has 31"):
        load_csv(write(tmp_path, text), settings)


def test_a_header_without_rows_has_no_rows(tmp_path, settings):
    with pytest.raises(DataError, match="has no rows"):
        load_csv(write(tmp_path, HEADER + "\n"), settings)


def test_an_empty_file_is_refused(tmp_path, settings):
    with pytest.raises(DataError, match="is empty"):
        load_csv(write(tmp_path, ""), settings)


def test_a_gzip_archive_is_not_a_csv(tmp_path, settings):
    path = tmp_path / "creditcard.csv"
    path.write_bytes(gzip.compress(csv_text(COLUMNS, valid_rows()).encode()))
    with pytest.raises(DataError, match="is not a CSV file but a gzip archive"):
        load_csv(path, settings)


def test_a_web_page_is_not_a_csv(tmp_path, settings):
    path = write(tmp_path, "<!DOCTYPE html><html><title>Google Drive - Quota exceeded</title></html>")
    with pytest.raises(DataError, match="is not a CSV file but a web page"):
        load_csv(path, settings)


def test_binary_data_is_not_a_csv(tmp_path, settings):
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DataError, match="is not a CSV file"):
        load_csv(path, settings)


def test_a_semicolon_separated_file_is_missing_every_column_without_its_header_quoted(tmp_path, settings):
    text = "\n".join([";".join(COLUMNS), *(";".join(row) for row in valid_rows())])
    with pytest.raises(DataError, match=r"missing 31 columns .* its header has 1 column$") as refusal:
        load_csv(write(tmp_path, text), settings)
    assert "Time;V1" not in str(refusal.value)


def test_a_missing_file_is_named(tmp_path, settings):
    with pytest.raises(DataError, match="does not exist"):
        load_csv(tmp_path / "nowhere.csv", settings)


def test_the_synthetic_source_is_the_generator_for_rows_and_seed(settings):
    dataset = load(Source.parse("synthetic", settings), settings, rows=4_000, seed=9)
    assert dataset.fingerprint() == generate(4_000, seed=9).fingerprint()
    assert dataset.true_probability is not None and dataset.event_times is not None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("synthetic", Source("synthetic")),
        ("postgres", Source("postgres")),
        ("gdrive:1AbCdEfGhIjKlMnOp@" + SHA, Source("gdrive", "1AbCdEfGhIjKlMnOp", SHA)),
    ],
)
def test_source_specs_parse(settings, spec, expected):
    assert Source.parse(spec, settings) == expected
    assert Source.parse(expected.spec, settings) == expected


def test_a_path_ending_in_csv_is_a_csv_source(settings, tmp_path):
    assert Source.parse(str(tmp_path / "creditcard.csv"), settings) == Source("csv", str(tmp_path / "creditcard.csv"))


def test_gdrive_without_an_id_says_where_to_give_one(settings):
    with pytest.raises(SourceError, match="SENTINEL_DATASET_GDRIVE_ID"):
        Source.parse("gdrive", settings)


def test_gdrive_takes_its_id_and_sha256_from_the_settings(settings):
    configured = TrainingSettings(**{**settings.__dict__, "gdrive_id": "1AbCdEfGhIjKlMnOp", "dataset_sha256": SHA})
    assert Source.parse("gdrive", configured) == Source("gdrive", "1AbCdEfGhIjKlMnOp", SHA)


def test_an_unknown_source_lists_the_known_ones(settings):
    with pytest.raises(SourceError, match="use synthetic, csv:PATH, gdrive:FILE_ID@SHA256"):
        Source.parse("kaggle", settings)
