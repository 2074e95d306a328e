"""What a release writes besides its log row (analysis.versions.release_files), on a copy of data/."""
from __future__ import annotations

import csv
import hashlib
import io
import zipfile

import pytest

from analysis.versions import release_archive, release_command
from analysis.versions.release_files import SIDECARS, archive_bytes, read_sidecar


def test_every_sidecar_has_its_columns_and_only_released_versions():
    listed = set(release_archive.read_releases()["version"])
    for name, columns in SIDECARS.items():
        path = release_archive.releases_dir() / name
        assert path.exists(), name
        header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert tuple(header) == columns, name
        assert set(read_sidecar(name)["version"]) <= listed, name


def test_the_archive_is_deterministic_and_holds_the_data_and_the_results(data_copy):
    header, rows = b"version,question\n", b"9.0.0,q1\n"
    first, contents = archive_bytes("9.0.0", "2026-12-01", rows, header)
    second, _ = archive_bytes("9.0.0", "2026-12-01", rows, header)
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    assert contents == "data, results"  # no _build/html beside the copy
    with zipfile.ZipFile(io.BytesIO(first)) as bundle:
        names = bundle.namelist()
        assert "review-9.0.0/results.csv" in names
        assert bundle.read("review-9.0.0/data/living_mode.csv") == (data_copy / "living_mode.csv").read_bytes()
        assert not any("/data/releases/" in name for name in names)


def test_rows_of_an_unlisted_release_stop_the_next_release(data_copy):
    path = data_copy / "releases" / "flow.csv"
    with path.open("a", encoding="utf-8") as stream:
        stream.write("9.9.9,q1,1,1,0,1,1,0,0,0\n")
    with pytest.raises(release_archive.ReleaseError, match="interrupted release"):
        release_command.plan_release("test", date="2026-12-01")
