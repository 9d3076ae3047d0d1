"""A StickBench benchmark dataset on the Hub: push it (`stickeval data push stickbench`), read its declaration back.

The files come from `stickeval.data.publish` (which knows no Hub); this module only moves them,
through `stickeval.hub`, where the client's errors become stickeval errors.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from stickeval import hub
from stickeval.data.publish import EVAL_FILE, Benchmark, read_benchmark, write_benchmark
from stickeval.data.stickbench import SIZES
from stickeval.errors import BenchmarkError
from stickeval.hub import PushResult


def push_benchmark(
    repo_id: str, sizes: tuple[str, ...] = tuple(SIZES), *, limit: int | None = None, private: bool = False, create_pr: bool = False
) -> tuple[PushResult, list[str]]:
    """Build StickBench `sizes` (see `publish.write_benchmark`) and commit them to the dataset repo `repo_id`.

    The repo is created if needed; the commit's sha is the benchmark revision that models'
    `.eval_results/` entries name.

    Returns:
        Where the commit landed, and the files it holds.

    Raises:
        BenchmarkError: an unknown size.
        MissingDependencyError: pyarrow is not installed.
        HubError: offline, no token, access refused, or the Hub failed.
    """
    hub.check_can_write(repo_id)  # before the suites are built: a missing token fails in a second
    with tempfile.TemporaryDirectory(prefix="stickbench-") as tmp:
        files = write_benchmark(tmp, sizes, limit=limit)
        pushed = hub.upload(Path(tmp), files, repo_id, private=private, create_pr=create_pr, repo_type="dataset")
    return pushed, files


def fetch_benchmark(repo_id: str, revision: str = "main") -> tuple[Benchmark, str]:
    """A StickBench benchmark's declaration (its `eval.yaml`) and the commit sha it was read at.

    Raises:
        BenchmarkError: the dataset has no eval.yaml, or one that does not declare StickBench.
        HubError: no such dataset or revision, offline with a cold cache, or the download failed.
    """
    offline = f"{repo_id}'s {EVAL_FILE} is not in the cache and HF_HUB_OFFLINE=1 is set. Run once with network to cache it."
    found = hub.download_file(repo_id, EVAL_FILE, revision, name=repo_id, offline_message=offline, repo_type="dataset", missing_ok=True)
    if found is None:
        raise BenchmarkError(
            f"{repo_id} has no {EVAL_FILE} at {revision}, so it is not a benchmark. Publish StickBench there with "
            f"`stickeval data push stickbench {repo_id}`, or pass a StickBench dataset id.",
            repo_id=repo_id,
        )
    path, sha = found
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BenchmarkError(
            f"{repo_id}'s {EVAL_FILE} is not readable UTF-8 text; it is not a StickBench benchmark.", repo_id=repo_id
        ) from e
    return read_benchmark(text, repo_id), sha
