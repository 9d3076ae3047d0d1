"""The metrics' one-thread limit: every BLAS/OpenMP pool on one thread inside, restored after."""

from threadpoolctl import threadpool_info, threadpool_limits

from stickeval.metrics._threads import one_thread


def threads() -> dict[str, int]:
    return {p["filepath"]: p["num_threads"] for p in threadpool_info()}


def test_every_loaded_pool_runs_on_one_thread_inside_and_as_before_after():
    import sklearn.linear_model  # noqa: F401  (loads scikit-learn's OpenMP runtime, after a first scan)

    with threadpool_limits(limits=2):  # whatever OMP_NUM_THREADS says, the pools start above one thread
        before = threads()
        assert max(before.values()) == 2
        with one_thread():
            inside = threads()
            with one_thread():  # nested, as a metric inside a scoring row
                pass
            assert threads() == inside
        assert set(inside.values()) == {1} and inside.keys() == before.keys()
        assert threads() == before
