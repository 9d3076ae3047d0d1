"""Where a model card comes from and goes to: a local README.md, a variant's Hub repo, an atomic write, a push.

The same for the card's `.eval_results/<benchmark>.yaml` (`eval_results_update`): the benchmark's
`eval.yaml` is read from its dataset repo, the existing file from beside the local card or from the
card's repo, and a push commits README.md and the file together.

The text logic (what changes in a card) is `stickeval.card.model_index`; this module only reads and writes, so
`card` stays free of files and network. Cards are read and written as bytes-exact text (no newline
translation), so a card with CRLF line endings keeps them.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from stickeval import hub
from stickeval._io import write_text_atomic
from stickeval.card import hub_eval
from stickeval.data.benchmark_repo import fetch_benchmark
from stickeval.data.publish import task_id_of
from stickeval.errors import BenchmarkError, CardError, OutputPathError
from stickeval.hub import PushResult
from stickeval.zoo.loading import check_revision
from stickeval.zoo.registry import resolve_variant


@dataclass(frozen=True)
class CardSource:
    """A card's text and where it came from.

    path: the local file (what `--write` replaces); None for a card read from the Hub.
    repo_id: the Hub repo the card belongs to (where `--push` commits); None when unknown.
    commit_sha: the commit a Hub card was read at (the push's parent commit).
    """

    text: str
    label: str
    path: Path | None = None
    repo_id: str | None = None
    commit_sha: str | None = None


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise CardError(f"{path} is not UTF-8 text ({e.reason} at byte {e.start}); a model card must be UTF-8.") from e
    except OSError as e:
        raise CardError(f"Cannot read {path} ({e.strerror}).") from e


def read_card(spec: str, *, zoo: str | Path | None = None, revision: str | None = None) -> CardSource:
    """The card `spec` names: a README.md path, a checkpoint directory holding one, or a variant's repo card.

    Raises:
        CardError: a path that does not exist or holds no README.md, or a built-in variant without a card.
        UnknownVariantError, ZooFileError: as `resolve_variant`.
        NoRevisionsError: a --revision for a built-in or local variant, which have none.
        HubError: the repo's card cannot be downloaded (offline with a cold cache, no README.md...).
    """
    path = Path(spec)
    if path.is_file():
        return CardSource(_decode(path), str(path), path=path)
    if path.is_dir():
        if not (path / hub.CARD_FILE).is_file():
            raise CardError(f"{path} holds no {hub.CARD_FILE}. Pass the card file itself, or a variant whose repo has a card.")
        return CardSource(_decode(path / hub.CARD_FILE), str(path / hub.CARD_FILE), path=path / hub.CARD_FILE)
    if path.suffix.lower() == ".md":
        raise CardError(f"{path} does not exist. Pass an existing README.md, or a variant (zoo name or org/name).")
    variant = resolve_variant(spec, zoo)
    check_revision(variant, revision)
    if variant.source == "hub":
        cached, commit_sha = hub.download_card(variant.repo_id, revision or variant.revision, name=variant.name)
        return CardSource(_decode(cached), f"{variant.repo_id}/{hub.CARD_FILE}", repo_id=variant.repo_id, commit_sha=commit_sha)
    directory = variant.builtin_dir if variant.source == "builtin" else Path(variant.path)
    card = directory / hub.CARD_FILE
    if not card.is_file():
        raise CardError(f"{variant.name} has no model card ({card} does not exist). Pass a README.md path instead.")
    return CardSource(_decode(card), str(card), path=card)


def check_results_match(source: CardSource, results: dict) -> None:
    """Refuse results of one Hub model for another model's card.

    Raises:
        CardError: the card's repo and the results' model repo are both known and differ.
    """
    evaluated = results["model"].get("repo_id")
    if source.repo_id and evaluated and source.repo_id != evaluated:
        raise CardError(
            f"The results are for {evaluated} but the card is {source.repo_id}'s; a card shows its own model's numbers. "
            f"Pass {evaluated}'s card, or results of a run of {source.repo_id}."
        )


def write_card(path: Path, text: str) -> None:
    """Replace a local card atomically (a temporary file beside it, then a rename).

    Raises:
        OutputPathError: the file is read-only, or its directory cannot take a new file.
    """
    if not path.stat().st_mode & stat.S_IWUSR:  # mode bits, not os.access: root may write anything
        raise OutputPathError(f"{path} is read-only; make it writable (chmod u+w {path}) or copy it, then run again.", path=str(path))
    try:
        write_text_atomic(path, text)
    except OSError as e:
        raise OutputPathError(
            f"Cannot write {path} ({e.strerror}); nothing was changed. Check the directory's permissions.", path=str(path)
        ) from e


def push_card(
    source: CardSource, text: str | None, results: dict, *, create_pr: bool = False, extra: dict[str, str] | None = None
) -> PushResult:
    """Commit `text` as README.md of the card's repo (or, for a local card, the results' model repo).

    Args:
        text: the card; None to leave README.md as it is.
        extra: more files for the same commit ({path in repo: text}), e.g. `.eval_results/<benchmark>.yaml`.

    Raises:
        CardError: no repo to push to (a local card of a model that is not on the Hub).
        HubError: as `hub.upload_texts` (offline, no token, refused, main moved since the card was read).
    """
    repo_id = source.repo_id or results["model"].get("repo_id")
    if repo_id is None:
        raise CardError(
            f"{source.label} belongs to no Hub repo and the results' model is not on the Hub, so --push has nowhere to go. "
            "Pass the variant (zoo name or org/name) instead of a file, or drop --push and use --write."
        )
    if not extra:
        return hub.upload_card(text, repo_id, create_pr=create_pr, parent_commit=source.commit_sha)
    files = ({hub.CARD_FILE: text} if text is not None else {}) | extra
    message = "Update model-index metrics and eval results with stickeval" if text is not None else "Update eval results with stickeval"
    return hub.upload_texts(files, repo_id, message=message, create_pr=create_pr, parent_commit=source.commit_sha)


# ---- .eval_results


def _existing_results_file(source: CardSource, path_in_repo: str) -> str | None:
    """The model repo's current `.eval_results` file: beside a local card, or in the card's repo (None if absent)."""
    if source.path is not None:
        local = source.path.parent / path_in_repo
        return _decode(local) if local.is_file() else None
    offline = f"{path_in_repo} of {source.repo_id} is not in the cache and HF_HUB_OFFLINE=1 is set. Run once with network."
    found = hub.download_file(
        source.repo_id, path_in_repo, source.commit_sha, name=source.repo_id, offline_message=offline, missing_ok=True
    )
    return None if found is None else _decode(found[0])


def eval_results_update(
    source: CardSource, results: dict, benchmark_id: str, *, revision: str = "main", source_url: str | None = None
) -> hub_eval.EvalResultsUpdate:
    """The card's repo's `.eval_results/<benchmark>.yaml` with the run's entry for `benchmark_id`.

    Raises:
        BenchmarkError, HubError: as `fetch_benchmark`.
        EvalResultsError: as `hub_eval.build_update` (another suite or suite hash, an unreadable file).
    """
    benchmark, sha = fetch_benchmark(benchmark_id, revision)
    original = _existing_results_file(source, hub_eval.results_path(benchmark_id))
    return hub_eval.build_update(results, benchmark, sha, original, source_url=source_url)


def _eval_results_files(source: CardSource) -> list[str]:
    """The repo paths of the model repo's `.eval_results/*.yaml` files (beside a local card, or in its Hub repo)."""
    if source.path is not None:
        return sorted(f"{hub_eval.RESULTS_DIR}/{p.name}" for p in (source.path.parent / hub_eval.RESULTS_DIR).glob("*.yaml"))
    files = hub.list_files(source.repo_id, source.commit_sha, name=source.repo_id)
    return [f for f in files if f.startswith(f"{hub_eval.RESULTS_DIR}/") and f.endswith(".yaml")]


