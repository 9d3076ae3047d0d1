"""All Hugging Face Hub I/O of stickeval, and the one place where the client's errors become stickeval errors.

Everything goes through `huggingface_hub` (1.x and 2.x) into the standard HF cache. The client reads
HF_ENDPOINT, HF_HUB_OFFLINE and HF_HOME once, at import; stickeval reads them at each call
(`hub_settings`) and passes `endpoint=` / `cache_dir=` explicitly, so a changed environment always
counts. HF_TOKEN is read by the client at each call. Downloads are verified against their content
hash (the blob name in the cache), so a corrupt file is removed instead of trusted by a later pull.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import (
    CommitOperationAdd,
    HfApi,
    constants,
    get_token,
    hf_hub_download,
    snapshot_download,
    try_to_load_from_cache,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.repocard import metadata_load

from stickeval._io import write_text_atomic
from stickeval.errors import HubError, StickevalError, first_line

log = logging.getLogger(__name__)

CARD_FILE = "README.md"
_HEX40, _HEX64 = re.compile(r"^[0-9a-f]{40}$"), re.compile(r"^[0-9a-f]{64}$")


def _transport_errors() -> tuple[type[Exception], ...]:
    """Connection-level error bases: httpx2 under huggingface_hub 2.x, httpx under 1.x."""
    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).TransportError)
        except ImportError:
            pass
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
_CLIENT_ERRORS = (HfHubHTTPError, EntryNotFoundError, OSError, ValueError, *_TRANSPORT_ERRORS)


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubSettings:
    """Where the Hub and the cache are, read from the environment at call time."""

    endpoint: str
    cache_dir: str
    offline: bool


def hub_settings() -> HubSettings:
    """HF_ENDPOINT, HF_HUB_CACHE / HF_HOME and HF_HUB_OFFLINE as they are now (the client's import-time values otherwise)."""
    env = os.environ
    if env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE"):
        cache_dir = env.get("HF_HUB_CACHE") or env["HUGGINGFACE_HUB_CACHE"]
    elif env.get("HF_HOME"):
        cache_dir = os.path.join(env["HF_HOME"], "hub")
    else:
        cache_dir = constants.HF_HUB_CACHE
    offline = constants.HF_HUB_OFFLINE or _is_true(env.get("HF_HUB_OFFLINE")) or _is_true(env.get("TRANSFORMERS_OFFLINE"))
    endpoint = (env.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    return HubSettings(endpoint=endpoint, cache_dir=os.path.expanduser(cache_dir), offline=offline)


@dataclass(frozen=True)
class Snapshot:
    """One commit of a Hub repo in the HF cache: the commit, its snapshot directory, the weights file chosen."""

    commit_sha: str
    path: Path
    weights: Path


def cached_snapshot(repo_id: str, revision: str, weight_files: tuple[str, ...]) -> Snapshot | None:
    """The cached snapshot of `revision` holding one of `weight_files` (preferred first); no request is made."""
    cache_dir = hub_settings().cache_dir
    for filename in weight_files:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
        if isinstance(found, str):
            weights = Path(found)
            root = weights.parents[len(Path(filename).parts) - 1]
            return Snapshot(commit_sha=root.name, path=root, weights=weights)
    return None


def fetch(
    repo_id: str,
    revision: str,
    weight_files: tuple[str, ...],
    *,
    companions: tuple[str, ...] = (),
    name: str,
    force: bool = False,
) -> Snapshot:
    """Download the preferred weights file and its companions (those present) of one commit into the HF cache.

    Online, the revision is resolved to a commit sha first (one request); a second call for a cached
    commit downloads nothing. With HF_HUB_OFFLINE=1 only the cache is read. If the Hub cannot be
    reached but the revision is cached, the cached copy is used with a warning, as the client does.

    Args:
        repo_id: the Hub repo.
        revision: branch, tag or commit sha.
        weight_files: candidate weight file names, preferred first.
        companions: files downloaded beside the weights when the commit has them (a config, the card).
        name: what the user called the variant (used in messages and recorded as `variant`).
        force: download again even if cached.

    Returns:
        Where the snapshot's files are and the commit they belong to; they are verified against
        their content hashes.

    Raises:
        HubError: offline with a cold cache, unreachable Hub, missing repo/revision/weights, gated repo,
            server error, a cut-off, mis-sized or corrupt download (one line each, nothing partial kept).
    """
    settings = hub_settings()
    if settings.offline:
        if force:
            raise HubError(f"--force needs the network but HF_HUB_OFFLINE=1 is set. Unset it to download {name} again.")
        cached = cached_snapshot(repo_id, revision, weight_files)
        if cached is None:
            raise HubError(
                f"{name} is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull {name}` on a machine with network.",
                repo_id=repo_id,
                revision=revision,
            )
        return cached
    try:
        info = HfApi(endpoint=settings.endpoint).model_info(repo_id, revision=revision)
    except _CLIENT_ERRORS as e:
        cached = None if force else cached_snapshot(repo_id, revision, weight_files)
        if cached is not None and _is_unreachable(e):
            log.warning(
                "Could not reach the Hub at %s (%s); using the cached commit %s of %s.",
                settings.endpoint,
                first_line(e),
                cached.commit_sha[:12],
                name,
            )
            return cached
        raise translate(e, name=name, repo_id=repo_id, revision=revision) from e
    present = {sibling.rfilename for sibling in info.siblings or []}
    chosen = next((f for f in weight_files if f in present), None)
    if chosen is None:
        raise HubError(
            f"{repo_id} at {revision} has no weights file (looked for {', '.join(weight_files)}). "
            "Pass another --revision, or set weight_files in a --zoo file.",
            repo_id=repo_id,
            revision=revision,
        )
    patterns = [chosen, *(f for f in companions if f in present)]
    try:
        folder = snapshot_download(
            repo_id,
            revision=info.sha,
            allow_patterns=patterns,
            cache_dir=settings.cache_dir,
            endpoint=settings.endpoint,
            force_download=force,
        )
    except _CLIENT_ERRORS as e:
        raise translate(e, name=name, repo_id=repo_id, revision=revision) from e
    folder = Path(folder)
    for filename in patterns:
        _verify_blob(folder / filename, repo_id=repo_id, revision=revision)
    if revision != info.sha:  # record branch/tag -> sha as the client does, once the files are verified
        write_text_atomic(folder.parents[1] / "refs" / revision, info.sha)
    return Snapshot(commit_sha=info.sha, path=folder, weights=folder / chosen)


def _verify_blob(path: Path, *, repo_id: str, revision: str) -> None:
    """Check a cached file against its blob name (sha256 for LFS files, git blob sha1 otherwise).

    On a mismatch the blob and its snapshot link are deleted, so the next pull downloads it again.
    """
    if not path.is_symlink():  # a cache without symlinks keeps no blob name to check against
        return
    blob = path.resolve()
    expected = blob.name
    if _HEX64.match(expected):
        digest = hashlib.sha256()
    elif _HEX40.match(expected):
        digest = hashlib.sha1(b"blob %d\0" % blob.stat().st_size)
    else:
        return
    with open(blob, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        blob.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        raise HubError(
            f"{path.name} of {repo_id} arrived corrupt (its hash is not {expected[:12]}...); it was removed from the cache. "
            "Run the pull again.",
            repo_id=repo_id,
            revision=revision,
        )


def list_files(repo_id: str, revision: str, *, name: str) -> list[str]:
    """The paths of every file of a model repo at `revision` (the Hub's file list of that commit).

    Raises:
        HubError: no such repo or revision, offline (HF_HUB_OFFLINE=1), or the Hub unreachable.
    """
    settings = hub_settings()
    if settings.offline:
        raise HubError(
            f"Listing the files of {repo_id} needs the Hub and HF_HUB_OFFLINE=1 is set. Run with network, or name the "
            "benchmark whose file to check from the cache (`--eval-results ORG/NAME`).",
            repo_id=repo_id,
            revision=revision,
        )
    try:
        info = HfApi(endpoint=settings.endpoint).model_info(repo_id, revision=revision)
    except _CLIENT_ERRORS as e:
        raise translate(e, name=name, repo_id=repo_id, revision=revision) from e
    return sorted(sibling.rfilename for sibling in info.siblings or [])


def read_card_metrics(readme: Path) -> dict[str, float]:
    """Numeric metric values of a model card's model-index ({metric type: value}); `TBD` entries are skipped."""
    try:
        metadata = metadata_load(readme) or {}
    except (OSError, ValueError) as e:  # an unreadable card has no metrics to show
        log.warning("Could not read the model card %s: %s", readme, first_line(e))
        return {}
    metrics = {}
    for model in metadata.get("model-index") or []:
        for result in (model or {}).get("results") or []:
            for metric in (result or {}).get("metrics") or []:
                value = (metric or {}).get("value")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    metrics[str(metric.get("type"))] = float(value)
    return metrics


@dataclass(frozen=True)
class PushResult:
    """Where a push landed."""

    repo_id: str
    commit_sha: str
    commit_url: str
    pr_url: str | None


def upload(
    directory: Path,
    filenames: list[str],
    repo_id: str,
    *,
    private: bool = False,
    create_pr: bool = False,
    endpoint: str | None = None,
    repo_type: str = "model",
) -> PushResult:
    """Create the repo (a model repo, or a dataset repo) if needed and commit `filenames` from `directory` in one commit.

    Uses `HfApi(endpoint=...).create_repo` and `create_commit`, whose YAML validation honours the
    endpoint on both client majors (unlike `metadata_update`).

    Raises:
        HubError: offline, no token, access refused, or the Hub unreachable or failing.
    """
    api = _write_api(repo_id, endpoint)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(directory / name)) for name in filenames]
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        info = api.create_commit(
            repo_id,
            operations=operations,
            commit_message=f"Upload {directory.name} with stickeval",
            create_pr=create_pr,
            repo_type=repo_type,
        )
    except _CLIENT_ERRORS as e:
        raise translate(e, name=repo_id, repo_id=repo_id, revision="main") from e
    return PushResult(repo_id=repo_id, commit_sha=info.oid, commit_url=info.commit_url, pr_url=info.pr_url)


def check_can_write(repo_id: str) -> None:
    """The checks a push can make before any work or request: online, and a token.

    Raises:
        HubError: HF_HUB_OFFLINE=1 is set, or no token is configured.
    """
    _write_api(repo_id, None)


def _write_api(repo_id: str, endpoint: str | None) -> HfApi:
    """A client for writing to `repo_id`, after the checks that need no request (online, a token)."""
    settings = hub_settings()
    if settings.offline:
        raise HubError(f"HF_HUB_OFFLINE=1 is set; pushing to {repo_id} needs the network. Unset it and try again.", repo_id=repo_id)
    if get_token() is None:
        raise HubError(f"Pushing to {repo_id} needs a Hub token with write access: set HF_TOKEN or run `hf auth login`.", repo_id=repo_id)
    return HfApi(endpoint=endpoint or settings.endpoint)


def download_card(repo_id: str, revision: str, *, name: str) -> tuple[Path, str]:
    """A repo's README.md (model card) at `revision`, through the HF cache; only the cache with HF_HUB_OFFLINE=1.

    Returns:
        The cached file and the commit sha it belongs to.

    Raises:
        HubError: no card in the repo, offline with a cold cache, or the download failed.
    """
    offline = (
        f"{name}'s model card is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull {name}` "
        "on a machine with network, or pass a local README.md."
    )
    found = download_file(repo_id, CARD_FILE, revision, name=name, offline_message=offline)
    assert found is not None  # not missing_ok
    return found


def download_file(
    repo_id: str,
    filename: str,
    revision: str,
    *,
    name: str,
    offline_message: str,
    repo_type: str = "model",
    missing_ok: bool = False,
) -> tuple[Path, str] | None:
    """One file of a repo (model or dataset) at `revision`, through the HF cache; only the cache with HF_HUB_OFFLINE=1.

    Args:
        name: what the user called the repo (in messages).
        offline_message: the error's text when HF_HUB_OFFLINE=1 is set and the file is not cached.
        repo_type: "model" or "dataset".
        missing_ok: return None when the repo exists but has no such file.

    Returns:
        The cached file and the commit sha it belongs to.

    Raises:
        HubError: no such repo (or file, unless `missing_ok`), offline with a cold cache, or the download failed.
    """
    settings = hub_settings()
    try:
        path = Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                repo_type=repo_type,
                cache_dir=settings.cache_dir,
                endpoint=settings.endpoint,
                local_files_only=settings.offline,
            )
        )
    except _CLIENT_ERRORS as e:
        if missing_ok and isinstance(e, EntryNotFoundError) and not isinstance(e, LocalEntryNotFoundError):
            return None
        if settings.offline:
            raise HubError(offline_message, repo_id=repo_id, revision=revision) from e
        if repo_type == "dataset" and isinstance(e, RepositoryNotFoundError):
            raise HubError(
                f"The dataset {repo_id} was not found on {settings.endpoint} (or it is private and no valid token was "
                "sent). Check the name, or set HF_TOKEN for a private dataset.",
                repo_id=repo_id,
                revision=revision,
            ) from e
        raise translate(e, name=name, repo_id=repo_id, revision=revision) from e
    return path, path.parents[len(Path(filename).parts) - 1].name  # the snapshot folder is the commit sha


