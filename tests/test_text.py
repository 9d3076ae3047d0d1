"""Text encoders: the hash encoder's determinism and geometry, the cache, and bge-large's errors."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from stickeval.errors import GenerationInputError, TextEncoderError
from stickeval.text import BGE_REPO, CachedEncoder, HashEncoder, TextEncoder, get_encoder

PROMPTS = ["A person walks slowly to the left.", "Someone claps hands.", "", "Ünïcödé dances ✨"]


def cosine(encoder, a: str, b: str) -> float:
    x = encoder.encode([a, b])
    return float(x[0] @ x[1])


def test_hash_embeddings_are_unit_float32_rows_of_the_requested_dim():
    for dim in (1024, 64):
        x = HashEncoder(dim).encode(PROMPTS)
        assert x.shape == (len(PROMPTS), dim) and x.dtype == np.float32
        norms = np.linalg.norm(x, axis=1)
        np.testing.assert_allclose(norms[[0, 1, 3]], 1.0, rtol=1e-6)
        assert norms[2] == 0.0  # nothing to hash in an empty prompt


def test_hash_encoding_is_identical_in_another_process():
    code = (
        "import sys, numpy as np; from stickeval.text import HashEncoder;"
        f"sys.stdout.buffer.write(HashEncoder(256).encode({PROMPTS!r}).tobytes())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, env={**os.environ, "PYTHONHASHSEED": "123"}
    ).stdout
    assert other == HashEncoder(256).encode(PROMPTS).tobytes()


def test_similar_prompts_are_closer_than_unrelated_ones():
    enc = HashEncoder()
    anchor = "a person walks slowly to the left"
    assert cosine(enc, anchor, "a person walks slowly to the right") > 0.6
    assert cosine(enc, anchor, "a man walks slow to the left") > cosine(enc, anchor, "someone claps their hands") + 0.3
    assert cosine(enc, anchor, "someone claps their hands") < 0.2


def test_case_does_not_change_the_hash_embedding():
    enc = HashEncoder()
    np.testing.assert_array_equal(enc.encode(["A Person WAVES"]), enc.encode(["a person waves"]))


def test_a_prompt_encodes_the_same_alone_or_in_any_batch():
    enc = HashEncoder(128)
    prompts = [f"prompt number {i} jumps" for i in range(600)]  # crosses the internal chunk size
    batch = enc.encode(prompts)
    for i in (0, 255, 256, 599):
        np.testing.assert_array_equal(batch[i], enc.encode([prompts[i]])[0])


def test_an_empty_prompt_list_gives_an_empty_array():
    assert get_encoder("hash").encode([]).shape == (0, 1024)


class CountingEncoder:
    """A stand-in TextEncoder that records what it was asked to encode."""

    name, dim = "counting", 3

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, prompts):
        self.calls.append(list(prompts))
        return np.array([[len(p), 1.0, 0.0] for p in prompts], dtype=np.float32)


def test_the_cache_encodes_each_prompt_once():
    inner = CountingEncoder()
    cached = CachedEncoder(inner)
    first = cached.encode(["a", "bb", "a"])
    second = cached.encode(["bb", "ccc"])
    assert inner.calls == [["a", "bb"], ["ccc"]]
    np.testing.assert_array_equal(first[:, 0], [1, 2, 1])
    np.testing.assert_array_equal(second[:, 0], [2, 3])


def test_get_encoder_returns_one_cached_encoder_per_name_and_dim():
    enc = get_encoder("hash", dim=32)
    assert isinstance(enc, TextEncoder) and (enc.name, enc.dim) == ("hash", 32)
    assert get_encoder("hash", dim=32) is enc and get_encoder("hash", dim=64) is not enc
    written = [p for p in PROMPTS if p]  # get_encoder refuses the blank one
    np.testing.assert_array_equal(enc.encode(written), HashEncoder(32).encode(written))


def test_an_unknown_encoder_is_refused_with_the_known_names():
    with pytest.raises(TextEncoderError, match="Unknown text encoder 'clip'; known: hash, bge-large"):
        get_encoder("clip")


def test_bge_large_cannot_give_other_dims():
    with pytest.raises(TextEncoderError, match="1024-dim"):
        get_encoder("bge-large", dim=512)


def test_a_missing_bge_large_names_the_extra_and_the_download_command():
    from huggingface_hub import try_to_load_from_cache

    installed = importlib.util.find_spec("sentence_transformers") is not None
    cached = isinstance(try_to_load_from_cache(BGE_REPO, "config.json"), str)
    if installed and cached:
        pytest.skip("bge-large is installed and cached here")
    with pytest.raises(TextEncoderError) as e:
        get_encoder("bge-large")
    message = str(e.value)
    assert message.startswith("Text encoder bge-large is unavailable")
    assert ("pip install 'stickeval[bge]'" in message) != installed
    assert (f"hf download {BGE_REPO}" in message) != cached


def test_get_encoder_refuses_blank_prompts_naming_where_they_are():
    encoder = get_encoder("hash", dim=32)
    with pytest.raises(GenerationInputError, match=r"^2 of 3 prompts are blank \(index 0, 2\): give each some text"):
        encoder.encode(["", "a person waves", " \t"])
    with pytest.raises(GenerationInputError, match="^The prompt is blank"):
        encoder.encode(["   "])
    assert encoder.encode(["a person waves"]).shape == (1, 32)
