"""The zoo registry: packaged variants, user --zoo files, and name / repo id / path resolution."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from stickeval.errors import UnknownVariantError, ZooFileError
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters
from stickeval.zoo.registry import _KEY_TYPES, Variant, load_zoo, resolve_variant
from tests.fixtures.checkpoints import build_tiny_checkpoint, zoo_toml

HUB_NAMES = [f"{size}{kind}" for kind in ("", "-sft", "-lora") for size in ("small", "medium", "large")]
# the published totals with 64 actions, as the model cards on the Hub state them
PUBLISHED_PARAMS = {"small": 7_248_894, "medium": 20_595_646, "large": 44_619_646}


def test_packaged_zoo_lists_every_published_variant_and_the_builtins():
    assert sorted(load_zoo()) == sorted([*HUB_NAMES, "nano", "nano-sft"])


@pytest.mark.parametrize("name", HUB_NAMES)
def test_hub_variants_point_at_their_gesturaai_repo_with_schema_v1_and_bge_large(name):
    variant = load_zoo()[name]
    assert variant.source == "hub"
    assert variant.repo_id == f"GesturaAI/stick-gen-{name}"
    assert variant.weight_files == ("model.safetensors", "pytorch_model.bin")
    assert (variant.schema, variant.encoder, variant.num_actions) == ("v1", "bge-large", 64)
    assert variant.n_params == PUBLISHED_PARAMS[name.split("-")[0]]


@pytest.mark.parametrize("name", [*HUB_NAMES, "nano", "nano-sft"])
def test_expected_parameter_count_matches_the_model_built_from_the_entry(name):
    variant = load_zoo()[name]
    config = variant.model_config()
    assert count_parameters(config) == variant.n_params
    with torch.device("meta"):
        model = StickFigureTransformer(config)
    assert sum(p.numel() for p in model.parameters()) == variant.n_params


@pytest.mark.parametrize("size", ["small", "medium", "large"])
def test_lora_variants_name_their_base_and_share_its_architecture(size):
    zoo = load_zoo()
    lora, base = zoo[f"{size}-lora"], zoo[size]
    assert lora.is_lora and lora.base == size
    assert (lora.lora_rank, lora.lora_alpha) == (8, 16.0)
    assert lora.model_config() == base.model_config()


def test_builtin_variants_use_the_hash_encoder_and_have_no_revision():
    for name in ("nano", "nano-sft"):
        variant = load_zoo()[name]
        assert (variant.source, variant.encoder, variant.revision, variant.repo_id) == ("builtin", "hash", None, None)


def test_variants_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_zoo()["small"].revision = "v2"


def test_every_variant_field_is_a_key_a_zoo_file_may_set():
    assert set(_KEY_TYPES) == {f.name for f in dataclasses.fields(Variant)} - {"name"}


def test_a_user_zoo_adds_variants_and_overrides_single_keys(tmp_path):
    zoo = tmp_path / "mine.toml"
    sha = "a" * 40
    zoo.write_text(zoo_toml({"large-sft": {"revision": sha}, "mine": {"repo_id": "me/mine", "n_params": 5}}))
    variants = load_zoo(zoo)
    assert variants["large-sft"].revision == sha
    assert variants["large-sft"].repo_id == "GesturaAI/stick-gen-large-sft"  # untouched keys stay
    assert variants["mine"] == Variant(name="mine", repo_id="me/mine", n_params=5)
    assert list(variants)[-1] == "mine"


def test_a_user_zoo_reports_every_problem_in_one_error(tmp_path):
    zoo = tmp_path / "bad.toml"
    zoo.write_text(
        zoo_toml(
            {
                "a": {"repo": "me/a", "n_params": "7M"},
                "b": {"repo_id": "me/b", "weight_files": [], "d_model": -4, "schema": "v2"},
            }
        )
    )
    with pytest.raises(ZooFileError) as e:
        load_zoo(zoo)
    assert e.value.problems == [
        "a: unknown key 'repo'. Did you mean repo_id, recipe?",
        "a: n_params must be an integer, got '7M'",
        "b: weight_files must be a non-empty list of file names, got []",
        "b: d_model must be positive, got -4",
    ]
    message = str(e.value)
    assert message.startswith(f"{zoo} has 4 problems: a: unknown key 'repo'") and "\n" not in message


def test_a_user_zoo_entry_is_checked_as_a_whole_after_merging(tmp_path):
    zoo = tmp_path / "bad.toml"
    zoo.write_text(
        zoo_toml(
            {
                "no-repo": {"n_params": 5},
                "odd": {"repo_id": "me/odd", "schema": "v2", "source": "ftp"},
                "adapters": {"repo_id": "me/lora", "base": "smal"},
                "here": {"source": "local"},
            }
        )
    )
    with pytest.raises(ZooFileError) as e:
        load_zoo(zoo)
    assert e.value.problems == [
        'no-repo: needs repo_id = "org/name" (got None)',
        "odd: source must be one of hub, builtin, local, got 'ftp'",
        "odd: schema must be one of v1, v3, got 'v2'",
        "adapters: base 'smal' is not a variant in the zoo",
        "adapters: a LoRA variant (with base) needs lora_alpha",
        'here: source "local" needs path = "<checkpoint directory>"',
    ]


def test_a_zoo_entry_whose_n_params_contradicts_its_architecture_is_reported(tmp_path):
    arch = {"schema": "v1", "d_model": 32, "nhead": 2, "num_layers": 1, "embedding_dim": 1024, "num_actions": 64}
    zoo = tmp_path / "mine.toml"
    zoo.write_text(zoo_toml({"tiny": {"repo_id": "me/tiny", **arch, "n_params": 1000}, "large": {"n_params": 44_619_645}}))
    with pytest.raises(ZooFileError) as e:
        load_zoo(zoo)
    tiny = count_parameters(ModelConfig(d_model=32, nhead=2, num_layers=1))
    assert e.value.problems == [
        f"tiny: n_params 1,000 does not match its architecture, which has {tiny:,} parameters",
        "large: n_params 44,619,645 does not match its architecture, which has 44,619,646 parameters",
    ]


def test_model_config_is_none_until_the_entry_gives_the_whole_architecture():
    assert Variant(name="x", repo_id="me/x", schema="v3", d_model=64).model_config() is None
    full = Variant(name="x", schema="v3", d_model=64, nhead=2, num_layers=3, embedding_dim=256, num_actions=46)
    assert full.model_config() == ModelConfig(
        input_dim=48, output_dim=48, d_model=64, nhead=2, num_layers=3, embedding_dim=256, num_actions=46
    )


def test_a_missing_or_malformed_zoo_file_is_a_zoo_file_error(tmp_path):
    with pytest.raises(ZooFileError, match="does not exist"):
        load_zoo(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[tiny\nrepo_id = 1\n")
    with pytest.raises(ZooFileError, match="is not valid TOML"):
        load_zoo(broken)
    scalar = tmp_path / "scalar.toml"
    scalar.write_text('tiny = "me/tiny"\n')
    with pytest.raises(ZooFileError, match="tiny: must be a table"):
        load_zoo(scalar)


def test_an_unknown_name_suggests_close_zoo_names():
    with pytest.raises(UnknownVariantError) as e:
        resolve_variant("larg-sft")
    assert "Did you mean large-sft" in str(e.value)
    assert "stickeval zoo" in str(e.value)


def test_a_zoo_variants_repo_id_resolves_to_that_variant():
    assert resolve_variant("GesturaAI/stick-gen-medium-sft").name == "medium-sft"


def test_any_other_repo_id_is_an_ad_hoc_hub_variant_at_main():
    variant = resolve_variant("someone/their-model")
    assert (variant.source, variant.repo_id, variant.revision, variant.n_params) == ("hub", "someone/their-model", "main", None)


def test_an_existing_local_directory_is_a_local_variant(tmp_path):
    directory = build_tiny_checkpoint(tmp_path / "ckpt")
    variant = resolve_variant(str(directory))
    assert (variant.source, variant.path, variant.revision) == ("local", str(directory.resolve()), None)


def test_a_missing_relative_path_is_an_unknown_variant(tmp_path):
    with pytest.raises(UnknownVariantError, match="local directory"):
        resolve_variant("./no/such/dir")