def upload_card(
    text: str, repo_id: str, *, create_pr: bool = False, parent_commit: str | None = None, endpoint: str | None = None
) -> PushResult:
    """Commit `text` as the repo's README.md (optionally as a pull request); see `upload_texts`."""
    return upload_texts(
        {CARD_FILE: text},
        repo_id,
        message="Update model-index metrics with stickeval",
        create_pr=create_pr,
        parent_commit=parent_commit,
        endpoint=endpoint,
    )


def upload_texts(
    files: dict[str, str],
    repo_id: str,
    *,
    message: str,
    create_pr: bool = False,
    parent_commit: str | None = None,
    endpoint: str | None = None,
) -> PushResult:
    """Commit text files ({path in repo: text}) in one commit (optionally as a pull request) with `HfApi.create_commit`.

    Not `metadata_update`/`ModelCard.push_to_hub`: their YAML validation ignores the endpoint on
    huggingface_hub <= 2.0 (`RepoCard.validate` posts to a hard-coded huggingface.co);
    `create_commit` validates at the endpoint.

    Args:
        parent_commit: the commit the files were read from; the Hub refuses the commit if main moved since.

    Raises:
        HubError: offline, no token, access refused, main moved since `parent_commit`, or the Hub failed.
    """
    api = _write_api(repo_id, endpoint)
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=text.encode("utf-8")) for path, text in files.items()]
    try:
        info = api.create_commit(repo_id, operations=operations, commit_message=message, create_pr=create_pr, parent_commit=parent_commit)
    except _CLIENT_ERRORS as e:
        raise translate(e, name=repo_id, repo_id=repo_id, revision="main") from e
    return PushResult(repo_id=repo_id, commit_sha=info.oid, commit_url=info.commit_url, pr_url=info.pr_url)