def recorded_updates(source: CardSource, results: dict) -> list[hub_eval.EvalResultsUpdate]:
    """The run's entry for every StickBench benchmark whose existing `.eval_results` file in the model
    repo records a result for the run's task: what `card --check` compares when no --eval-results names
    a benchmark. Entries of other tasks, and benchmarks of other frameworks, are not this run's to check.

    Raises:
        HubError: the repo's files or a recorded benchmark cannot be read.
        EvalResultsError: an existing file is not a list of entries, or the run's suite hash differs from
            the one the recorded benchmark revision declares.
    """
    task = task_id_of(str(results["suite"].get("name")))
    updates: list[hub_eval.EvalResultsUpdate] = []
    for path in _eval_results_files(source) if task else []:
        for item in hub_eval.parse_file(_existing_results_file(source, path), path):
            dataset = item["dataset"]
            if dataset["task_id"] != task or any(u.benchmark == dataset["id"] for u in updates):
                continue
            try:
                benchmark, sha = fetch_benchmark(dataset["id"], str(dataset.get("revision") or "main"))
            except BenchmarkError:
                continue  # not a StickBench dataset, though one of its tasks has our task's name
            original = _existing_results_file(source, hub_eval.results_path(benchmark.repo_id))
            source_url = (item.get("source") or {}).get("url")
            updates.append(hub_eval.build_update(results, benchmark, sha, original, source_url=source_url))
    return updates


def write_eval_results(source: CardSource, update: hub_eval.EvalResultsUpdate) -> Path:
    """Write the file beside the local card (`<card dir>/.eval_results/<benchmark>.yaml`), atomically.

    Raises:
        OutputPathError: the folder cannot take the file.
    """
    path = source.path.parent / update.path
    try:
        write_text_atomic(path, update.updated)
    except OSError as e:
        raise OutputPathError(
            f"Cannot write {path} ({e.strerror}); nothing was changed. Check the directory's permissions.", path=str(path)
        ) from e
    return path
