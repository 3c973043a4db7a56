"""Results shared between runs: keys follow the contents, one computation for concurrent askers."""

import threading

import numpy as np

from analysis_lib.core.cache import content_key, shared_result


def test_keys_follow_contents():
    a = {"x": np.arange(5.0), "y": [1, "b"]}
    assert content_key(a, 0.5) == content_key({"y": [1, "b"], "x": np.arange(5.0)}, 0.5)
    assert content_key(a, 0.5) != content_key(a, 0.6)
    assert content_key(np.arange(5.0)) != content_key(np.arange(5))  # dtype counts
    assert content_key(np.zeros((2, 3))) != content_key(np.zeros((3, 2)))


def test_a_result_is_computed_once_and_reused(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(3)

    threads = [threading.Thread(target=shared_result, args=(tmp_path, "r", "k1", compute)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    np.testing.assert_array_equal(shared_result(tmp_path, "r", "k1", compute), np.arange(3))
    assert len(calls) == 1
    shared_result(tmp_path, "r", "k2", compute)  # another key: computed
    assert len(calls) == 2


def test_a_full_disk_keeps_no_half_written_result(tmp_path, monkeypatch):
    import errno
    import pickle

    import pytest

    from analysis_lib.core.errors import DiskFullError

    def full(obj, f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pickle, "dump", full)
    with pytest.raises(DiskFullError, match="No space left on device while writing .*table"):
        shared_result(tmp_path, "table", "k", lambda: {"x": 1})
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
