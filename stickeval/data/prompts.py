"""StickBench prompt vocabulary: subjects, phrasings per action, and modifiers with their effect.

Everything here is data. A modifier's fields say what it does to the motion (`speed` 0.5 halves
the cadence, `count` fixes the number of repetitions, ...), so the words of a prompt and the
motion synthesised for it cannot drift apart. `stickbench.py` draws from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    """Who performs the motion; `scale` multiplies the body size (a child is smaller)."""

    text: str
    scale: float = 1.0


@dataclass(frozen=True)
class Modifier:
    """A phrase that changes how an action is performed.

    Attributes:
        kind: the property it sets; one modifier of each kind at most per action.
        text: the words as they appear in the prompt, after the verb.
        speed, amplitude: multipliers of the motion's tempo and size.
        count, direction, side: replace the drawn value (see `motions.MotionParams`).
    """

    kind: str
    text: str
    speed: float = 1.0
    amplitude: float = 1.0
    count: int | None = None
    direction: int | None = None
    side: int | None = None


SUBJECTS: tuple[Subject, ...] = (
    Subject("a person"),
    Subject("a man"),
    Subject("a woman", 0.95),
    Subject("someone"),
    Subject("the figure"),
    Subject("a stick figure"),
    Subject("a child", 0.75),
    Subject("a tall person", 1.15),
)

MODIFIERS: dict[str, Modifier] = {
    m.text: m
    for m in (
        Modifier("speed", "slowly", speed=0.5),
        Modifier("speed", "quickly", speed=1.5),
        Modifier("amplitude", "energetically", amplitude=1.3),
        Modifier("amplitude", "gently", amplitude=0.7),
        Modifier("count", "once", count=1),
        Modifier("count", "twice", count=2),
        Modifier("count", "three times", count=3),
        Modifier("direction", "to the left", direction=-1),
        Modifier("direction", "to the right", direction=1),
        Modifier("hand", "with the left hand", side=-1),
        Modifier("hand", "with the right hand", side=1),
        Modifier("leg", "with the left leg", side=-1),
        Modifier("leg", "with the right leg", side=1),
    )
}


@dataclass(frozen=True)
class ActionWords:
    """How prompts name one action: verb phrases (third person) and the modifier kinds it takes."""

    phrases: tuple[str, ...]
    modifier_kinds: tuple[str, ...] = ()


ACTION_WORDS: dict[str, ActionWords] = {
    "idle": ActionWords(("stands still", "stands idle", "waits in place", "stays still")),
    "walk": ActionWords(("walks", "is walking", "walks forward", "strolls"), ("speed", "direction", "amplitude")),
    "run": ActionWords(("runs", "is running", "jogs", "runs forward"), ("speed", "direction")),
    "sprint": ActionWords(("sprints", "is sprinting", "dashes", "sprints at full speed"), ("direction",)),
    "jump": ActionWords(("jumps", "jumps up", "hops in place", "leaps"), ("count", "speed", "amplitude")),
    "wave": ActionWords(("waves", "waves hello", "waves a hand", "is waving"), ("hand", "speed", "amplitude")),
    "point": ActionWords(("points", "points at something", "points into the distance"), ("direction", "hand", "count")),
    "clap": ActionWords(("claps", "claps hands", "is clapping", "applauds"), ("speed", "amplitude")),
    "punch": ActionWords(("punches", "throws punches", "punches the air", "is boxing"), ("count", "speed")),
    "kick": ActionWords(("kicks", "kicks forward", "does a kick", "kicks the air"), ("count", "leg", "speed")),
    "dodge": ActionWords(("dodges", "ducks aside", "dodges sideways", "evades"), ("direction", "count", "speed")),
    "sit": ActionWords(("sits down", "takes a seat", "sits", "sits on a chair"), ("speed",)),
    "stand": ActionWords(("stands up", "gets up", "rises to stand", "stands up from a chair"), ("speed",)),
    "kneel": ActionWords(("kneels", "kneels down", "goes down on one knee"), ("speed",)),
    "crawling": ActionWords(("crawls", "is crawling", "crawls on all fours", "crawls forward"), ("speed", "direction")),
    "dance": ActionWords(("dances", "is dancing", "dances to music", "grooves"), ("speed", "amplitude")),
    "celebrate": ActionWords(("celebrates", "cheers", "celebrates with arms up", "raises both arms in triumph"), ("speed", "amplitude")),
}

# Ways to join the parts of a multi-action prompt ("walks, then waves").
CONNECTORS: tuple[str, ...] = (", then ", " and then ", ", and after that ", ", then ")

# After these actions a second action must be this one (a seated figure stands up before walking).
NEXT_ACTION: dict[str, str] = {"sit": "stand", "kneel": "stand"}


ADVERB_KINDS = ("speed", "amplitude")


def phrase(verb: str, modifiers: tuple[str, ...]) -> str:
    """A verb phrase with its modifiers: ("walks", ("slowly", "gently", "to the left")) →
    "walks slowly and gently to the left"."""
    adverbs = [m for m in modifiers if MODIFIERS[m].kind in ADVERB_KINDS]
    others = [m for m in modifiers if MODIFIERS[m].kind not in ADVERB_KINDS]
    return " ".join([verb, *([" and ".join(adverbs)] if adverbs else []), *others])


def sentence(subject: str, parts: list[str], connector: str) -> str:
    """Join a subject and verb phrases into one capitalised prompt ending with a full stop."""
    text = f"{subject} {connector.join(parts)}."
    return text[0].upper() + text[1:]


# Prompts for the real-motion track: the data owner's content label as a verb phrase.
REAL_PHRASES: dict[str, str] = {
    "walk": "walks forward",
    "walk-back": "walks backward",
    "walk-left": "sidesteps to the left",
    "walk-right": "sidesteps to the right",
    "walk-turn-left": "walks and turns left",
    "walk-turn-right": "walks and turns right",
    "run": "runs",
    "dash": "dashes forward",
    "raise-up-both-hands": "raises both hands",
    "raise-up-left-hand": "raises the left hand",
    "raise-up-right-hand": "raises the right hand",
    "wave-both-hands": "waves both hands",
    "wave-left-hand": "waves with the left hand",
    "wave-right-hand": "waves with the right hand",
    "bow": "bows",
    "bye": "waves goodbye",
    "byebye": "waves goodbye with both hands",
    "call": "calls someone over",
    "guide": "shows the way",
    "respond": "answers with a gesture",
    "dance-short": "dances",
    "kick": "kicks",
    "punch": "punches",
    "slash": "slashes with a sword",
}


def real_prompt(label: str, style: str = "normal") -> str:
    """The prompt of a real clip, e.g. ("walk", "elderly") → "A person walks forward in an elderly style."."""
    verb = REAL_PHRASES.get(label, f"performs {label.replace('-', ' ')}")
    if style and style != "normal":
        verb += f" in {'an' if style[0] in 'aeiou' else 'a'} {style} style"
    return sentence("a person", [verb], "")
