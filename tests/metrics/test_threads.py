"""The metrics' one-thread limit: every BLAS/OpenMP pool on one thread inside, restored after."""

from threadpoolctl import threadpool_info

from stickeval.metrics._threads import one_thread


def test_every_loaded_pool_runs_on_one_thread_inside_and_as_before_after():
    import sklearn.linear_model  # noqa: F401  (loads scikit-learn's OpenMP runtime, after a first scan)

    before = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    with one_thread():
        inside = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
        with one_thread():  # nested, as a metric inside a scoring row
            pass
        assert {p["filepath"]: p["num_threads"] for p in threadpool_info()} == inside
    assert set(inside.values()) == {1} and inside.keys() == before.keys()
    assert {p["filepath"]: p["num_threads"] for p in threadpool_info()} == before
