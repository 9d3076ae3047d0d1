"""YAML text surgery: values replaced and items added in place, every other byte kept."""

import pytest

from stickeval.card.yaml_edit import YamlEditor, child, scalar_token
from stickeval.errors import CardError

FRONT = """# the card's comment stays
license: mit   # so does this one
metrics:
  - type: mse
    value: TBD
    name: 'Pose MSE'
"""


def test_a_scalar_is_replaced_in_place_and_comments_quoting_and_order_stay():
    editor = YamlEditor(FRONT)
    entry = child(editor.root, "metrics").value[0]
    editor.set_key(entry, "value", scalar_token(0.25))
    assert editor.apply() == FRONT.replace("value: TBD", "value: 0.25")


def test_a_missing_key_and_a_new_item_are_added_as_lines_indented_as_their_siblings():
    editor = YamlEditor(FRONT)
    metrics = child(editor.root, "metrics")
    editor.set_key(metrics.value[0], "config", scalar_token("seed=0"))
    editor.add_item(metrics, {"type": "accuracy", "value": 0.5})
    assert editor.apply() == FRONT + "    config: seed=0\n  - type: accuracy\n    value: 0.5\n"


def test_a_value_that_is_not_a_scalar_is_refused_with_a_card_error():
    editor = YamlEditor("metrics:\n  - type: mse\n    value: [1, 2]\n")
    with pytest.raises(CardError, match="not a single value"):
        editor.set_key(child(editor.root, "metrics").value[0], "value", "3")
