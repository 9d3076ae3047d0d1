"""The published model cards' own Python code runs unchanged against stickeval's model.

Each published card in tests/golden/cards/ is read, its ```python block extracted, and only its
`hf_hub_download(...)` call replaced (as text) by the local path of the same file in a checkpoint
that `save_checkpoint` wrote for the card's variant. The card imports the original repository's
module path (`src.model.transformer`); that name is pointed at `stickeval.zoo.model`.
"""

import ast
import re
import sys
import types

import pytest
import torch

from stickeval.errors import ModelArgumentsError
from stickeval.zoo import StickFigureTransformer, get_variant, save_checkpoint
from stickeval.zoo import model as model_module
from stickeval.zoo.model import ModelConfig
from tests.conftest import CARDS, SEED_CARD, golden_file

PUBLISHED_CARDS = sorted({SEED_CARD, *CARDS.glob("*.md")})  # the seed card always: missing, it fails
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def download_call(source: str) -> ast.Call:
    """The one `hf_hub_download(...)` call of a snippet."""
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "hf_hub_download"
    ]
    assert len(calls) == 1, "the snippet should download exactly one file"
    return calls[0]


@pytest.fixture
def original_module_path(monkeypatch):
    """Make the card's `from src.model.transformer import StickFigureTransformer` import stickeval's model."""
    src, src_model = types.ModuleType("src"), types.ModuleType("src.model")
    src.model, src_model.transformer = src_model, model_module
    monkeypatch.setitem(sys.modules, "src", src)
    monkeypatch.setitem(sys.modules, "src.model", src_model)
    monkeypatch.setitem(sys.modules, "src.model.transformer", model_module)


@pytest.mark.parametrize("card", PUBLISHED_CARDS, ids=lambda p: p.name)
def test_card_snippet_runs_as_written_on_a_checkpoint_saved_by_stickeval(card, tmp_path, original_module_path):
    blocks = CODE_BLOCK.findall(golden_file(card).read_text(encoding="utf-8"))
    assert len(blocks) == 1, f"{card.name} should hold one python block"
    snippet = blocks[0]
    call = download_call(snippet)
    arguments = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
    config = get_variant(arguments["repo_id"]).model_config()  # the zoo's architecture for the card's repo
    torch.manual_seed(0)
    saved = StickFigureTransformer(config)
    save_checkpoint(saved, tmp_path)
    download = ast.get_source_segment(snippet, call)
    assert snippet.count(download) == 1
    runnable = snippet.replace(download, repr(str(tmp_path / arguments["filename"])))  # the only change

    namespace: dict = {}
    exec(compile(runnable, str(card), "exec"), namespace)

    model = namespace["model"]
    assert isinstance(model, StickFigureTransformer) and not model.training
    assert model.config == config
    loaded, expected = model.state_dict(), saved.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_original_keywords_default_as_the_original_constructor():
    model = StickFigureTransformer(d_model=32, nhead=2, num_layers=1)
    assert model.config == ModelConfig(d_model=32, nhead=2, num_layers=1, num_actions=60, dropout=0.1)
    assert model.action_embedding.num_embeddings == 60  # the original class default, not the configs' 64


def test_a_config_and_keywords_together_are_refused_as_a_type_error():
    with pytest.raises(TypeError) as caught:
        StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1), num_actions=46)
    assert isinstance(caught.value, ModelArgumentsError)
    assert "a ModelConfig and keyword arguments (num_actions)" in str(caught.value)
    assert "not both" in str(caught.value)


def test_an_unknown_keyword_is_refused_with_a_suggestion():
    with pytest.raises(ModelArgumentsError) as caught:
        StickFigureTransformer(d_modle=32)
    assert isinstance(caught.value, TypeError)
    assert caught.value.unknown == ["d_modle"]
    assert "'d_modle'" in str(caught.value) and "Did you mean d_model?" in str(caught.value)
