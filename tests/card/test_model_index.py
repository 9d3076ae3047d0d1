"""Model-card filling: values from a real results.json land in the right block, everything else stays byte for byte.

The card is the published seed card (`stick-gen-large-sft`: model-index with mse,
temporal_consistency and accuracy = TBD on "Curated SFT Dataset"/motion-capture); results come from
the real pipeline on a tiny checkpoint (`tiny_runs`: the whole of a small .pt file, and the first 6
prompts of StickBench quick, a subset). Every updated card is checked with huggingface_hub's own parser.
"""

import copy
import difflib
import json

import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from stickeval.card.model_index import CARD_METRIC_NAMES, TBD, format_value, read_results, subset_of, update_card
from stickeval.errors import CardError, ResultsFileError
from stickeval.metrics import METRICS
from tests.conftest import SEED_CARD, golden_file

SFT = {"dataset_name": "Curated SFT Dataset", "dataset_type": "motion-capture"}


@pytest.fixture(scope="module")
def seed_card() -> str:
    return golden_file(SEED_CARD).read_bytes().decode()


@pytest.fixture(scope="module")
def sft_results(tiny_runs) -> dict:
    return read_results(tiny_runs.sft_data)


@pytest.fixture(scope="module")
def bench_results(tiny_runs) -> dict:
    return read_results(tiny_runs.stickbench)


def expected(results: dict) -> dict[str, float]:
    """{card field: mean rounded to 4 significant digits}, straight from the results."""
    return {m["card_field"]: float(f"{m['mean']:.4g}") for m in results["metrics"].values() if m.get("card_field")}


def eval_values(card_text: str) -> dict[tuple[str, str], object]:
    """{(dataset name, metric type): value} as huggingface_hub parses the card."""
    metadata = yaml.safe_load(card_text.split("---")[1])
    _, results = model_index_to_eval_results(metadata["model-index"])
    return {(r.dataset_name, r.metric_type): r.metric_value for r in results}


def line_diff(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) of a plain line diff."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def test_sft_results_fill_the_seed_card_and_touch_only_value_lines(seed_card, sft_results):
    update = update_card(seed_card, sft_results, **SFT)
    values = eval_values(update.updated)
    want = expected(sft_results)
    assert set(want) == set(CARD_METRIC_NAMES)
    for card_field, value in want.items():
        assert values[("Curated SFT Dataset", card_field)] == value
    assert ModelCard(update.updated).data.eval_results[0].metric_config == f"stickeval-{sft_results['tool']['version']}"
    removed, added = line_diff(seed_card, update.updated)
    assert removed == ["      value: TBD"] * 3
    value_lines = [line for line in added if line.strip().startswith("value:")]
    assert len(value_lines) == 4 and all(line.startswith("      value: ") for line in value_lines)
    others = [line.strip() for line in added if not line.strip().startswith(("value:", "config:"))]
    assert others == ["- type: robustness", "name: Robustness"]
    assert update.updated.split("\n---\n", 1)[1] == seed_card.split("\n---\n", 1)[1]  # the body, untouched
    assert {c.metric for c in update.changes} == set(CARD_METRIC_NAMES) and not update.current


def test_results_of_a_limit_subset_are_refused_naming_the_subset_and_allow_subset(seed_card, bench_results):
    assert subset_of(bench_results) == "first 6 of 127 prompts"
    with pytest.raises(
        CardError, match=r"on the first 6 of 127 prompts of stickbench-quick \(a --limit run\), not the whole suite"
    ) as caught:
        update_card(seed_card, bench_results)
    assert "--allow-subset" in str(caught.value) and "\n" not in str(caught.value)


def test_results_of_the_whole_suite_are_no_subset_whatever_the_limit(bench_results):
    whole = copy.deepcopy(bench_results)
    whole["suite"]["n"] = whole["suite"]["size"]  # e.g. --limit 500 on the 127 prompts of quick
    assert subset_of(whole) is None
    older = copy.deepcopy(bench_results)
    del older["suite"]["size"]  # results.json written before suite.size: config.limit alone tells
    assert subset_of(older) == "first 6 prompts"
    older["config"]["limit"] = None
    assert subset_of(older) is None


