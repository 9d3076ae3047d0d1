"""The learned text-motion evaluator and the time-aware action classifier.

    from stickeval.judge import load_evaluator
    ev = load_evaluator("quick", cache_dir=...)        # shipped StickBench weights, sha256-checked
    text = ev.embed_text(prompts)                      # [N, 32] unit vectors
    motion = ev.embed_motion(clips, lengths)           # [N, 32]
    proba = ev.classify(clips, lengths)                # [N, len(ev.classes)]
    ev.manifest["held_out"]                            # its own held-out accuracy: the reference row

`stickeval.metrics.retrieval` turns the embeddings into R-precision, matching score, FID and diversity.
"""

from stickeval.judge.bundle import EVALUATOR_VERSION, Evaluator, load_evaluator_dir, save_evaluator
from stickeval.judge.domains import build_evaluator, domain_of, held_out_figures, load_evaluator

__all__ = [
    "EVALUATOR_VERSION",
    "Evaluator",
    "build_evaluator",
    "domain_of",
    "held_out_figures",
    "load_evaluator",
    "load_evaluator_dir",
    "save_evaluator",
]
