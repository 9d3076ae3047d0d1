"""StickBench's prompt vocabulary: every action is worded, modifiers exist, sentences read well."""

from stickeval.data.motions import MODELS
from stickeval.data.prompts import ACTION_WORDS, MODIFIERS, NEXT_ACTION, phrase, real_prompt, sentence


def test_every_modelled_action_has_several_phrasings_and_known_modifier_kinds():
    kinds = {m.kind for m in MODIFIERS.values()}
    assert set(ACTION_WORDS) == set(MODELS)
    for action, words in ACTION_WORDS.items():
        assert len(words.phrases) >= 3, action
        assert set(words.modifier_kinds) <= kinds, action
    assert set(NEXT_ACTION.values()) <= set(MODELS)


def test_adverbs_are_joined_with_and_before_other_modifiers():
    assert phrase("walks", ("slowly", "gently", "to the left")) == "walks slowly and gently to the left"
    assert phrase("jumps", ("twice",)) == "jumps twice"


def test_a_sentence_is_capitalised_and_ends_with_a_full_stop():
    assert sentence("a person", ["walks", "waves"], ", then ") == "A person walks, then waves."


def test_real_prompts_word_the_label_and_the_style_with_the_right_article():
    assert real_prompt("walk", "elderly") == "A person walks forward in an elderly style."
    assert real_prompt("run", "youthful") == "A person runs in a youthful style."
    assert real_prompt("wave-right-hand") == "A person waves with the right hand."
