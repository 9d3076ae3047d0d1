"""All errors stickeval raises for problems a user can fix.

Each error subclasses `StickevalError` plus the builtin it refines, so generic `except`
clauses keep working. The CLI prints `str(error)` on one line and exits 1; the message says
what failed, the value involved, and what to do next. Attributes keep the data for callers.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class StickevalError(Exception):
    """An error the user can fix: the CLI prints str(e) on one line and exits 1.

    Messages are composed of parts (a caller's sentence, a "Did you mean ...?" hint, a list of
    problems joined by "; "), so `str` tidies the seams: a period after a sentence that already
    ended ("lr?. See" or "'x'.. See") and a period before a "; " ("'x'.; y") are dropped. An
    ellipsis ("...") is left alone.
    """

    def __str__(self) -> str:
        return _SEAM.sub("", super().__str__())


# a period that ends an already ended sentence ("?.", "!.", ".." but not "..."), or that precedes ";"
_SEAM = re.compile(r"(?:(?<=[?!])|(?<=[^.]\.))\.(?=\s|$)|(?<=[^.])\.(?=;)")


def first_line(error: BaseException) -> str:
    """The first non-blank line of an exception's message (at most 200 characters), else its type name.

    For quoting a library's error inside a one-line stickeval message.
    """
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()[:200]
    return type(error).__name__


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """A " Did you mean a, b?" hint of the known names closest to `name` (empty when none is close)."""
    close = difflib.get_close_matches(name, list(known), n=3)
    return f" Did you mean {', '.join(close)}?" if close else ""


# CHECKPOINT ERRORS


class CheckpointError(StickevalError, ValueError):
    """A checkpoint file is unreadable, unsafe, or does not match the architecture.

    Example:
        CheckpointError: model.bin is not a checkpoint (not a zip or pickle file). Pass a .bin/.pth/.pt
        saved by torch.save or a .safetensors file.
    """

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(message)


class StateDictMismatchError(CheckpointError):
    """Keys or shapes of a state_dict do not match the model built for it."""

    def __init__(
        self,
        message: str,
        *,
        missing_keys: list[str] | None = None,
        unexpected_keys: list[str] | None = None,
        shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None,
        path: str | None = None,
    ):
        self.missing_keys = missing_keys or []
        self.unexpected_keys = unexpected_keys or []
        self.shape_mismatches = shape_mismatches or []
        super().__init__(message, path=path)


class NonFiniteWeightsError(CheckpointError):
    """A checkpoint holds NaN or inf weights: a model that generates NaN.

    Example:
        NonFiniteWeightsError: runs/nano/model.safetensors holds NaN or inf in 40 of 64 tensors (action_embedding.weight,
        ...). It cannot generate; use an earlier checkpoint, or train again with a lower optimizer.lr.
    """

    def __init__(self, path: str, keys: list[str], n_tensors: int):
        self.keys = keys
        shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
        super().__init__(
            f"{path} holds NaN or inf in {len(keys)} of {n_tensors} tensors ({shown}). "
            "It cannot generate; use an earlier checkpoint, or train again with a lower optimizer.lr.",
            path=path,
        )


class ModelArgumentsError(StickevalError, TypeError):
    """StickFigureTransformer got a ModelConfig and keywords together, an unknown keyword, or a bad positional.

    Example:
        ModelArgumentsError: StickFigureTransformer got unknown keyword argument(s) 'd_modle'. Did you mean d_model?
        Pass a ModelConfig, or the original constructor's keywords (input_dim, d_model, ...), not both.
    """

    def __init__(self, problem: str, *, accepted: Iterable[str], unknown: Iterable[str] = ()):
        self.accepted, self.unknown = list(accepted), list(unknown)
        hint = did_you_mean(self.unknown[0], self.accepted) if self.unknown else ""
        super().__init__(
            f"{problem}{hint} Pass a ModelConfig, or the original constructor's keywords "
            f"({', '.join(self.accepted)}), not both; `causal` is set through ModelConfig."
        )


# ZOO AND HUB ERRORS


class UnknownVariantError(StickevalError, LookupError):
    """A variant name is neither in the zoo, a repo id, nor a local path."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(
            f"Unknown variant '{name}'.{did_you_mean(name, self.known)} "
            "Run `stickeval zoo` to list variants, or pass an org/name repo id or a local directory."
        )


