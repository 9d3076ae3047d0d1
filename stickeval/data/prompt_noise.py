"""Seeded prompt perturbations for the robustness metric: typos, dropped words, synonyms, and more.

`perturb(prompt, kind, level, seed)` rewrites a prompt the way users mistype or rephrase it, without
changing what it asks for. Six kinds, three levels:

| kind      | what it does (to `k` words, k = max(1, round(rate x words)))                  |
|-----------|-------------------------------------------------------------------------------|
| typo      | one keyboard slip per word: swap, drop, double or mistype (a QWERTY neighbour) a letter |
| dropout   | drop k words (never all of them)                                              |
| synonym   | replace thesaurus words: 1/3, 2/3, all of them by level (at least one)        |
| order     | k swaps of two neighbouring words                                            |
| case      | change a word's case, or add / remove its punctuation                        |
| filler    | insert k filler words ("um", "basically", "you know", ...)                   |

Level 1, 2, 3 touches 10%, 25%, 50% of the words (`RATE`). The result depends only on
(prompt, kind, level, seed): the random generator is seeded from a sha256 of the four, never from
Python's `hash()` (salted per process), so every process and machine makes the same noisy prompts.
Whitespace is normalised to single spaces. A prompt with nothing to perturb (empty, or no thesaurus
word for `synonym`) comes back unchanged.
"""

from __future__ import annotations

import hashlib
import random
import re

from stickeval.errors import PromptNoiseError

NOISE_KINDS = ("typo", "dropout", "synonym", "order", "case", "filler")
NOISE_LEVELS = (1, 2, 3)
RATE = {1: 0.10, 2: 0.25, 3: 0.50}  # share of the prompt's words a perturbation touches
SYNONYM_SHARE = {1: 1 / 3, 2: 2 / 3, 3: 1.0}  # share of the thesaurus words replaced

# Groups of interchangeable words, one inflection per group, about motion and how it is performed.
# Left/right, numbers and body parts are left out on purpose: swapping them changes the request.
_THESAURUS_GROUPS = (
    ("walk", "stroll", "amble", "pace"),
    ("walks", "strolls", "ambles", "paces"),
    ("walking", "strolling", "ambling", "pacing"),
    ("run", "jog", "dash"),
    ("runs", "jogs", "dashes"),
    ("running", "jogging", "dashing"),
    ("jump", "leap", "hop", "bound"),
    ("jumps", "leaps", "hops", "bounds"),
    ("jumping", "leaping", "hopping", "bounding"),
    ("raise", "lift", "hoist"),
    ("raises", "lifts", "hoists"),
    ("raising", "lifting", "hoisting"),
    ("punch", "strike", "jab"),
    ("punches", "strikes", "jabs"),
    ("punching", "striking", "jabbing"),
    ("dance", "boogie", "groove"),
    ("dances", "boogies", "grooves"),
    ("dancing", "boogieing", "grooving"),
    ("turn", "rotate", "spin"),
    ("turns", "rotates", "spins"),
    ("turning", "rotating", "spinning"),
    ("crouch", "squat", "hunker"),
    ("crouches", "squats", "hunkers"),
    ("crouching", "squatting", "hunkering"),
    ("clap", "applaud"),
    ("claps", "applauds"),
    ("clapping", "applauding"),
    ("climb", "ascend", "clamber"),
    ("climbs", "ascends", "clambers"),
    ("climbing", "ascending", "clambering"),
    ("crawl", "creep"),
    ("crawls", "creeps"),
    ("crawling", "creeping"),
    ("throw", "toss", "hurl"),
    ("throws", "tosses", "hurls"),
    ("throwing", "tossing", "hurling"),
    ("catch", "grab", "snatch"),
    ("catches", "grabs", "snatches"),
    ("catching", "grabbing", "snatching"),
    ("sit", "perch"),
    ("sits", "perches"),
    ("sitting", "perching"),
    ("slowly", "leisurely", "gradually", "unhurriedly"),
    ("quickly", "rapidly", "swiftly", "fast"),
    ("happily", "cheerfully", "joyfully", "gleefully"),
    ("sadly", "gloomily", "sorrowfully"),
    ("angrily", "furiously", "irately"),
    ("energetically", "vigorously", "briskly"),
    ("gently", "softly", "lightly"),
    ("carefully", "cautiously", "warily"),
    ("person", "figure", "individual", "human"),
    ("man", "guy", "gentleman"),
    ("woman", "lady"),
    ("someone", "somebody"),
    ("forward", "ahead", "forwards"),
    ("backward", "backwards"),
    ("happy", "cheerful", "joyful", "glad"),
    ("sad", "unhappy", "gloomy"),
    ("angry", "furious", "irate"),
    ("tired", "exhausted", "weary"),
    ("old", "elderly", "aged"),
    ("young", "youthful"),
    ("big", "large", "huge"),
    ("small", "little", "tiny"),
)


