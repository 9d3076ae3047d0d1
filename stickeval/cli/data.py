"""`stickeval data make|inspect|push`: write StickBench as a Stick-Gen `.pt` dataset, look inside `.pt` files,
publish StickBench to the Hub as a benchmark dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import MAX_SEED, Command, JsonOpt, ZooOpt
from stickeval.cli.output import console, err_console, examples, print_fields, print_json
from stickeval.errors import DatasetError

app = typer.Typer(help="Build and inspect motion datasets.", no_args_is_help=True, rich_markup_mode=None)

MAKE_EXAMPLES = examples(
    "# embeddings for a model: its text encoder at its embedding size",
    "stickeval data make stickbench --for nano -o sb_nano_train.pt",
    "stickeval data make stickbench --split test --for large-sft -o sb_test.pt",
    "stickeval data make stickbench --encoder hash --embedding-dim 512 -o sb512.pt",
    "stickeval data make stickbench --json -o sb.pt | jq .n_samples",
)

INSPECT_EXAMPLES = examples(
    "stickeval data inspect sft_data_embedded.pt   # exit 1 when no sample is usable",
    "stickeval data inspect sb.pt --json | jq .actions",
)

PUSH_EXAMPLES = examples(
    "# both suites (quick, standard) as Parquet + dataset card + eval.yaml",
    "stickeval data push stickbench my-org/stickbench",
    "# only the quick suite, its test split cut to the first 32 samples",
    "stickeval data push stickbench my-org/stickbench-ci --size quick --limit 32",
)

SOURCES = ("stickbench",)
SPLITS = ("train", "test")
DEFAULT_EMBEDDING_DIM = 1024  # bge-large's, the published models'
MAX_EMBEDDING_DIM = 65_536


def _one_of(choices: tuple[str, ...]):
    """A flag callback accepting only `choices` (a usage error, exit 2, otherwise)."""

    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of: {', '.join(choices)}.")
        return value

    return check


def _size(value: str) -> str:
    from stickeval.data.stickbench import SIZES

    return _one_of(tuple(SIZES))(value)


@app.command("make", epilog=MAKE_EXAMPLES, cls=Command)
def make(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="What to build: stickbench.", callback=_one_of(SOURCES), show_default=False)
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="File to write (.pt; missing folders are made).", show_default=False)],
    size: Annotated[str, typer.Option("--size", help="StickBench size: quick or standard.", callback=_size)] = "quick",
    split: Annotated[str, typer.Option("--split", help="train or test.", callback=_one_of(SPLITS))] = "train",
    for_: Annotated[
        str | None,
        typer.Option("--for", metavar="VARIANT", help="Embed for this model: its text encoder at its embedding size.", show_default=False),
    ] = None,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Text encoder: hash or bge-large (default: hash).", show_default=False)
    ] = None,
    embedding_dim: Annotated[
        int | None,
        typer.Option(
            "--embedding-dim",
            min=1,
            max=MAX_EMBEDDING_DIM,
            help="Embedding size: any for hash, 1024 for bge-large (default: 1024).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, max=MAX_SEED, help="StickBench seed (default: the published suite's, 0).")
    ] = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write a StickBench split as a Stick-Gen .pt dataset (motion, actions, physics, embeddings).

    The embeddings feed a model only when they come from its text encoder at its embedding size:
    --for VARIANT takes both from the model; --encoder and --embedding-dim set them by hand.
    """
    from stickeval._io import check_writable
    from stickeval.data import save_dataset, suite_to_samples
    from stickeval.data.stickbench import SEED, load_suite
    from stickeval.text import get_encoder

    if for_ is not None and (encoder is not None or embedding_dim is not None):
        raise typer.BadParameter(
            "it takes the encoder and the embedding size from the model: drop --encoder/--embedding-dim, or drop --for.",
            param_hint="'--for'",
        )
    check_writable(out)  # before the work: a bad -o fails in a second
    if for_ is not None:
        encoder, embedding_dim = _encoder_of(for_, zoo)
    seed = SEED if seed is None else seed
    text_encoder = get_encoder(encoder or "hash", dim=embedding_dim or DEFAULT_EMBEDDING_DIM)
    suite = load_suite(size, split=split, seed=seed)
    err_console.print(f"Encoding {len(suite)} prompts with {text_encoder.name} ...", highlight=False, markup=False)
    save_dataset(suite_to_samples(suite, text_encoder.encode(suite.prompts)), out)
    summary = {
        "path": str(out),
        "suite": suite.name,
        "version": suite.version,
        "split": split,
        "seed": seed,
        "hash": suite.hash,
        "n_samples": len(suite),
        "encoder": text_encoder.name,
        "embedding_dim": text_encoder.dim,
    }
    if json_:
        print_json(summary)
    else:
        console.print(
            f"Wrote {len(suite)} samples of {suite.name} ({suite.version}, {split}) to {out}, with {text_encoder.dim}-dim "
            f"{text_encoder.name} embeddings (for models whose embedding_dim is {text_encoder.dim}).",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _encoder_of(variant: str, zoo: Path | None) -> tuple[str, int]:
    """The text encoder and embedding size of `variant`: from its zoo entry, else from its weights.

    Raises:
        UnknownVariantError, ZooFileError: as `zoo.get_variant`.
        TextEncoderError: the variant does not name its encoder.
        and the errors of `zoo.load` (a variant whose zoo entry lacks them is loaded: from the cache
        or a local directory).
    """
    from stickeval import zoo as zoo_api
    from stickeval.errors import TextEncoderError

    entry = zoo_api.get_variant(variant, zoo)
    if entry.encoder is not None and entry.embedding_dim is not None:
        return entry.encoder, entry.embedding_dim
    loaded = zoo_api.load(variant, zoo=zoo)
    if loaded.encoder is None:
        raise TextEncoderError(
            f"{variant} does not name its text encoder (no 'encoder' in its config.json or zoo entry): "
            f"pass --encoder and --embedding-dim {loaded.config.embedding_dim} instead of --for."
        )
    return loaded.encoder, loaded.config.embedding_dim


def _embeddings(info: dict) -> str:
    if not info["n_with_embedding"]:
        return "none (run encodes the prompts with the model's text encoder)"
    dims = ", ".join(map(str, info["embedding_dims"]))
    return (
        f"{info['n_with_embedding']}, {dims}-wide: usable only by models whose embedding_dim is {dims} "
        "(Hub variants: 1024, nano: 256; `stickeval data make stickbench --for VARIANT` embeds for a model)"
    )


@app.command("inspect", epilog=INSPECT_EXAMPLES, cls=Command)
def inspect(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A Stick-Gen .pt dataset file.", show_default=False)],
    json_: JsonOpt = False,
) -> None:
    """Show a .pt dataset's samples per action and source, lengths, quality scores and bad samples."""
    from stickeval.data import describe_dataset

    info = describe_dataset(path)
    if json_:
        print_json(info)
    else:
        fields = [("motion dim", str(info["motion_dim"])), ("embeddings", _embeddings(info))]
        if info["length"]:
            fields.append(("frames", "min {min}, median {median:g}, max {max}".format(**info["length"])))
        if info["quality"]:
            q = info["quality"]
            fields.append(
                ("quality_score", f"n {q['n']}, min {q['min']:.2f}, mean {q['mean']:.2f}, max {q['max']:.2f}, ≥ 0.5: {q['n_at_least_0.5']}")
            )
        fields += [
            ("sources", ", ".join(f"{k} {v}" for k, v in info["sources"].items()) or "-"),
            ("actions", ", ".join(f"{k} {v}" for k, v in info["actions"].items()) or "-"),
        ]
        print_fields(f"{path}: {info['n_good']} of {info['n_samples']} samples usable", fields)
        for problem in info["problems"]:
            console.print(f"bad {problem}", highlight=False, markup=False, soft_wrap=True)
    if info["n_good"] == 0:
        raise DatasetError(
            f"None of the {info['n_samples']} samples in {path} is usable (problems listed above); fix or replace them.", path=str(path)
        )


@app.command("push", epilog=PUSH_EXAMPLES, cls=Command)
def push(
    source: Annotated[
        str, typer.Argument(metavar="SOURCE", help="What to publish: stickbench.", callback=_one_of(SOURCES), show_default=False)
    ],
    repo_id: Annotated[str, typer.Argument(metavar="ORG/NAME", help="The dataset repo (created if missing).", show_default=False)],
    size: Annotated[
        list[str] | None, typer.Option("--size", help="A StickBench size to include (repeatable; default: quick and standard).")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="Keep the first N test samples of each suite (runs with the same --limit match it)."),
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the dataset repo private.")] = False,
    create_pr: Annotated[bool, typer.Option("--create-pr", help="Open a pull request instead of committing to main.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Publish StickBench as a Hub benchmark dataset: Parquet splits, a dataset card and an eval.yaml."""
    from stickeval.data.benchmark_repo import push_benchmark
    from stickeval.data.stickbench import SIZES

    sizes = tuple(dict.fromkeys(size or SIZES))  # in the order given, once each
    for name in sizes:
        _size(name)
    if "/" not in repo_id:
        raise typer.BadParameter(f"{repo_id!r} is not a repo id: pass ORG/NAME, e.g. my-org/stickbench.")
    err_console.print(f"Building StickBench {', '.join(sizes)} ...", highlight=False, markup=False)
    pushed, files = push_benchmark(repo_id, sizes, limit=limit, private=private, create_pr=create_pr)
    if json_:
        print_json(
            {
                "repo_id": repo_id,
                "sizes": list(sizes),
                "limit": limit,
                "files": files,
                "commit_sha": pushed.commit_sha,
                "commit_url": pushed.commit_url,
                "pr_url": pushed.pr_url,
            }
        )
        return
    err_console.print(
        f"Pushed StickBench ({', '.join(sizes)}) to the dataset {repo_id}: commit {pushed.commit_sha[:12]}, {len(files)} files. "
        f"Write a model's result for it: stickeval card VARIANT --results results.json --eval-results {repo_id} --push",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    console.print(pushed.pr_url or pushed.commit_url, highlight=False, markup=False, soft_wrap=True)
