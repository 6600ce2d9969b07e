"""The catalog's walk (``LocalStorage.repositories_after``) against a brute-force listing.

Names are chosen where folder order and string order part ways ("a-b" < "a/b" < "a0"), with
nested repositories, folders that are not repositories, and what must never be listed."""

from __future__ import annotations

import os

import pytest

from zot_server.storage.local import LocalStorage

REPOS = ["a", "a-b", "a/b", "a/b/c", "a/b-c", "a0", "a/z/deep/er", "b", "b/a", "c.d", "z"]


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "root"
    for name in REPOS:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "index.json").write_text('{"manifests": []}')
        (root / name / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "notarepo" / "inner").mkdir(parents=True)  # folders without a layout
    (root / "a" / "blobs" / "x").mkdir(parents=True)  # blobs are never walked
    (root / "a" / "blobs" / "x" / "index.json").write_text("{}")
    (root / "a" / "blobs" / "x" / "oci-layout").write_text("{}")
    (root / "a" / ".uploads").mkdir()
    os.symlink(root / "b", root / "link-to-b")  # symlinked folders are not followed
    return LocalStorage(str(root))


def test_all_names_in_string_order(store):
    assert store.repositories() == sorted(REPOS)


@pytest.mark.parametrize(
    "last", [None, "", "a", "a-b", "a/", "a/b", "a/b/c", "a/y", "a0", "b", "zz"]
)
def test_names_after_last(store, last):
    expected = [n for n in sorted(REPOS) if not last or n > last]
    assert list(store.repositories_after(last or None)) == expected


def test_folders_before_last_are_not_read(store, monkeypatch):
    read = []
    scandir = os.scandir

    def counting(path):
        read.append(os.path.relpath(path, store.root))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    assert list(store.repositories_after("b")) == ["b/a", "c.d", "z"]
    assert not any(p == "a" or p.startswith("a/") for p in read), read
