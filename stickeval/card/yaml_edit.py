"""The YAML text surgery behind `stickeval.card.model_index`: edits of a card's front matter at node positions.

PyYAML's composer gives the start and end of every node; `YamlEditor` replaces scalars and inserts
lines there, so the comments, quoting, key order and line endings of everything else stay as they are.
Block style only: a flow-style collection (`{...}`, `[...]`) is refused with a `CardError`.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from stickeval.errors import CardError


def scalar_token(value: object) -> str:
    """`value` as one YAML scalar token (PyYAML quotes strings that need it; floats keep a '.')."""
    return yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True).splitlines()[0]


def child(node: Node | None, key: str) -> Node | None:
    """The value node of `key` in a mapping node (None when absent or not a mapping)."""
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == key), None)


def require_block_style(node: Node, what: str) -> None:
    """Refuse a flow-style collection, naming the part of the card (`what`) that uses it."""
    if node.flow_style:
        raise CardError(
            f"The card writes its {what} in flow style ({{...}} or [...]); stickeval edits block style only. "
            "Rewrite that part as indented lines, then run again."
        )


class YamlEditor:
    """Edits of a YAML text by node positions, applied at once (later positions first)."""

    def __init__(self, text: str):
        self.text = text
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        self._edits: list[tuple[int, int, int, str]] = []  # (start, end, order, replacement)

    def _edit(self, start: int, end: int, replacement: str) -> None:
        self._edits.append((start, end, len(self._edits), replacement))

    def _after_line_of(self, position: int, lines: list[str]) -> None:
        """Insert whole lines after the line holding `position`."""
        nl = self.text.find("\n", position)
        if nl == -1:  # the front matter's last line has no newline of its own
            self._edit(len(self.text), len(self.text), self.newline + self.newline.join(lines))
        else:
            self._edit(nl + 1, nl + 1, self.newline.join(lines) + self.newline)

    def set_key(self, mapping: Node, key: str, scalar: str) -> None:
        """Replace the scalar value of `key`, or add `key: scalar` as the mapping's last line."""
        value = child(mapping, key)
        if isinstance(value, ScalarNode):
            start, end = value.start_mark.index, value.end_mark.index
            spaced = " " if start == end and self.text[start - 1 : start] == ":" else ""
            self._edit(start, end, spaced + scalar)
        elif value is None:
            indent = " " * mapping.value[0][0].start_mark.column
            self._after_line_of(last_position(mapping), [f"{indent}{key}: {scalar}"])
        else:
            raise CardError(f"The card's `{key}` of a model-index metric is not a single value; make it one, then run again.")

    def add_item(self, sequence: SequenceNode, item: dict) -> None:
        """Append `item` to a block sequence, indented as its existing items."""
        dash = " " * sequence.start_mark.column
        dumped = yaml.safe_dump([item], sort_keys=False, default_flow_style=False, allow_unicode=True, width=10**9)
        self._after_line_of(last_position(sequence), [dash + line for line in dumped.splitlines()])

    def append(self, document: list[dict]) -> None:
        """Append top-level keys at the end of the front matter."""
        lines = [line for item in document for line in yaml.safe_dump(item, sort_keys=False, allow_unicode=True, width=10**9).splitlines()]
        self._after_line_of(len(self.text), lines)

    def apply(self) -> str:
        text = self.text
        for start, end, _, replacement in sorted(self._edits, key=lambda e: (e[0], e[2]), reverse=True):
            text = text[:start] + replacement + text[end:]
        return text


def last_position(node: Node) -> int:
    """A position on the last line a block node's content occupies (its last scalar's end)."""
    while isinstance(node, (MappingNode, SequenceNode)) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    return max(node.end_mark.index - 1, node.start_mark.index)
