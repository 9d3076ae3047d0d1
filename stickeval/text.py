"""Text encoders: a prompt becomes the float32 sentence embedding a Stick-Gen model is conditioned on.

Two encoders behind one small interface (`TextEncoder`):
- `hash`: built in, no downloads. Feature hashing of character 3/4/5-grams and word 1/2-grams
  into any dimension, L2-normalised. The same bytes in every process and on every machine (fixed
  64-bit integer hashes, never Python's salted `hash()`; norms from exact integer dot products). Similar strings land close; it carries no
  meaning beyond spelling, so it suits tests, the built-in `nano` variant and smoke runs.
- `bge-large`: BAAI/bge-large-en-v1.5 through sentence-transformers (the `bge` extra), CLS
  pooling + L2 norm: the convention of the original training data (the original inference code
  mean-pooled without a norm, a mismatch not copied here).

`get_encoder` wraps either in a per-(encoder, dim) embedding cache, so a prompt is encoded once
per process, and refuses blank prompts (`check_prompts`): no model was trained on an empty text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from stickeval.errors import GenerationInputError, TextEncoderError

BGE_REPO = "BAAI/bge-large-en-v1.5"
BGE_DIM = 1024
_CHAR_NGRAMS = (3, 4, 5)
_CHUNK = 256  # prompts per pass: the dense [CHUNK, dim] blocks stay in cache
_WORD = re.compile(r"[a-z0-9']+")
_MAX_MEMO = 1_000_000  # word hashes memoised before the memo is cleared


@runtime_checkable
class TextEncoder(Protocol):
    """Anything that turns prompts into embeddings: `encode(prompts) -> float32 [N, dim]`."""

    name: str
    dim: int

    def encode(self, prompts: list[str]) -> np.ndarray: ...


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over all 64 output bits (uint64, wrapping)."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


class HashEncoder:
    """Feature hashing of character n-grams and words; see the module docstring.

    Each feature adds ±1 at a hashed index (the sign from another hash bit, so collisions
    cancel on average). The character and word blocks are L2-normalised separately and summed,
    then the result is L2-normalised. An empty prompt encodes to zeros.
    """

    name = "hash"

    def __init__(self, dim: int = 1024):
        if dim < 1:
            raise TextEncoderError(f"The hash encoder's dim must be a positive integer, not {dim}.")
        self.dim = dim
        self._words: dict[str, int] = {}

    def encode(self, prompts: list[str]) -> np.ndarray:
        """Embed `prompts` as float32 [N, dim], unit L2 norm (zeros for an empty prompt)."""
        out = np.zeros((len(prompts), self.dim), dtype=np.float32)
        for start in range(0, len(prompts), _CHUNK):
            chunk = [p.lower() for p in prompts[start : start + _CHUNK]]
            chars = self._accumulate(*self._char_features(chunk), len(chunk))
            words = self._accumulate(*self._word_features(chunk), len(chunk))
            out[start : start + len(chunk)] = _combine(chars, words)
        return out

    def _char_features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, hash) of every character n-gram of " text ", all prompts at once."""
        encoded = [f" {t} ".encode() for t in texts]
        sizes = np.array([len(b) for b in encoded], dtype=np.int64)
        buf = np.frombuffer(b"".join(encoded), dtype=np.uint8).astype(np.uint64)
        row_of = np.repeat(np.arange(len(texts)), sizes)
        ends = np.repeat(np.cumsum(sizes), sizes)  # end offset of each byte's prompt
        rows, hashes = [], []
        for n in _CHAR_NGRAMS:
            pos = np.flatnonzero(np.arange(len(buf)) + n <= ends)
            h = np.full(len(pos), 0xCBF29CE484222325 + n, dtype=np.uint64)  # FNV-1a, salted by n
            with np.errstate(over="ignore"):
                for k in range(n):
                    h = (h ^ buf[pos + k]) * np.uint64(0x100000001B3)
            rows.append(row_of[pos])
            hashes.append(h)
        return np.concatenate(rows), _mix(np.concatenate(hashes))

    def _word_features(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(row, hash) of every word and word bigram; word hashes are blake2b, memoised."""
        if len(self._words) > _MAX_MEMO:
            self._words.clear()
        features, counts = [], []
        for text in texts:
            words = _WORD.findall(text)
            features += words
            features += [f"{a} {b}" for a, b in zip(words, words[1:])]
            counts.append(2 * len(words) - 1 if words else 0)
        memo = self._words
        hashes = [memo[f] if f in memo else self._hash_word(f) for f in features]
        return np.repeat(np.arange(len(texts)), counts), np.array(hashes, dtype=np.uint64)

    def _hash_word(self, feature: str) -> int:
        h = self._words[feature] = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
        return h

    def _accumulate(self, rows: np.ndarray, hashes: np.ndarray, n: int) -> np.ndarray:
        """Sum ±1 per feature into [n, dim]: index = hash mod dim, sign = the hash's top bit."""
        index = (hashes >> np.uint64(1)) % np.uint64(self.dim)
        sign = 1.0 - 2.0 * (hashes >> np.uint64(63)).astype(np.float64)
        flat = np.bincount(rows * self.dim + index.astype(np.int64), weights=sign, minlength=n * self.dim)
        return flat.reshape(n, self.dim)


def _combine(chars: np.ndarray, words: np.ndarray) -> np.ndarray:
    """chars/|chars| + words/|words|, L2-normalised; zero blocks contribute nothing.

    The norms come from dot products of integer counts, exact in float64 whatever the summation
    order, so the result has the same bits on every CPU (a float reduction would not).
    """
    cc, ww, cw = (np.einsum("ij,ij->i", a, b) for a, b in ((chars, chars), (words, words), (chars, words)))
    a = np.where(cc > 0, 1.0 / np.sqrt(np.maximum(cc, 1.0)), 0.0)
    b = np.where(ww > 0, 1.0 / np.sqrt(np.maximum(ww, 1.0)), 0.0)
    norm2 = (cc > 0) * 1.0 + (ww > 0) * 1.0 + 2.0 * cw * a * b  # |a·chars + b·words|²
    scale = np.where(norm2 > 0, 1.0 / np.sqrt(np.maximum(norm2, 1e-12)), 0.0)
    return chars * (a * scale)[:, None] + words * (b * scale)[:, None]


class BgeEncoder:
    """BAAI/bge-large-en-v1.5 via sentence-transformers: CLS pooling, L2-normalised, 1024 dims.

    The model loads on the first `encode`, from the Hugging Face cache.
    """

    name = "bge-large"
    dim = BGE_DIM

    def __init__(self, *, device: str | None = None, batch_size: int = 64):
        _check_bge_available()
        self.device, self.batch_size = device, batch_size
        self._model = None

    def encode(self, prompts: list[str]) -> np.ndarray:
        """Embed `prompts` as float32 [N, 1024] with unit L2 norm."""
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(BGE_REPO, device=self.device)
        emb = self._model.encode(
            list(prompts), batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(emb, dtype=np.float32).reshape(len(prompts), self.dim)


def _check_bge_available() -> None:
    """Raise one TextEncoderError naming everything missing for bge-large (package, cached model)."""
    import importlib.util

    from huggingface_hub import try_to_load_from_cache

    missing = []
    if importlib.util.find_spec("sentence_transformers") is None:
        missing.append("sentence-transformers is not installed (pip install 'stickeval[bge]')")
    if not isinstance(try_to_load_from_cache(BGE_REPO, "config.json"), str):
        missing.append(f"{BGE_REPO} is not in the Hugging Face cache (run `hf download {BGE_REPO}` on a machine with network)")
    if missing:
        raise TextEncoderError(f"Text encoder bge-large is unavailable: {'; '.join(missing)}.")


def check_prompts(prompts: Sequence[str]) -> None:
    """Refuse empty and all-whitespace prompts: a model needs text to generate from.

    Raises:
        GenerationInputError: naming how many prompts are blank and where (the first ten indices).
    """
    blank = [i for i, prompt in enumerate(prompts) if not prompt.strip()]
    if not blank:
        return
    if len(prompts) == 1:
        raise GenerationInputError('The prompt is blank: give the text to generate from, e.g. "a person waves".')
    shown = ", ".join(map(str, blank[:10])) + (" ..." if len(blank) > 10 else "")
    raise GenerationInputError(
        f"{len(blank)} of {len(prompts)} prompts are blank (index {shown}): give each some text to generate from, or leave them out."
    )


class CachedEncoder:
    """An encoder with an embedding cache keyed by prompt: each prompt is encoded once; blank prompts are refused."""

    def __init__(self, encoder: TextEncoder):
        self.encoder = encoder
        self.name, self.dim = encoder.name, encoder.dim
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, prompts: list[str]) -> np.ndarray:
        """Embeddings float32 [N, dim] for `prompts`, encoding only those not seen before.

        Raises:
            GenerationInputError: a prompt is blank (`check_prompts`).
        """
        check_prompts(prompts)
        todo = list(dict.fromkeys(p for p in prompts if p not in self._cache))
        if todo:
            self._cache.update(zip(todo, self.encoder.encode(todo)))
        if not prompts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[p] for p in prompts]).astype(np.float32, copy=False)


ENCODERS = ("hash", "bge-large")
_shared: dict[tuple[str, int], CachedEncoder] = {}


def get_encoder(name: str, *, dim: int = 1024) -> TextEncoder:
    """The text encoder `name` ("hash" or "bge-large"), with a per-process embedding cache.

    Args:
        name: encoder name, as a variant's config names it.
        dim: embedding size for "hash" (any); "bge-large" is always 1024.

    Returns:
        The encoder; its `encode` refuses blank prompts (GenerationInputError).

    Raises:
        TextEncoderError: unknown name, a dim bge-large cannot give, or bge-large not installed/cached.
    """
    if name not in ENCODERS:
        raise TextEncoderError(f"Unknown text encoder {name!r}; known: {', '.join(ENCODERS)}.")
    if name == "bge-large" and dim != BGE_DIM:
        raise TextEncoderError(f"bge-large gives {BGE_DIM}-dim embeddings, not {dim}; use --encoder hash for other sizes.")
    key = (name, dim)
    if key not in _shared:
        _shared[key] = CachedEncoder(HashEncoder(dim) if name == "hash" else BgeEncoder())
    return _shared[key]
