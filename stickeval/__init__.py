"""stickeval: evaluation suite, benchmark and model-zoo CLI for Stick-Gen text-to-motion models.

    from stickeval import zoo, generate, evaluate, RunSettings
    loaded = zoo.load("large-sft")
    results = evaluate(loaded, RunSettings(suite="standard"), "runs/large-sft")
"""

__version__ = "0.1.0"

from stickeval import errors, zoo  # noqa: E402
from stickeval.evaluate import RunSettings, evaluate, score  # noqa: E402
from stickeval.generate import Rollout, generate  # noqa: E402

__all__ = ["RunSettings", "Rollout", "__version__", "errors", "evaluate", "generate", "score", "zoo"]
