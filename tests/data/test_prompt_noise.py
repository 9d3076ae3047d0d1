"""Seeded prompt noise: each kind does what it says, at three levels, identically in every process."""

import os
import re
import subprocess
import sys

import pytest

from stickeval.data.prompt_noise import FILLERS, NOISE_KINDS, NOISE_LEVELS, RATE, THESAURUS, perturb
from stickeval.errors import PromptNoiseError

PROMPT = "A tired person walks slowly forward, then turns and waves happily with the right hand while jumping."
WORDS = PROMPT.split()


def bare(word: str) -> str:
    return re.sub(r"\W", "", word.lower())


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("level", NOISE_LEVELS)
def test_every_kind_and_level_changes_the_prompt_the_same_way_each_time(kind, level):
    noisy = perturb(PROMPT, kind, level, seed=0)
    assert noisy != PROMPT
    assert noisy == perturb(PROMPT, kind, level, seed=0)


def test_results_are_identical_in_another_process_with_another_hash_seed():
    code = (
        "from stickeval.data.prompt_noise import perturb, NOISE_KINDS\n"
        f"print([perturb({PROMPT!r}, k, l, 5) for k in NOISE_KINDS for l in (1, 2, 3)])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.strip() == repr([perturb(PROMPT, k, lvl, 5) for k in NOISE_KINDS for lvl in (1, 2, 3)])


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_different_seeds_give_different_noisy_prompts(kind):
    assert len({perturb(PROMPT, kind, 2, seed) for seed in range(10)}) >= 5


def test_higher_levels_touch_more_words():
    def touched(level: int) -> float:
        noisy = [perturb(PROMPT, "typo", level, s).split() for s in range(20)]
        return sum(a != b for words in noisy for a, b in zip(WORDS, words)) / 20

    assert touched(1) < touched(2) < touched(3)
    assert touched(3) == round(RATE[3] * len(WORDS))


def test_typos_keep_the_word_count_and_change_each_touched_word_by_one_slip():
    for seed in range(20):
        noisy = perturb(PROMPT, "typo", 2, seed).split()
        assert len(noisy) == len(WORDS)
        changed = [(a, b) for a, b in zip(WORDS, noisy) if a != b]
        assert len(changed) == round(RATE[2] * len(WORDS))
        assert all(abs(len(a) - len(b)) <= 1 for a, b in changed)


def test_dropout_removes_words_in_order_and_never_all_of_them():
    noisy = perturb(PROMPT, "dropout", 3, seed=1).split()
    assert len(noisy) == len(WORDS) - round(RATE[3] * len(WORDS))
    it = iter(WORDS)
    assert all(w in it for w in noisy)  # a subsequence of the original
    assert perturb("walk", "dropout", 3, seed=0) == "walk"


def test_synonyms_come_from_the_thesaurus_and_keep_capitals():
    for seed in range(10):
        for a, b in zip(WORDS, perturb(PROMPT, "synonym", 3, seed).split()):
            if a != b:
                assert bare(b) in THESAURUS[bare(a)]
    assert perturb("Walks.", "synonym", 3, seed=0).rstrip(".") in {w.capitalize() for w in THESAURUS["walks"]}
    assert perturb("WALK", "synonym", 1, seed=0) in {w.upper() for w in THESAURUS["walk"]}


def test_thesaurus_is_symmetric_and_leaves_directions_alone():
    for word, synonyms in THESAURUS.items():
        assert all(word in THESAURUS[s] for s in synonyms), word
    assert not {"left", "right", "up", "down"} & set(THESAURUS)


def test_prompt_without_thesaurus_words_is_unchanged_by_synonym_noise():
    assert perturb("wave the left hand", "synonym", 3, seed=0) == "wave the left hand"


def test_word_order_noise_keeps_the_same_words():
    for seed in range(10):
        assert sorted(perturb(PROMPT, "order", 3, seed).split()) == sorted(WORDS)


def test_case_noise_changes_only_case_and_punctuation():
    for seed in range(10):
        assert [bare(w) for w in perturb(PROMPT, "case", 3, seed).split()] == [bare(w) for w in WORDS]


def test_filler_noise_only_inserts_filler_words():
    noisy = perturb(PROMPT, "filler", 2, seed=3)
    for filler in sorted(FILLERS, key=len, reverse=True):
        noisy = re.sub(rf"(?<!\S){re.escape(filler)}(?!\S) ?", "", noisy)
    assert noisy.strip() == PROMPT


def test_empty_prompt_is_returned_unchanged():
    assert perturb("", "typo", 3, seed=0) == ""


def test_unknown_kind_suggests_the_closest():
    with pytest.raises(PromptNoiseError, match="kind 'tpyo'. Did you mean typo.*Available: typo, dropout"):
        perturb(PROMPT, "tpyo", 1)


def test_unknown_level_lists_the_levels():
    with pytest.raises(PromptNoiseError, match=r"Unknown noise level 4. Available: 1, 2, 3."):
        perturb(PROMPT, "typo", 4)
    with pytest.raises(PromptNoiseError, match="level True"):
        perturb(PROMPT, "typo", True)