def test_a_subset_allowed_goes_under_a_dataset_name_that_says_which_subset(seed_card, sft_results, bench_results):
    update = update_card(seed_card, bench_results, allow_subset=True)
    assert update.dataset.name == "stickbench-quick (first 6 of 127 prompts)"
    assert {name for name, _ in eval_values(update.updated)} == {"Curated SFT Dataset", update.dataset.name}
    pt_subset = copy.deepcopy(sft_results)
    pt_subset["suite"]["n"] = 2
    with pytest.raises(CardError, match="first 2 of 6 prompts"):
        update_card(seed_card, pt_subset, **SFT)
    assert update_card(seed_card, pt_subset, **SFT, allow_subset=True).dataset.name == "Curated SFT Dataset (first 2 of 6 prompts)"


def test_stickbench_results_add_their_own_block_and_leave_the_sft_block_tbd(seed_card, bench_results):
    update = update_card(seed_card, bench_results, allow_subset=True)
    values = eval_values(update.updated)
    suite = update.dataset.name
    for card_field, value in expected(bench_results).items():
        assert values[(suite, card_field)] == value
        assert ("Curated SFT Dataset", card_field) not in values or values[("Curated SFT Dataset", card_field)] == TBD
    removed, _ = line_diff(seed_card, update.updated)
    assert removed == []  # only lines added: the new block
    assert any("Curated SFT Dataset" in n and "--dataset-name" in n for n in update.notices)
    assert {c.dataset.name for c in update.changes} == {suite}
    assert all(c.old is None for c in update.changes)


def test_a_builtin_suite_is_never_written_under_the_cards_dataset_name(seed_card, bench_results):
    with pytest.raises(CardError, match="built-in suite stickbench-quick"):
        update_card(seed_card, bench_results, **SFT)


def test_dataset_name_without_dataset_type_is_refused(seed_card, sft_results):
    with pytest.raises(CardError, match="go together"):
        update_card(seed_card, sft_results, dataset_name="Curated SFT Dataset")


def test_an_updated_card_is_current_for_the_same_results_and_stale_for_another_value(seed_card, sft_results):
    first = update_card(seed_card, sft_results, **SFT)
    again = update_card(first.updated, sft_results, **SFT)
    assert again.current and again.changes == [] and again.diff() == ""
    edited = first.updated.replace(format_value(expected(sft_results)["mse"]), "123.4", 1)
    stale = update_card(edited, sft_results, **SFT)
    assert not stale.current and [(c.metric, c.old) for c in stale.changes] == [("mse", "123.4")]
    assert "-      value: 123.4" in stale.diff()


def test_a_null_metric_is_named_and_left_tbd_never_null(seed_card, sft_results):
    results = copy.deepcopy(sft_results)
    robustness = next(m for m in results["metrics"].values() if m.get("card_field") == "robustness")
    robustness.update(mean=None, note="the model ignores its text")
    update = update_card(seed_card, results, **SFT)
    assert ("Curated SFT Dataset", "robustness") not in eval_values(update.updated)
    assert "null" not in update.updated.split("---")[1] and "None" not in update.updated.split("---")[1]
    assert any(n.startswith("robustness (robustness) is null") and "ignores its text" in n for n in update.notices)


def test_a_metric_missing_from_the_results_is_named_and_a_filled_value_goes_back_to_tbd(seed_card, sft_results):
    filled = update_card(seed_card, sft_results, **SFT).updated
    results = copy.deepcopy(sft_results)
    del results["metrics"]["pose_mse"]
    update = update_card(filled, results, **SFT)
    assert eval_values(update.updated)[("Curated SFT Dataset", "mse")] == TBD
    assert any(n.startswith("mse is not in these results") for n in update.notices)


