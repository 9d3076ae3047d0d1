"""Recipes: packaged files load, sft-large is the published run, every problem named at once, --set overrides."""

import dataclasses

import pytest

from stickeval.errors import RecipeError, UnknownRecipeError
from stickeval.train.recipe import list_recipes, load_recipe

EXPECTED = {f"{stage}-{size}" for stage in ("pretrain", "sft") for size in ("nano", "small", "medium", "large")}


def test_every_packaged_recipe_loads_and_the_eight_are_there():
    assert set(list_recipes()) == EXPECTED
    for name in list_recipes():
        assert load_recipe(name).name == name


def test_sft_large_is_the_published_run():
    r = load_recipe("sft-large")
    assert r.model.init_from == "large" and (r.model.d_model, r.model.nhead, r.model.num_layers) == (512, 16, 10)
    assert (r.optimizer.lr, r.optimizer.weight_decay, r.optimizer.max_grad_norm) == (5e-5, 0.01, 1.0)
    assert (r.schedule.epochs, r.schedule.batch_size, r.schedule.grad_accum) == (20, 2, 64)
    assert (r.curation.min_quality, r.curation.balance) == (0.5, "stratified")
    assert r.loss_weights() == {"temporal": 0.1, "action": 0.2, "physics": 0.25, "diff_physics": 0.1}
    assert (r.objective.kind, r.objective.loss, r.lora.enabled) == ("next-frame", "original", False)


def test_nano_recipe_matches_the_zoo_nano_entry_and_trains_on_stickbench():
    from stickeval.zoo import get_variant

    r, nano = load_recipe("pretrain-nano"), get_variant("nano")
    assert (r.model.d_model, r.model.nhead, r.model.num_layers, r.model.embedding_dim, r.model.num_actions) == (
        nano.d_model,
        nano.nhead,
        nano.num_layers,
        nano.embedding_dim,
        nano.num_actions,
    )
    assert (r.data.source, r.data.encoder, r.objective.kind) == ("stickbench", nano.encoder, "causal")


def test_unknown_key_and_wrong_type_are_reported_together_naming_each_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[optimizer]\nlearning_rate = 1e-4\n[schedule]\nepochs = "20"\n[sched]\nx = 1\n')
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    message = str(e.value)
    assert len(e.value.problems) == 3
    assert "optimizer.learning_rate" in message and "schedule.epochs: expected an integer" in message and "'sched'" in message
    assert "\n" not in message


def test_a_value_out_of_range_is_reported_beside_type_problems_so_one_pass_names_all_three(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[optimizer]\nlearning_rate = 1e-4\nlr = -1.0\n[schedule]\nepochs = "20"\n')
    with pytest.raises(RecipeError) as e:
        load_recipe(path)
    assert e.value.problems == [
        "unknown key 'optimizer.learning_rate'.",
        "schedule.epochs: expected an integer, got str '20'",
        "optimizer.lr must be > 0, got -1.0",
    ]
    assert str(e.value).startswith(f"{path} has 3 problem(s): ")


def test_set_overrides_any_key_with_a_toml_value():
    r = load_recipe("sft-large", ["optimizer.lr=1e-4", "lora.enabled=true", "data.path=train.pt", 'lora.target_modules=["q_proj"]'])
    assert (r.optimizer.lr, r.lora.enabled, r.data.path, r.lora.target_modules) == (1e-4, True, "train.pt", ["q_proj"])


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("optimizer.learnrate=1e-4", "optimizer.learnrate"),
        ("schedule.epochs=many", "schedule.epochs"),
        ("lr=1e-4", "section.key=value"),
        ("objective.kind=diffusion", "objective.kind"),
    ],
)
def test_bad_set_is_refused_naming_the_key(override, named):
    with pytest.raises(RecipeError, match=named.replace(".", r"\.")):
        load_recipe("sft-large", [override])


def test_micro_batch_is_auto_or_a_positive_integer_and_leaves_the_global_batch_alone():
    r = load_recipe("sft-large", ["schedule.micro_batch=16"])
    assert (r.schedule.micro_batch, r.schedule.batch_size * r.schedule.grad_accum) == (16, 128)
    assert load_recipe("sft-large").schedule.micro_batch == "auto"
    for bad, named in [("0", 'must be "auto" or a positive integer'), ('"big"', "got 'big'"), ("1.5", "an integer or a string")]:
        with pytest.raises(RecipeError, match=named):
            load_recipe("sft-large", [f"schedule.micro_batch={bad}"])


def test_unknown_recipe_suggests_a_close_name():
    with pytest.raises(UnknownRecipeError, match="Did you mean sft-large"):
        load_recipe("sft-lrge")


def test_resolved_recipe_written_as_toml_reads_back_equal(tmp_path):
    r = dataclasses.replace(load_recipe("sft-large", ["optimizer.lr=1e-4"]), description='a "quote" and a \\ backslash')
    path = tmp_path / "resolved.toml"
    path.write_text(r.to_toml())
    assert load_recipe(path) == r


def test_recipes_cp_then_train_from_the_copy_accepts_edits(run_cli, tmp_path):
    copy = tmp_path / "mine.toml"
    assert run_cli("recipes", "cp", "sft-small", copy).exit_code == 0
    assert copy.read_text() == run_cli("recipes", "show", "sft-small").stdout
    assert run_cli("recipes", "cp", "sft-small", copy).exit_code == 2  # exists: refused without --force
    assert load_recipe(copy, ["schedule.epochs=3"]).schedule.epochs == 3
