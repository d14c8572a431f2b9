"""The Google Drive source: gdown's real HTTP download, pointed at a local server, cached and verified by sha256."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import gdown
import pytest

from sentinel.core.transaction import FEATURE_NAMES
from training import gdrive
from training.dataset import DataError
from training.gdrive import DownloadError
from training.loader import Source, load
from training.settings import TrainingSettings

FILE_ID = "1TestFileIdForTheLoader"
CSV = (
    ",".join(f'"{name}"' for name in (*FEATURE_NAMES, "Class"))
    + "\n"
    + "".join(",".join(["1"] * 30) + f',"{label}"\n' for label in (0, 0, 1))
).encode()
PINNED = Source("gdrive", FILE_ID, hashlib.sha256(CSV).hexdigest())


class DriveStandIn:
    """Serves one file at /uc?id=FILE_ID, or whatever status and body a test sets; counts requests."""

    def __init__(self) -> None:
        self.status, self.body, self.requests = 200, CSV, 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                stand_in.requests += 1
                self.send_response(stand_in.status)
                self.send_header("Content-Length", str(len(stand_in.body)))
                self.end_headers()
                self.wfile.write(stand_in.body)

            def log_message(self, format: str, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def fetch(self, file_id: str, destination: Path) -> None:
        """What gdrive.fetch_from_drive does, with this server in place of drive.google.com."""
        gdown.download(url=f"{self.url}/uc?id={file_id}", output=str(destination), quiet=True, use_cookies=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def drive() -> Iterator[DriveStandIn]:
    stand_in = DriveStandIn()
    yield stand_in
    stand_in.stop()


def settings(tmp_path: Path, **changes) -> TrainingSettings:
    values = {"database_url": "", "state_dir": tmp_path, "gdrive_id": None, "dataset_sha256": None, **changes}
    return TrainingSettings(**values)


def test_a_drive_file_is_downloaded_with_gdown_cached_and_loaded(tmp_path, drive):
    configured = settings(tmp_path)
    dataset = load(PINNED, configured, rows=0, seed=0, fetch=drive.fetch)
    assert dataset.labels.tolist() == [0, 0, 1]
    cached = gdrive.cached_path(configured.dataset_cache_dir, FILE_ID)
    assert cached.read_bytes() == CSV
    assert drive.requests == 1


def test_a_cached_file_is_used_without_downloading_again(tmp_path, drive):
    configured = settings(tmp_path)
    for _ in range(2):
        load(PINNED, configured, rows=0, seed=0, fetch=drive.fetch)
    assert drive.requests == 1


def test_a_cached_file_that_no_longer_matches_its_sha256_is_downloaded_again(tmp_path, drive):
    cache = tmp_path / "cache"
    path = gdrive.download(FILE_ID, cache, fetch=drive.fetch)
    path.write_bytes(CSV[:-10])
    assert gdrive.download(FILE_ID, cache, fetch=drive.fetch).read_bytes() == CSV
    assert drive.requests == 2


def test_a_download_with_the_expected_sha256_is_accepted(tmp_path, drive):
    expected = hashlib.sha256(CSV).hexdigest()
    assert gdrive.download(FILE_ID, tmp_path, expected_sha256=expected.upper(), fetch=drive.fetch).is_file()


def test_a_download_with_another_sha256_is_refused_and_not_cached(tmp_path, drive):
    with pytest.raises(DownloadError, match="not the expected 0{64} .*SENTINEL_DATASET_SHA256"):
        gdrive.download(FILE_ID, tmp_path, expected_sha256="0" * 64, fetch=drive.fetch)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_says_what_to_do(tmp_path, drive):
    drive.status, drive.body = 500, b"backend error"
    with pytest.raises(DownloadError) as failure:
        gdrive.download(FILE_ID, tmp_path, fetch=drive.fetch)
    message = str(failure.value)
    assert f"could not download Google Drive file {FILE_ID}" in message
    assert "'Anyone with the link'" in message and "sentinel retrain --source csv:PATH" in message
    assert not gdrive.cached_path(tmp_path, FILE_ID).exists()


def test_an_unreachable_server_is_a_failed_download(tmp_path, drive):
    drive.stop()
    with pytest.raises(DownloadError, match="could not download"):
        gdrive.download(FILE_ID, tmp_path, fetch=drive.fetch)


def test_a_web_page_instead_of_the_file_is_not_a_csv(tmp_path, drive):
    drive.body = b"<!DOCTYPE html><html><body>Google Drive can't scan this file for viruses.</body></html>"
    page = Source("gdrive", FILE_ID, hashlib.sha256(drive.body).hexdigest())
    with pytest.raises(DataError, match="not a CSV file but a web page"):
        load(page, settings(tmp_path), rows=0, seed=0, fetch=drive.fetch)


def test_something_that_is_not_a_file_id_is_refused_before_any_download(tmp_path, drive):
    with pytest.raises(DownloadError, match="is not a Google Drive file id"):
        gdrive.download("https://drive.google.com/file/d/x", tmp_path, fetch=drive.fetch)
    assert drive.requests == 0