# ---- error translation


def _causes(e: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first."""
    chain: list[BaseException] = []
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    return chain


def _status(e: BaseException) -> int | None:
    response = getattr(e, "response", None)
    return getattr(response, "status_code", None)


def _is_unreachable(e: BaseException) -> bool:
    """A network failure or a server error: the cases where a cached copy may stand in."""
    return any(
        isinstance(c, (*_TRANSPORT_ERRORS, OfflineModeIsEnabled)) or (isinstance(c, HfHubHTTPError) and (_status(c) or 0) >= 500)
        for c in _causes(e)
    )


def translate(e: BaseException, *, name: str, repo_id: str, revision: str) -> StickevalError:
    """Turn a huggingface_hub (or transport) error into one readable HubError line that says what to do."""
    endpoint = hub_settings().endpoint
    chain = _causes(e)

    def hub_error(message: str) -> HubError:
        return HubError(message, repo_id=repo_id, revision=revision)

    if any(isinstance(c, OfflineModeIsEnabled) for c in chain):
        return hub_error(f"{name} is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull {name}` on a machine with network.")
    if isinstance(e, GatedRepoError):
        return hub_error(
            f"{repo_id} is gated: request access at {endpoint}/{repo_id}, then set HF_TOKEN to a token of an account that has it."
        )
    if isinstance(e, RepositoryNotFoundError):
        return hub_error(
            f"{repo_id} was not found on {endpoint} (or it is private and no valid token was sent). "
            "Check the name with `stickeval zoo`, or set HF_TOKEN for a private repo."
        )
    if isinstance(e, RevisionNotFoundError):
        return hub_error(f"{repo_id} has no revision '{revision}'. Pass an existing branch, tag or commit sha to --revision.")
    if isinstance(e, EntryNotFoundError) and not isinstance(e, LocalEntryNotFoundError):
        return hub_error(f"{repo_id} at {revision} is missing a file ({first_line(e)}). Pass another --revision.")
    for cause in chain:
        status = _status(cause)
        if isinstance(cause, HfHubHTTPError) and status is not None and status >= 500:
            return hub_error(f"The Hub at {endpoint} answered {status} (server error) for {repo_id}; nothing was cached. Try again later.")
        if isinstance(cause, HfHubHTTPError) and status in (401, 403):
            return hub_error(f"The Hub refused access to {repo_id} ({status}). Set HF_TOKEN to a token with access to it.")
        if isinstance(cause, HfHubHTTPError):
            return hub_error(f"The Hub answered {status} for {repo_id}: {first_line(cause)}")
        if isinstance(cause, _TRANSPORT_ERRORS) and ("closed" in str(cause).lower() or "incomplete" in str(cause).lower()):
            return hub_error(
                f"The download of {repo_id} was cut off mid-file ({first_line(cause)}); nothing partial was kept. Run the pull again."
            )
        if isinstance(cause, _TRANSPORT_ERRORS):
            return hub_error(
                f"Could not reach the Hub at {endpoint} ({first_line(cause)}) and {name} is not in the cache. "
                "Check the network and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use a warm cache."
            )
        if isinstance(cause, OSError) and "Consistency check failed" in str(cause):
            return hub_error(
                f"A file of {repo_id} arrived with the wrong size ({first_line(cause)}); nothing partial was kept. Run the pull again."
            )
    return hub_error(f"The Hub request for {repo_id} failed: {first_line(e)}")
