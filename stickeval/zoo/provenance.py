"""Where a model's weights came from: the one record that `pull`, `load`, the Hub cache and results share.

A variant's weights come from the package (`builtin`), a local path (`local`) or a commit of a Hub
repo (`hub`, in the HF cache). The same record answers "which bytes were these?" for every one of
them, and for a LoRA variant it holds its base's record too, since the merged model depends on both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    """A variant's weights on disk and their origin.

    Attributes:
        variant: what the user called it (zoo name, repo id or path).
        source: "hub", "builtin" or "local".
        repo_id: the Hub repo; None off the Hub.
        revision: as asked (branch, tag or sha); None off the Hub.
        commit_sha: the commit the revision resolved to; None off the Hub.
        path: the directory holding the files (for the Hub: the snapshot in the HF cache).
        weights: the weights file read (the first of the variant's `weight_files` present).
        base: LoRA only: the base the adapters are merged into.
    """

    variant: str
    source: str
    repo_id: str | None
    revision: str | None
    commit_sha: str | None
    path: Path
    weights: Path
    base: Provenance | None = None

    def to_dict(self) -> dict:
        """JSON-ready fields (paths as strings, the base nested or None)."""
        doc = asdict(self)
        doc.update(path=str(self.path), weights=str(self.weights), base=self.base.to_dict() if self.base else None)
        return doc