class ZooFileError(StickevalError, ValueError):
    """A variants TOML file is malformed; the message lists every problem at once.

    Example:
        ZooFileError: my.toml has 2 problems: tiny: unknown key 'repo'. Did you mean repo_id, recipe?;
        tiny: n_params must be an integer, got '7M'. See docs/zoo.md for the keys.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None, path: str | None = None):
        self.problems = problems or []
        self.path = path
        super().__init__(message)


class HubError(StickevalError, ConnectionError):
    """A Hub request failed (network, missing repo/file/revision, access, corrupt download)."""

    def __init__(self, message: str, *, repo_id: str | None = None, revision: str | None = None):
        self.repo_id, self.revision = repo_id, revision
        super().__init__(message)


class WeightsNotBuiltError(StickevalError, FileNotFoundError):
    """A built-in variant is registered but its weights are not in the package yet.

    Example:
        WeightsNotBuiltError: nano weights are not built yet: in a stickeval checkout, `make nano` trains them
        (recipe pretrain-nano) into stickeval/zoo/builtin/nano/. Meanwhile use a Hub variant, e.g.
        `stickeval pull small`.
    """

    def __init__(self, name: str, directory: str):
        self.name, self.directory = name, directory
        super().__init__(
            f"{name} weights are not built yet: in a stickeval checkout, `make nano` trains them (recipe pretrain-nano) "
            f"into {directory}. Meanwhile use a Hub variant, e.g. `stickeval pull small`."
        )


class NoRevisionsError(StickevalError, ValueError):
    """A revision was given for a variant that has none: a built-in one or a local checkpoint.

    Example:
        NoRevisionsError: nano is built into stickeval and has no revisions; drop --revision.
    """


class ParameterCountError(StickevalError, ValueError):
    """A variant's weights have a different parameter count than the zoo records (raised with --strict)."""

    def __init__(self, name: str, expected: int, actual: int):
        self.name, self.expected, self.actual = name, expected, actual
        super().__init__(
            f"{name} has {actual:,} parameters but the zoo expects {expected:,}. "
            "Check the revision and the zoo entry, or drop --strict to continue with a warning."
        )


class ArchitectureMismatchError(StickevalError, ValueError):
    """A variant's weights have another architecture than its zoo entry declares (raised with --strict).

    Example:
        ArchitectureMismatchError: tiny's weights do not match its zoo entry: d_model 32 (zoo: 64). Check the
        revision and the zoo entry, or drop --strict to continue with a warning.
    """

    def __init__(self, name: str, differences: list[str]):
        self.name, self.differences = name, differences
        super().__init__(
            f"{name}'s weights do not match its zoo entry: {', '.join(differences)}. "
            "Check the revision and the zoo entry, or drop --strict to continue with a warning."
        )


# DATA ERRORS


class DatasetError(StickevalError, ValueError):
    """A dataset file is unreadable or holds bad samples; `problems` lists each by index."""

    def __init__(self, message: str, *, problems: list[str] | None = None, path: str | None = None):
        self.problems = problems or []
        self.path = path
        super().__init__(message)


class UnknownSuiteError(StickevalError, LookupError):
    """A benchmark suite name is not known."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(f"Unknown suite '{name}'.{did_you_mean(name, self.known)} Available: {', '.join(self.known)}.")


class SchemaMismatchError(StickevalError, ValueError):
    """Motion of one schema met a model of another (20 vs 48 numbers per frame)."""


class TextEncoderError(StickevalError, RuntimeError):
    """A text encoder is unknown, not installed, or not cached."""


# GENERATION AND EVALUATION ERRORS


class DeviceError(StickevalError, ValueError):
    """An unknown or unavailable --device, or an unknown --dtype."""


class GenerationInputError(StickevalError, ValueError):
    """Inputs to generation are inconsistent (counts, dims, action ids, frames, NaN) or a prompt is blank."""


class NonFiniteOutputError(StickevalError, FloatingPointError):
    """Generation produced NaN or inf; `indices` names the offending prompts."""

    def __init__(self, indices: list[int]):
        self.indices = indices
        shown = ", ".join(map(str, indices[:10])) + (" ..." if len(indices) > 10 else "")
        super().__init__(
            f"Generation produced NaN/inf for {len(indices)} prompt(s) (indices {shown}). "
            "Try --dtype float32, or check the checkpoint's weights with `stickeval inspect`."
        )


class MetricInputError(StickevalError, ValueError):
    """A metric received inputs it cannot score (empty, mismatched shapes, wrong schema)."""


class UnknownMetricError(StickevalError, LookupError):
    """A metric name is not known."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(f"Unknown metric '{name}'.{did_you_mean(name, self.known)} Available: {', '.join(self.known)}.")