def test_front_matter_comments_quotes_order_and_crlf_survive(sft_results):
    card = (
        "---\r\n# a comment that a YAML round-trip would drop\r\nlicense: mit  # trailing comment\r\nmodel-index:\r\n"
        "- name: 'Quoted'\r\n  results:\r\n  - task: {type: text-to-animation}\r\n    dataset:\r\n"
        "      name: Curated SFT Dataset\r\n      type: motion-capture\r\n    metrics:\r\n"
        '    - type: mse\r\n      value: "TBD"   # filled by CI\r\n      name: Pose MSE\r\n'
        "tags: [b, a]\r\n---\r\nBody\r\n"
    )
    update = update_card(card, sft_results, **SFT)
    assert "\n" not in update.updated.replace("\r\n", "")  # every new line is CRLF too
    assert f"      value: {format_value(expected(sft_results)['mse'])}   # filled by CI\r\n" in update.updated
    removed, added = line_diff(card.replace("\r\n", "\n"), update.updated.replace("\r\n", "\n"))
    assert removed == ['      value: "TBD"   # filled by CI']
    assert eval_values(update.updated.replace("\r\n", "\n"))[("Curated SFT Dataset", "robustness")] == expected(sft_results)["robustness"]


def test_a_body_metrics_table_with_tbd_cells_is_filled(seed_card, sft_results):
    table = "\n## Evaluation\n\n| Metric | Value |\n|---|---|\n| Pose MSE | TBD |\n| robustness |   TBD   |\n| Parameters | 44.5M |\n"
    card = seed_card + table
    update = update_card(card, sft_results, **SFT)
    want = expected(sft_results)
    assert update.updated.endswith(
        f"| Pose MSE | {format_value(want['mse'])} |\n| robustness |   {format_value(want['robustness'])}   |\n| Parameters | 44.5M |\n"
    )
    assert {c.metric for c in update.changes if c.where == "body"} == {"mse", "robustness"}
    assert update_card(update.updated, sft_results, **SFT).current


def test_a_card_without_model_index_gets_one(sft_results):
    card = "---\nlicense: mit\n---\n# Tiny\n"
    update = update_card(card, sft_results, **SFT)
    assert update.updated.startswith("---\nlicense: mit\nmodel-index:\n") and update.updated.endswith("---\n# Tiny\n")
    assert eval_values(update.updated)[("Curated SFT Dataset", "mse")] == expected(sft_results)["mse"]


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ("# A card\n\nNo front matter.\n", "no YAML front matter"),
        ("---\nlicense: mit\nmodel-index:\n- name: x\n results: [\n---\nbody\n", "cannot be parsed"),
        ("---\nmodel-index:\n- name: x\n  results:\n  - task: {}\n    metrics: []\n---\n", "cannot be parsed"),
    ],
    ids=["no-front-matter", "malformed-yaml", "unparseable-model-index"],
)
def test_bad_cards_are_refused_with_one_clear_line(card, message, sft_results):
    with pytest.raises(CardError, match=message) as caught:
        update_card(card, sft_results, **SFT)
    assert "\n" not in str(caught.value)


def test_results_of_another_schema_version_are_refused(tiny_runs, tmp_path):
    old = json.loads(tiny_runs.stickbench.read_text())
    old["schema_version"] = 0
    (tmp_path / "results.json").write_text(json.dumps(old))
    with pytest.raises(ResultsFileError, match="schema_version 0.*stickeval score"):
        read_results(tmp_path / "results.json")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (54.23213301879397, "54.23"),
        (0.03125, "0.03125"),
        (24471.958, "24470.0"),
        (1.23456e-7, "1.235e-07"),
        (1e20, "1.0e+20"),
        (0.0, "0.0"),
        (1.0, "1.0"),
        (0.99994, "0.9999"),
        (0.99996, "1.0"),
    ],
)
def test_values_are_written_with_four_significant_digits_as_yaml_floats(value, text):
    assert format_value(value) == text
    assert isinstance(yaml.safe_load(f"value: {text}")["value"], float)


def test_every_card_field_of_the_metric_table_has_a_card_name():
    assert {m.card_field for m in METRICS.values() if m.card_field} == set(CARD_METRIC_NAMES)