def _build_thesaurus(groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    """word -> its synonyms: the other words of every group it belongs to, in order."""
    out: dict[str, tuple[str, ...]] = {}
    for group in groups:
        for word in group:
            out[word] = tuple(dict.fromkeys(out.get(word, ()) + tuple(w for w in group if w != word)))
    return out


THESAURUS = _build_thesaurus(_THESAURUS_GROUPS)

FILLERS = ("um", "uh", "like", "basically", "you know", "kind of", "sort of", "just", "really", "actually", "so")
_PUNCTUATION = (",", ".", "!", "?", "...")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_TOKEN = re.compile(r"^(\W*)(.*?)(\W*)$")  # leading punctuation, word, trailing punctuation


def perturb(prompt: str, kind: str, level: int, seed: int = 0) -> str:
    """Apply one kind of prompt noise at one level, deterministically.

    Args:
        prompt: the clean prompt.
        kind: one of `NOISE_KINDS`: "typo", "dropout", "synonym", "order", "case", "filler".
        level: 1, 2 or 3 (10%, 25%, 50% of the words touched).
        seed: noise seed (default 0); different seeds give different noisy prompts.

    Returns:
        The noisy prompt (the prompt itself when there is nothing to perturb).

    Raises:
        PromptNoiseError: unknown kind or level.
    """
    if kind not in NOISE_KINDS:
        raise PromptNoiseError("kind", kind, NOISE_KINDS)
    if isinstance(level, bool) or level not in NOISE_LEVELS:
        raise PromptNoiseError("level", level, NOISE_LEVELS)
    words = prompt.split()
    if not words:
        return prompt
    digest = hashlib.sha256(f"{seed}\x00{kind}\x00{level}\x00{prompt}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    count = max(1, round(RATE[level] * len(words)))
    return " ".join(_PERTURBATIONS[kind](words, count, level, rng))


def _typo(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 2]
    for i in rng.sample(candidates, min(count, len(candidates))):
        words[i] = _slip(words[i], rng)
    return words


def _slip(word: str, rng: random.Random) -> str:
    """One keyboard slip in a word: swap, drop, double or mistype a letter (always a different word)."""
    letters = [i for i, c in enumerate(word) if c.isalpha()]
    while True:
        i = rng.choice(letters)
        op = rng.choice(("swap", "drop", "double", "neighbour"))
        if op == "swap" and i + 1 < len(word) and word[i + 1].isalpha() and word[i + 1] != word[i]:
            return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        if op == "drop":
            return word[:i] + word[i + 1 :]
        if op == "double":
            return word[: i + 1] + word[i:]
        if op == "neighbour" and word[i].lower() in "".join(_KEYBOARD_ROWS):
            sub = rng.choice(_neighbours(word[i].lower()))
            return word[:i] + (sub.upper() if word[i].isupper() else sub) + word[i + 1 :]


def _neighbours(letter: str) -> str:
    """Letters beside `letter` on a QWERTY keyboard: left, right, and the same column above and below."""
    out = []
    for r, row in enumerate(_KEYBOARD_ROWS):
        if letter in row:
            c = row.index(letter)
            out += [row[j] for j in (c - 1, c + 1) if 0 <= j < len(row)]
            out += [_KEYBOARD_ROWS[rr][c] for rr in (r - 1, r + 1) if 0 <= rr < 3 and c < len(_KEYBOARD_ROWS[rr])]
    return "".join(out)


def _dropout(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    dropped = set(rng.sample(range(len(words)), min(count, len(words) - 1)))
    return [w for i, w in enumerate(words) if i not in dropped]


def _synonym(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    eligible = [i for i, w in enumerate(words) if _split(w)[1].lower() in THESAURUS]
    for i in rng.sample(eligible, max(1, round(SYNONYM_SHARE[level] * len(eligible))) if eligible else 0):
        lead, core, trail = _split(words[i])
        choice = rng.choice(THESAURUS[core.lower()])
        if core.isupper() and len(core) > 1:
            choice = choice.upper()
        elif core[:1].isupper():
            choice = choice[:1].upper() + choice[1:]
        words[i] = lead + choice + trail
    return words


def _order(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    if len(words) < 2:
        return words
    for _ in range(count):
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    return words


def _case(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    for i in rng.sample(range(len(words)), min(count, len(words))):
        lead, core, trail = _split(words[i])
        options = {
            lead + core.upper() + trail,
            lead + core.lower() + trail,
            lead + core.capitalize() + trail,
            core,  # punctuation removed
            *(lead + core + trail + p for p in _PUNCTUATION),
        }
        options.discard(words[i])
        words[i] = rng.choice(sorted(options))
    return words


def _filler(words: list[str], count: int, level: int, rng: random.Random) -> list[str]:
    for _ in range(count):
        words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    return words


def _split(word: str) -> tuple[str, str, str]:
    lead, core, trail = _TOKEN.match(word).groups()
    return lead, core, trail


_PERTURBATIONS = {
    "typo": _typo,
    "dropout": _dropout,
    "synonym": _synonym,
    "order": _order,
    "case": _case,
    "filler": _filler,
}