class ActionClassifierError(StickevalError, ValueError):
    """The action classifier cannot be used: not fitted, fitted on another schema, or its file is unreadable."""


class PromptNoiseError(StickevalError, ValueError):
    """A prompt-noise kind or level is not known."""

    def __init__(self, what: str, value: object, known: Iterable[object]):
        self.value, self.known = value, list(known)
        hint = did_you_mean(value, map(str, self.known)) if isinstance(value, str) else ""
        available = ", ".join(map(str, self.known))
        super().__init__(f"Unknown noise {what} {value!r}.{hint} Available: {available}.")


class RunDirectoryError(StickevalError, OSError):
    """A run directory cannot be used (it is a file, unwritable, or holds another run)."""


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during `run`'s generation: how far the cache got, so the CLI can say how to resume.

    A KeyboardInterrupt (not a StickevalError): the user stopped the run, nothing is wrong with it.
    """

    def __init__(self, cached_rows: int, total_rows: int, output: str):
        self.cached_rows, self.total_rows, self.output = cached_rows, total_rows, output
        super().__init__(f"interrupted: {cached_rows} of {total_rows} rollouts are cached in {output}")


class DistributedError(StickevalError, RuntimeError):
    """A torchrun job cannot go on: a rank cannot join the process group, or another rank failed or hung.

    Example:
        DistributedError: rank 0 of 2 waited in vain for the other ranks to finish generation (Rank 1 failed to
        pass monitoredBarrier in 1800000 ms); the failing rank's error is above. Finished work is kept: rerun with --resume.
    """


class OutputPathError(StickevalError, OSError):
    """An output (`-o/--out`) cannot be written: its directory is a file, read-only or missing rights.

    Checked before the work starts, so a bad path fails in a second and leaves nothing behind.

    Example:
        OutputPathError: Cannot write out/bench.json: out is a file, not a directory. Pass another -o/--out.
    """

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(message)


# MODEL CARD ERRORS


class CardError(StickevalError, ValueError):
    """A model card cannot be read or updated as asked: no front matter, invalid YAML, a model-index
    huggingface_hub cannot parse, a layout stickeval cannot edit in place, or dataset flags that would
    put one dataset's numbers under another's name.

    Example:
        CardError: The card's front matter cannot be parsed: expected <block end>, but found '-' at line 12
        of the card. Fix the YAML, then run again.
    """


# REPORT ERRORS


class MissingDependencyError(StickevalError, ImportError):
    """An optional library (Pillow, matplotlib, imageio-ffmpeg) that a command needs is not installed."""

    def __init__(self, package: str, purpose: str, extra: str):
        self.package, self.extra = package, extra
        super().__init__(f"{purpose} needs {package}, which is not installed: pip install 'stickeval[{extra}]'.")


class ResultsFileError(StickevalError, ValueError):
    """A run directory's results.json is missing, unreadable, or of another schema version."""


class UnknownPromptError(StickevalError, LookupError):
    """A prompt id (or action) names no clip of the run or dataset."""

    def __init__(self, what: str, value: str, known: Iterable[str]):
        self.value, self.known = value, sorted(set(known))
        shown = ", ".join(self.known[:8]) + (f", ... ({len(self.known)} in all)" if len(self.known) > 8 else "")
        super().__init__(f"No clip has {what} '{value}'.{did_you_mean(value, self.known)} Known: {shown}.")


