"""One thread for the metrics' numeric kernels (BLAS, and OpenMP inside scikit-learn).

The matrices here are small (114 x 114 covariances, a logistic regression on ~1,000 clips). On 2
busy cores, BLAS / OpenMP threads made the Fréchet distance 10x and the classifier fit 30x slower
(measured), and one thread makes results independent of the machine's thread count to the last digit.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits  # a scikit-learn dependency


def one_thread() -> threadpool_limits:
    """A context manager: every thread pool loaded so far (BLAS, OpenMP) runs on one thread inside it.

    The libraries are scanned on each call (~0.3 ms), so a pool that scikit-learn loads on its
    first import is limited too; call it around a whole computation, not inside a tight loop.
    """
    return threadpool_limits(limits=1)
