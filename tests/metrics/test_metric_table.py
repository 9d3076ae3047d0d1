"""The metric table: one row per metric, looked up by name, documented, independent of the model code."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from stickeval.data.suite import MIN_FRAMES
from stickeval.errors import MetricInputError
from stickeval.evaluation.scoring import PER_SAMPLE
from stickeval.metrics import METRICS
from stickeval.metrics.features import motion_features

KINDS = {*PER_SAMPLE, "robustness", "set"}  # the call forms stickeval.evaluation.scoring knows how to call

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_every_row_is_keyed_by_its_name_and_has_a_known_call_form():
    for name, metric in METRICS.items():
        assert metric.name == name
        assert metric.kind in KINDS
        assert metric.unit and metric.description
        assert metric.reference in (None, "held_out", "train")
        assert metric.reference != "train" or metric.kind == "set"


def test_card_fields_are_the_published_cards_metric_types_each_filled_once():
    fields = [m.card_field for m in METRICS.values() if m.card_field]
    assert sorted(fields) == ["accuracy", "mse", "robustness", "temporal_consistency"]


def test_every_metric_function_documents_its_range_and_direction():
    for metric in METRICS.values():
        doc = metric.fn.__doc__ or ""
        assert re.search(r"[Rr]ange", doc) and "better" in doc, metric.name


def test_every_metric_has_a_section_in_docs_metrics_md_saying_how_it_differs_from_the_original():
    text = DOCS.read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in text, name
    assert text.count("Original:") + text.count("original:") >= 6


def test_paired_metrics_return_one_float_per_clip(clips, variants):
    for metric in METRICS.values():
        if metric.kind == "paired":
            out = metric.fn(variants["shifted"], clips.motion, clips.lengths)
            assert out.shape == (len(clips.motion),) and out.dtype == np.float64, metric.name


def test_every_paired_metric_scores_clips_of_the_shortest_length_a_suite_admits(clips, variants):
    # `suite.MIN_FRAMES` is the one minimum: every metric scores clips of that length and refuses shorter ones.
    lens = np.full(len(clips.motion), MIN_FRAMES)
    for metric in METRICS.values():
        if metric.kind == "paired":
            assert np.all(np.isfinite(metric.fn(variants["shifted"], clips.motion, lens))), metric.name
    assert motion_features(clips.motion, lens).shape[0] == len(lens)
    with pytest.raises(MetricInputError, match=f"at least {MIN_FRAMES} real frames"):
        METRICS["temporal_consistency"].fn(variants["shifted"], clips.motion, lens - 1)


def test_metrics_import_neither_the_zoo_nor_generation_nor_torch():
    package = Path(__file__).resolve().parents[2] / "stickeval" / "metrics"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith(("stickeval.zoo", "stickeval.generation", "torch")), (path.name, name)
