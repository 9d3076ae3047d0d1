"""The rollout cache: chunks with their own digests, resume, corruption, several writers at once."""

import threading

import numpy as np
import pytest

from stickeval.evaluation.cache import RolloutCache

N_ROWS, CHUNK = 10, 4  # chunks [0, 4), [4, 8), [8, 10)


def rows(lo: int, hi: int) -> dict[str, np.ndarray]:
    """Arrays whose values say which rows they are, so a misplaced chunk shows."""
    ids = np.arange(lo, hi, dtype=np.float32)
    return {"motion": np.repeat(ids[:, None], 3, axis=1), "seconds": ids * 0.5}


class Producer:
    """`produce` for RolloutCache.fill that records which chunks it was asked for."""

    def __init__(self, stop_at: int | None = None):
        self.calls: list[tuple[int, int]] = []
        self.stop_at = stop_at

    def __call__(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        if lo == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append((lo, hi))
        return rows(lo, hi)


def expected() -> dict[str, np.ndarray]:
    return rows(0, N_ROWS)


def assert_complete(cache: RolloutCache) -> None:
    arrays, problems = cache.read_all()
    assert problems == []
    for key, value in expected().items():
        np.testing.assert_array_equal(arrays[key], value)


def test_fill_produces_every_chunk_once_and_read_all_returns_the_rows_in_order(tmp_path):
    cache = RolloutCache(tmp_path, N_ROWS, CHUNK)
    produce = Producer()
    assert cache.fill(produce) == N_ROWS
    assert produce.calls == [(0, 4), (4, 8), (8, 10)]
    assert_complete(cache)
    assert sorted(p.name.split(".")[0] for p in tmp_path.iterdir()) == [
        "rows-0000000-0000004",
        "rows-0000004-0000008",
        "rows-0000008-0000010",
    ]


def test_a_second_fill_reads_the_cache_and_produces_nothing(tmp_path):
    RolloutCache(tmp_path, N_ROWS, CHUNK).fill(Producer())
    again, seen = Producer(), []
    assert RolloutCache(tmp_path, N_ROWS, CHUNK).fill(again, done=seen.append) == 0
    assert again.calls == [] and seen == [4, 4, 2]


def test_an_interrupted_fill_keeps_its_finished_chunks_and_resumes_after_them(tmp_path):
    cache = RolloutCache(tmp_path, N_ROWS, CHUNK)
    with pytest.raises(KeyboardInterrupt):
        cache.fill(Producer(stop_at=8))
    assert cache.cached_rows() == 8
    resumed = Producer()
    assert cache.fill(resumed) == 2 and resumed.calls == [(8, 10)]
    assert_complete(cache)


def test_a_corrupt_chunk_is_reported_by_read_all_and_regenerated_by_fill(tmp_path):
    cache = RolloutCache(tmp_path, N_ROWS, CHUNK)
    cache.fill(Producer())
    chunk = next(tmp_path.glob("rows-0000004-0000008.*.npz"))
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    arrays, problems = cache.read_all()
    assert arrays is None and [str(p) for p in problems] == ["rows 4-7 are corrupt"]
    assert cache.cached_rows() == 6
    again = Producer()
    assert cache.fill(again) == 4 and again.calls == [(4, 8)]
    assert_complete(cache)
    assert len(list(tmp_path.glob("rows-0000004-0000008.*.npz"))) == 1  # the corrupt copy is gone


def test_a_missing_chunk_is_reported_as_missing(tmp_path):
    cache = RolloutCache(tmp_path, N_ROWS, CHUNK)
    cache.fill(Producer())
    next(tmp_path.glob("rows-0000008-*.npz")).unlink()
    _, problems = cache.read_all()
    assert [str(p) for p in problems] == ["rows 8-9 are missing"]


def test_read_all_of_a_directory_that_does_not_exist_reports_every_chunk_missing_and_creates_nothing(tmp_path):
    cache = RolloutCache(tmp_path / "absent", N_ROWS, CHUNK)
    arrays, problems = cache.read_all()
    assert arrays is None and len(problems) == 3 and not (tmp_path / "absent").exists()


def test_chunks_written_with_another_chunk_size_are_not_mistaken_for_this_one(tmp_path):
    RolloutCache(tmp_path, N_ROWS, 5).fill(Producer())
    produce = Producer()
    assert RolloutCache(tmp_path, N_ROWS, CHUNK).fill(produce) == N_ROWS
    assert_complete(RolloutCache(tmp_path, N_ROWS, CHUNK))
    assert_complete(RolloutCache(tmp_path, N_ROWS, 5))


def test_two_writers_opened_before_either_writes_keep_each_others_chunks(tmp_path):
    # Both caches are opened on an empty directory; each then fills its own share (as torchrun ranks
    # would). A shared manifest rewritten by each writer would lose the first writer's chunks.
    first, second = RolloutCache(tmp_path, N_ROWS, CHUNK), RolloutCache(tmp_path, N_ROWS, CHUNK)
    a, b = Producer(), Producer()
    assert first.fill(a, rank=0, world_size=2) == 6
    assert second.fill(b, rank=1, world_size=2) == 4
    assert a.calls == [(0, 4), (8, 10)] and b.calls == [(4, 8)]
    assert_complete(RolloutCache(tmp_path, N_ROWS, CHUNK))


def test_concurrent_writers_of_the_same_chunks_leave_a_complete_readable_cache(tmp_path):
    errors = []

    def fill() -> None:
        try:
            RolloutCache(tmp_path, N_ROWS, 1).fill(rows)
        except Exception as e:  # reported below: a thread's exception would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=fill) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_complete(RolloutCache(tmp_path, N_ROWS, 1))