class SuiteMismatchError(StickevalError, ValueError):
    """Runs of different suites (or suite hashes) were asked to be ranked together."""


# TRAINING ERRORS


class RecipeError(StickevalError, ValueError):
    """A training recipe is unknown or malformed; `problems` lists every bad key at once.

    Example:
        RecipeError: my.toml has 2 problem(s): unknown key 'optimizer.learning_rate'. Did you mean lr?;
        schedule.epochs: expected an integer, got str '20'. See docs/training.md for every key.
    """

    def __init__(self, message: str, *, problems: list[str] | None = None, path: str | None = None):
        self.problems = problems or []
        self.path = path
        super().__init__(message)


class UnknownRecipeError(RecipeError, LookupError):
    """A recipe name is neither packaged nor a file."""

    def __init__(self, name: str, known: Iterable[str]):
        self.name, self.known = name, sorted(known)
        super().__init__(
            f"Unknown recipe '{name}'.{did_you_mean(name, self.known)} Packaged recipes: {', '.join(self.known)}; "
            "or pass a .toml file (`stickeval recipes cp NAME FILE` makes one)."
        )


class TrainStateError(StickevalError, ValueError):
    """A training run cannot start or resume: no checkpoint to resume, another recipe's directory,
    an --init-from of another architecture, or data that leaves nothing to train on."""


class CheckpointWriteError(StickevalError, OSError):
    """Writing a checkpoint failed (full disk, permissions); the previous checkpoint is left intact."""


class TrainingDivergedError(StickevalError, FloatingPointError):
    """The loss, the gradient norm or the weights became NaN or inf: training stops and saves nothing
    from that point on, so the last checkpoint on disk is the last good one.

    Example:
        TrainingDivergedError: Training diverged by step 3: loss nan, gradient norm nan. Nothing was saved from
        it: runs/nano has no checkpoint yet (run.save_every = 500). Lower optimizer.lr (now 1e+30) or
        optimizer.max_grad_norm, then train again with another -o or --force.
    """


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: the run stopped after a completed optimizer step and saved a checkpoint
    there, so the CLI can say how to resume.

    A KeyboardInterrupt (not a StickevalError): the user stopped the run, nothing is wrong with it.
    """

    def __init__(self, step: int, end_step: int, out_dir: str):
        self.step, self.end_step, self.out_dir = step, end_step, out_dir
        super().__init__(f"interrupted at step {step} of {end_step}; the checkpoint in {out_dir} resumes it")


class EvaluatorError(StickevalError, ValueError):
    """The learned evaluator cannot be used: weights missing, corrupt, not matching their manifest, or no
    evaluator for the suite's domain.

    Example:
        EvaluatorError: stickeval/evaluator/weights/stickbench/evaluator.safetensors does not match its
        manifest (sha256 3f2a... expected 9c1d...). Reinstall stickeval, or rebuild it with
        `python -m stickeval.judge.build stickbench`.
    """

    def __init__(self, message: str, *, path: str | None = None):
        self.path = path
        super().__init__(message)


# BENCHMARK AND EVAL RESULTS ERRORS


class BenchmarkError(StickevalError, ValueError):
    """A benchmark dataset cannot be published or used: an unknown StickBench size, or a dataset whose
    `eval.yaml` does not declare StickBench (another framework, no suites, no hashes).

    Example:
        BenchmarkError: cais/hle is not a StickBench dataset: its eval.yaml names evaluation_framework
        'inspect-ai', not 'stickeval'. Publish StickBench there with `stickeval data push stickbench
        cais/hle`, or pass a StickBench dataset id.
    """

    def __init__(self, message: str, *, repo_id: str | None = None):
        self.repo_id = repo_id
        super().__init__(message)


class EvalResultsError(StickevalError, ValueError):
    """A run's results cannot become `.eval_results/` entries for a benchmark: a suite the benchmark does
    not have, another suite hash than the benchmark revision's, a null score, or an existing file that
    is not a list of entries.

    Example:
        EvalResultsError: These results are on stickbench-quick with suite hash f4bad4cb5d1a, but
        org/stickbench at 3b1c0e2a9f01 declares f00dcafe1234 for it ...
    """
