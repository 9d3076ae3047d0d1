"""Where a model card comes from and goes to: a local README.md, a variant's Hub repo, an atomic write, a push.

The text logic (what changes in a card) is `stickeval.card`; this module only reads and writes, so
`card` stays free of files and network. Cards are read and written as bytes-exact text (no newline
translation), so a card with CRLF line endings keeps them.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from stickeval._io import write_text_atomic
from stickeval.errors import CardError, OutputPathError
from stickeval.zoo import hub
from stickeval.zoo.hub import PushResult
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
        raise OutputPathError(f"Cannot write {path} ({e.strerror}); nothing was changed. Check the directory's permissions.", path=str(path)) from e


def push_card(source: CardSource, text: str, results: dict, *, create_pr: bool = False) -> PushResult:
    """Commit `text` as README.md of the card's repo (or, for a local card, the results' model repo).

    Raises:
        CardError: no repo to push to (a local card of a model that is not on the Hub).
        HubError: as `hub.upload_card` (offline, no token, refused, main moved since the card was read).
    """
    repo_id = source.repo_id or results["model"].get("repo_id")
    if repo_id is None:
        raise CardError(
            f"{source.label} belongs to no Hub repo and the results' model is not on the Hub, so --push has nowhere to go. "
            "Pass the variant (zoo name or org/name) instead of a file, or drop --push and use --write."
        )
    return hub.upload_card(text, repo_id, create_pr=create_pr, parent_commit=source.commit_sha)
