"""pull / load / push against the local Hub stand-in, with the real huggingface_hub client."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from stickeval import zoo
from stickeval.errors import (
    ArchitectureMismatchError,
    CheckpointError,
    HubError,
    ParameterCountError,
    WeightsNotBuiltError,
)
from stickeval.hub import hub_settings
from tests.fixtures.checkpoints import build_tiny_checkpoint, zoo_toml
from tests.fixtures.hub_fixtures import TEST_TOKEN


def _cache(tiny_zoo) -> Path:
    return Path(hub_settings().cache_dir)


def _downloads(hub) -> int:
    return hub.count("GET", "/resolve/")


def _assert_pull_gives_published_bytes(tiny_zoo, name="tiny", revision="main"):
    pulled = zoo.pull(name, zoo=tiny_zoo.zoo)
    published = tiny_zoo.checkpoints[revision] / "model.safetensors"
    assert pulled.provenance.weights.read_bytes() == published.read_bytes()
    return pulled


# ---- pulling


def test_pull_into_an_empty_cache_fetches_the_preferred_weights_config_and_card(tiny_zoo):
    pulled = _assert_pull_gives_published_bytes(tiny_zoo)
    assert pulled.provenance.commit_sha == tiny_zoo.commits["main"] and pulled.provenance.revision == "main"
    assert sorted(p.name for p in pulled.provenance.path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert pulled.provenance.path.is_relative_to(_cache(tiny_zoo))
    assert pulled.n_params == pulled.expected_n_params == tiny_zoo.n_params
    assert tiny_zoo.hub.count(path="pytorch_model.bin") == 0


def test_a_second_pull_downloads_nothing(tiny_zoo):
    zoo.pull("tiny", zoo=tiny_zoo.zoo)
    before = _downloads(tiny_zoo.hub)
    again = zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert _downloads(tiny_zoo.hub) == before
    assert again.provenance.commit_sha == tiny_zoo.commits["main"]


def test_pull_by_commit_sha_and_by_tag_gets_that_revisions_weights(tiny_zoo):
    by_sha = zoo.pull("tiny", revision=tiny_zoo.commits["v1"], zoo=tiny_zoo.zoo)
    by_tag = zoo.pull("tiny", revision="v1", zoo=tiny_zoo.zoo)
    expected = (tiny_zoo.checkpoints["v1"] / "model.safetensors").read_bytes()
    by_sha, by_tag = by_sha.provenance, by_tag.provenance
    assert by_sha.weights.read_bytes() == by_tag.weights.read_bytes() == expected
    assert by_sha.commit_sha == by_tag.commit_sha == tiny_zoo.commits["v1"]
    assert by_tag.revision == "v1"


def test_pull_with_force_downloads_again(tiny_zoo):
    zoo.pull("tiny", zoo=tiny_zoo.zoo)
    before = _downloads(tiny_zoo.hub)
    zoo.pull("tiny", zoo=tiny_zoo.zoo, force=True)
    assert _downloads(tiny_zoo.hub) == before + 3


def test_offline_pull_from_a_warm_cache_makes_zero_requests(tiny_zoo, monkeypatch):
    warm = zoo.pull("tiny", zoo=tiny_zoo.zoo)
    tiny_zoo.hub.clear_requests()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert tiny_zoo.hub.requests == []
    assert offline.provenance == warm.provenance


def test_offline_pull_with_a_cold_cache_says_to_pull_on_a_machine_with_network(tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubError) as e:
        zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert str(e.value) == ("tiny is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull tiny` on a machine with network.")
    assert tiny_zoo.hub.requests == []


def test_a_parameter_count_other_than_the_zoos_warns_with_both_numbers_and_fails_with_strict(tiny_zoo, tmp_path, caplog):
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(tiny_zoo.zoo.read_text() + zoo_toml({"tiny-big": {"repo_id": tiny_zoo.repo_id, "n_params": 1_000}}))
    with caplog.at_level(logging.WARNING, logger="stickeval.zoo"):
        pulled = zoo.pull("tiny-big", zoo=wrong)
    assert f"tiny-big has {tiny_zoo.n_params:,} parameters but the zoo expects 1,000" in caplog.text
    assert (pulled.n_params, pulled.expected_n_params) == (tiny_zoo.n_params, 1_000)
    with pytest.raises(ParameterCountError, match=f"{tiny_zoo.n_params:,} parameters but the zoo expects 1,000"):
        zoo.pull("tiny-big", zoo=wrong, strict=True)


def test_a_lora_pull_fetches_its_base_and_load_merges_the_adapters(tiny_zoo):
    pulled = zoo.pull("tiny-lora", zoo=tiny_zoo.zoo)
    base = pulled.provenance.base
    assert base.variant == "tiny" and base.commit_sha == tiny_zoo.commits["main"]
    loaded = zoo.load("tiny-lora", zoo=tiny_zoo.zoo)
    base = load_file(tiny_zoo.checkpoints["main"] / "model.safetensors")
    adapters = load_file(tiny_zoo.checkpoints["lora"] / "model.safetensors")
    name = "transformer_encoder.layers.0.self_attn.q_proj"
    a, b = adapters[f"{name}.lora_A"], adapters[f"{name}.lora_B"]
    expected = base[f"{name}.weight"] + (4.0 / 2) * b @ a  # alpha / rank
    merged = loaded.model.state_dict()[f"{name}.weight"]
    torch.testing.assert_close(merged, expected)
    assert not torch.equal(merged, base[f"{name}.weight"])


def test_a_lora_variants_provenance_records_its_bases_own_revision_and_commit(tiny_zoo, tmp_path):
    pinned = tmp_path / "pinned.toml"
    tables = tomllib.loads(tiny_zoo.zoo.read_text())
    pinned.write_text(zoo_toml({**tables, "tiny": {**tables["tiny"], "revision": "v1"}}))  # the base at its tag
    pulled = zoo.pull("tiny-lora", zoo=pinned).provenance
    assert (pulled.commit_sha, pulled.base.revision, pulled.base.commit_sha) == (
        tiny_zoo.commits["lora"],
        "v1",
        tiny_zoo.commits["v1"],
    )
    model = zoo.load("tiny-lora", zoo=pinned).to_dict()
    assert (model["variant"], model["commit_sha"]) == ("tiny-lora", tiny_zoo.commits["lora"])
    assert model["base"] == {
        "variant": "tiny",
        "source": "hub",
        "repo_id": tiny_zoo.repo_id,
        "revision": "v1",
        "commit_sha": tiny_zoo.commits["v1"],
        "path": str(pulled.base.path),
        "weights": str(pulled.base.path / "model.safetensors"),
        "base": None,
    }


def test_weights_that_contradict_the_zoos_architecture_warn_and_fail_with_strict(tiny_zoo, tmp_path, caplog):
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(tiny_zoo.zoo.read_text() + zoo_toml({"tiny-v3": {"repo_id": tiny_zoo.repo_id, "schema": "v3", "d_model": 64}}))
    differences = "schema v1 (zoo: v3), d_model 32 (zoo: 64)"
    with caplog.at_level(logging.WARNING, logger="stickeval.zoo"):
        zoo.pull("tiny-v3", zoo=wrong)
    assert f"tiny-v3's weights do not match its zoo entry: {differences}" in caplog.text
    with pytest.raises(ArchitectureMismatchError) as e:
        zoo.pull("tiny-v3", zoo=wrong, strict=True)
    assert str(e.value) == (
        f"tiny-v3's weights do not match its zoo entry: {differences}. "
        "Check the revision and the zoo entry, or drop --strict to continue with a warning."
    )
    assert zoo.load("tiny-v3", zoo=wrong).schema == "v1"  # the weights decide, not the zoo


def test_lora_weights_without_a_config_load_with_lora_alpha_from_a_zoo_entry(tmp_path):
    base = load_file(build_tiny_checkpoint(tmp_path / "base") / "model.safetensors")
    name, rank = "pose_decoder.3", 2
    wrapped = {k: v for k, v in base.items() if not k.startswith(f"{name}.")}
    wrapped[f"{name}.base_layer.weight"], wrapped[f"{name}.base_layer.bias"] = base[f"{name}.weight"], base[f"{name}.bias"]
    torch.manual_seed(0)
    a, b = torch.randn(rank, 16), torch.randn(20, rank)
    wrapped[f"{name}.lora_A"], wrapped[f"{name}.lora_B"] = a, b
    torch.save(wrapped, tmp_path / "lora.pt")
    with pytest.raises(CheckpointError, match="lora_alpha = "):
        zoo.load(str(tmp_path / "lora.pt"))
    mine = tmp_path / "mine.toml"
    mine.write_text(zoo_toml({"mine": {"source": "local", "path": str(tmp_path / "lora.pt"), "lora_alpha": 4.0}}))
    merged = zoo.load("mine", zoo=mine).model.state_dict()[f"{name}.weight"]
    torch.testing.assert_close(merged, base[f"{name}.weight"] + (4.0 / rank) * b @ a)


def test_a_malformed_config_json_of_a_local_variant_is_a_checkpoint_error(tmp_path):
    directory = build_tiny_checkpoint(tmp_path / "mine")
    (directory / "config.json").write_text('{"encoder": "hash"')
    for call in (zoo.load, zoo.pull):
        with pytest.raises(CheckpointError, match=r"config\.json is not valid JSON \(.*\)\. Re-save the checkpoint"):
            call(str(directory))


def test_a_local_checkpoint_directory_pulls_and_loads_without_requests(tiny_zoo, tmp_path):
    directory = build_tiny_checkpoint(tmp_path / "mine", metadata={"encoder": "hash"})
    pulled = zoo.pull(str(directory))
    loaded = zoo.load(str(directory))
    assert pulled.provenance == loaded.provenance
    assert pulled.provenance.source == "local" and pulled.provenance.weights == directory.resolve() / "model.safetensors"
    assert (loaded.encoder, loaded.schema, loaded.provenance.commit_sha) == ("hash", "v1", None)
    assert tiny_zoo.hub.requests == []


def test_a_builtin_variant_without_weights_says_they_are_not_built_yet(tmp_path):
    # an installation without the shipped weights: the built-in variants pointed at an empty directory
    (tmp_path / "empty").mkdir()
    zoo_file = tmp_path / "zoo.toml"
    zoo_file.write_text(zoo_toml({"nano": {"path": str(tmp_path / "empty")}, "nano-sft": {"path": str(tmp_path / "empty")}}))
    with pytest.raises(WeightsNotBuiltError, match=r"^nano weights are not built yet: .* `stickeval pull small`"):
        zoo.pull("nano", zoo=zoo_file)
    with pytest.raises(WeightsNotBuiltError):
        zoo.load("nano-sft", zoo=zoo_file)


# ---- loading


def test_load_reads_the_cache_without_any_request_and_reports_provenance(tiny_zoo):
    zoo.pull("tiny", zoo=tiny_zoo.zoo)
    tiny_zoo.hub.clear_requests()
    loaded = zoo.load("tiny", zoo=tiny_zoo.zoo)
    assert tiny_zoo.hub.requests == []
    assert loaded.to_dict() | {"path": None, "weights": None, "config": None} == {
        "variant": "tiny",
        "source": "hub",
        "repo_id": tiny_zoo.repo_id,
        "revision": "main",
        "commit_sha": tiny_zoo.commits["main"],
        "path": None,
        "weights": None,
        "encoder": "hash",
        "schema": "v1",
        "n_params": tiny_zoo.n_params,
        "config": None,
        "base": None,
    }
    assert not loaded.model.training
    expected = load_file(tiny_zoo.checkpoints["main"] / "model.safetensors")
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in expected.items())


def test_load_pulls_a_variant_that_is_not_cached(tiny_zoo):
    loaded = zoo.load("tiny", revision="v1", zoo=tiny_zoo.zoo)
    assert loaded.provenance.commit_sha == tiny_zoo.commits["v1"]
    assert _downloads(tiny_zoo.hub) == 2  # weights and config.json: v1 has no card


def test_describe_variant_reports_the_cached_commit_and_card_metrics(tiny_zoo):
    variant = zoo.get_variant("tiny", tiny_zoo.zoo)
    assert zoo.describe_variant(variant)["cached"] is None
    zoo.pull("tiny", zoo=tiny_zoo.zoo)
    tiny_zoo.hub.clear_requests()
    doc = zoo.describe_variant(variant)
    assert doc["cached"]["commit_sha"] == tiny_zoo.commits["main"] and doc["cached"]["revision"] == "main"
    assert doc["card_metrics"] == {"mse": 0.0123}  # the card's accuracy is TBD
    assert tiny_zoo.hub.requests == []


# ---- failures: one readable line, and nothing partial that a later pull would trust


def _fail_then_recover(tiny_zoo, expected_message: str) -> None:
    with pytest.raises(HubError) as e:
        zoo.pull("tiny", zoo=tiny_zoo.zoo)
    message = str(e.value)
    assert expected_message in message and "\n" not in message
    assert not list(_cache(tiny_zoo).rglob("*.incomplete"))
    tiny_zoo.hub.clear_failures()
    _assert_pull_gives_published_bytes(tiny_zoo)


@pytest.mark.usefixtures("instant_client_retries")
@pytest.mark.parametrize(
    ("mode", "path", "message"),
    [
        ("500", None, "answered 500 (server error)"),
        ("500", "/resolve/", "answered 500 (server error)"),
        ("truncate", "model.safetensors", "was cut off mid-file"),
        ("wrong-size", "model.safetensors", "arrived with the wrong size"),
        ("corrupt", "model.safetensors", "model.safetensors of GesturaAI/stick-gen-tiny arrived corrupt"),
    ],
)
def test_a_failing_hub_gives_one_line_and_a_later_pull_gets_correct_bytes(tiny_zoo, mode, path, message):
    tiny_zoo.hub.fail(mode, path=path)
    _fail_then_recover(tiny_zoo, message)


@pytest.mark.usefixtures("instant_client_retries")
def test_a_stopped_hub_gives_one_line_and_a_later_pull_gets_correct_bytes(tiny_zoo):
    tiny_zoo.hub.stop()
    with pytest.raises(HubError) as e:
        zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert str(e.value).startswith(f"Could not reach the Hub at {tiny_zoo.hub.url} (")
    assert "set HF_HUB_OFFLINE=1" in str(e.value)
    tiny_zoo.hub.start()
    _assert_pull_gives_published_bytes(tiny_zoo)


@pytest.mark.usefixtures("instant_client_retries")
def test_a_stopped_hub_with_a_warm_cache_falls_back_to_the_cache_with_a_warning(tiny_zoo, caplog):
    warm = zoo.pull("tiny", zoo=tiny_zoo.zoo)
    tiny_zoo.hub.stop()
    with caplog.at_level(logging.WARNING, logger="stickeval.zoo"):
        again = zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert again.provenance == warm.provenance
    assert f"Could not reach the Hub at {tiny_zoo.hub.url}" in caplog.text and "using the cached commit" in caplog.text


def test_a_missing_repo_gives_one_line(tiny_zoo):
    with pytest.raises(HubError, match=r"^GesturaAI/nope was not found on http://127\.0\.0\.1:\d+ "):
        zoo.pull("GesturaAI/nope")


def test_an_unknown_revision_gives_one_line(tiny_zoo):
    with pytest.raises(HubError, match=r"^GesturaAI/stick-gen-tiny has no revision 'v9'\. Pass an existing"):
        zoo.pull("tiny", revision="v9", zoo=tiny_zoo.zoo)


def test_a_repo_without_the_weight_files_gives_one_line(tiny_zoo, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(zoo_toml({"odd": {"repo_id": tiny_zoo.repo_id, "weight_files": ["weights.pt"]}}))
    with pytest.raises(HubError, match=r"at main has no weights file \(looked for weights\.pt\)"):
        zoo.pull("odd", zoo=other)
    assert _downloads(tiny_zoo.hub) == 0


@pytest.mark.parametrize("token", [None, "hf_not_allowed"])
def test_a_gated_repo_gives_one_line_naming_hf_token_until_the_token_has_access(tiny_zoo, monkeypatch, token):
    tiny_zoo.hub.store.set_gated(tiny_zoo.repo_id, allowed_tokens=["hf_allowed"])
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    with pytest.raises(HubError, match=r"^GesturaAI/stick-gen-tiny is gated: request access at .* set HF_TOKEN"):
        zoo.pull("tiny", zoo=tiny_zoo.zoo)
    assert tiny_zoo.hub.requests[-1].status == (403 if token else 401)
    monkeypatch.setenv("HF_TOKEN", "hf_allowed")
    _assert_pull_gives_published_bytes(tiny_zoo)


# ---- pushing


def test_push_then_pull_round_trips_weights_byte_identically(tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    source = tiny_zoo.checkpoints["main"]
    result = zoo.push(source, "me/pushed")
    assert result.commit_url == f"{tiny_zoo.hub.url}/me/pushed/commit/{result.commit_sha}" and result.pr_url is None
    assert tiny_zoo.hub.count("POST", "/api/validate-yaml") == 1  # README.md went up and was validated
    pulled = zoo.pull("me/pushed")
    assert pulled.provenance.commit_sha == result.commit_sha
    for name in ("model.safetensors", "config.json", "README.md"):
        assert (pulled.provenance.path / name).read_bytes() == (source / name).read_bytes()
    files = set(tiny_zoo.hub.store.get_commit("me/pushed", result.commit_sha).files)
    assert files == {".gitattributes", "model.safetensors", "pytorch_model.bin", "config.json", "README.md"}


def test_push_with_create_pr_opens_a_pull_request_and_leaves_main(tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    result = zoo.push(tiny_zoo.checkpoints["v1"], tiny_zoo.repo_id, create_pr=True)
    assert result.pr_url == f"{tiny_zoo.hub.url}/{tiny_zoo.repo_id}/discussions/1"
    refs = tiny_zoo.hub.store.refs(tiny_zoo.repo_id)
    assert refs["main"] == tiny_zoo.commits["main"] and refs["refs/pr/1"] == result.commit_sha


def test_push_private_creates_a_private_repo(tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    zoo.push(tiny_zoo.checkpoints["v1"], "me/secret", private=True)
    assert tiny_zoo.hub.store.settings("me/secret")["private"] is True


def test_push_without_a_token_says_to_set_hf_token_and_sends_nothing(tiny_zoo):
    with pytest.raises(HubError, match=r"needs a Hub token with write access: set HF_TOKEN"):
        zoo.push(tiny_zoo.checkpoints["v1"], "me/pushed")
    assert tiny_zoo.hub.requests == []


def test_push_refuses_a_directory_that_does_not_load(tiny_zoo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        zoo.push(broken, "me/pushed")
    with pytest.raises(CheckpointError, match="has no config.json"):
        zoo.push(tmp_path, "me/pushed")
    with pytest.raises(HubError, match="is not a Hub repo id"):
        zoo.push(broken, "no-slash")
    assert tiny_zoo.hub.requests == []


def test_hub_settings_follow_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1/")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = hub_settings()
    assert (settings.endpoint, settings.cache_dir, settings.offline) == ("http://127.0.0.1:1", str(tmp_path / "hub"), True)
