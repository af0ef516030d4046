"""export.files.replace_text: a file shared by processes is never seen half written."""
import json
import os
import threading

import pytest

from export.config import PipelineConfig
from export.files import replace_text, replacing


def test_replace_text_writes_and_overwrites_leaving_no_temporary(tmp_path):
    path = tmp_path / "config.json"
    replace_text(path, "first")
    replace_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = replace_text(tmp_path / "config.json", "old")
    with pytest.raises(UnicodeEncodeError):
        replace_text(path, "\ud800")  # a lone surrogate cannot be encoded: the write fails midway
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_reader_never_sees_a_partly_saved_config(tmp_path):
    """The release check's side-by-side sweeps each rewrite the run folder's config.json while the
    others read it; a truncating write made a reader fail on an empty file."""
    path, config = tmp_path / "config.json", PipelineConfig()
    config.save(path)
    stop = threading.Event()

    def keep_saving():
        while not stop.is_set():
            config.save(path)

    writer = threading.Thread(target=keep_saving)
    writer.start()
    try:
        loaded = [json.loads(path.read_text()) for _ in range(300)]
    finally:
        stop.set()
        writer.join()
    assert all(d == config.to_dict() for d in loaded)


def test_writers_of_one_file_side_by_side_all_succeed(tmp_path):
    """Two processes filling one cache entry at once (the sweeps' YAMNet cache): with a temporary
    file of a fixed name the second rename found it gone."""
    path = tmp_path / "cache" / "yamnet_torch.pt"
    errors: list[BaseException] = []

    def write(text: str):
        try:
            for _ in range(100):
                with replacing(path) as tmp:
                    assert tmp.name.endswith(".pt") and tmp.parent == path.parent
                    tmp.write_text(text)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("a" * 1000, "b" * 1000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_text() in ("a" * 1000, "b" * 1000)
    assert [p.name for p in path.parent.iterdir()] == ["yamnet_torch.pt"]


def test_the_file_gets_the_permissions_of_a_plain_write(tmp_path):
    """A temporary file is private (0600); the run folder's files must stay readable as before."""
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    written = replace_text(tmp_path / "config.json", "{}")
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_the_permissions_follow_the_umask_of_the_moment(tmp_path):
    """The umask is the kernel's to apply at each write, not one read when the module was imported."""
    before = os.umask(0o077)
    try:
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
        written = replace_text(tmp_path / "config.json", "{}")
    finally:
        os.umask(before)
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o600


def test_opening_a_run_folder_leaves_an_unchanged_config_alone(tmp_path):
    """A sweep that opens a shared run folder does not rewrite its config when it says the same."""

    path = PipelineConfig().save(tmp_path / "config.json")
    os.utime(path, ns=(0, 0))
    PipelineConfig().save(path)
    assert path.stat().st_mtime_ns == 0
    PipelineConfig(seed=5).save(path)
    assert path.stat().st_mtime_ns != 0 and '"seed": 5' in path.read_text()
