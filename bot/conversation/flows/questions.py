"""Poll question kinds: how each asks (choices, instruction line) and how it reads an answer (answers.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.conversation import answers, scales
from bot.conversation.flows.context import (
    FlowContext,
    has_placeholders,
    match_choice,
    ordered_choices,
    per_node,
    render_text,
)
from bot.conversation.text import fold
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import SUPPORTED_LOCALES, text_direction
from bot.messages import Choice

if TYPE_CHECKING:
    from bot.conversation.flows.schema import Node

RATING_LOW, RATING_HIGH = 1, 5
PICK_MANY = _("You can choose more than one: reply with the numbers, e.g. 1,3.")
RANK = _("Reply with up to {count} numbers, most important first, e.g. 3,1,2.")
RATE = _("Reply with a number from {low} (worst) to {high} (best).")
USE_BUTTONS = _("Please use the buttons of this question.")
ONE_NUMBER = _("Sorry, I didn't understand. Please reply with a number from 1 to {count}.")
SEVERAL = _("Sorry, I didn't understand. Reply with one or more numbers from 1 to {count}, e.g. 1,3.")
IN_ORDER = _("Sorry, I didn't understand. Reply with the numbers in order, e.g. 3,1,2.")
YES_OR_NO = _("Please reply 1 for yes or 2 for no.")
NOT_A_NUMBER = _("Sorry, I didn't understand. Please reply with a number from 1 to {count}.")
NOT_NUMBERS = _("Sorry, I didn't understand. Reply with one or more numbers from 1 to {count}, e.g. 1,3.")
NOT_AN_ORDER = _("Sorry, I didn't understand. Reply with the numbers in order, e.g. 3,1,2.")


@dataclass(frozen=True, slots=True)
class Reading:
    """What an answer meant: a value, or a hint of what was expected."""

    value: Any = None
    hint: str | None = None

    @property
    def understood(self) -> bool:
        """True when the answer gave a value."""
        return self.hint is None


def options(node: Node, ctx: FlowContext) -> tuple[answers.Option, ...]:
    """The node's choices with their labels in every language, for the parser: built once per node when no label
    has a {placeholder} (the parser then keeps what it has read for the same objects)."""

    numbered = ordered_choices(node, ctx)  # the guessed language first at a language question ("the first one")

    def build() -> tuple[answers.Option, ...]:
        labels = [{loc: render_text(c.label, replace(ctx, locale=loc)) for loc in SUPPORTED_LOCALES} for c in numbered]
        return tuple(answers.Option(c.value, named, tuple(c.words)) for c, named in zip(numbered, labels, strict=True))

    order = "options" if numbered is node.choices else f"options:{numbered[0].value}"
    return per_node(node, order, build, fixed=lambda: not any(has_placeholders(c.label, ctx) for c in node.choices))


def choices(node: Node, ctx: FlowContext) -> tuple[tuple[Choice, ...], bool]:
    """The buttons of a question and whether SMS shows them as numbered lines."""

    t = ctx.translator(ctx.locale)
    if node.kind == "ask-yes-no":
        return (Choice("yes", t.gettext(_("Yes"))), Choice("no", t.gettext(_("No")))), True
    if node.kind == "ask-rating":
        return tuple(Choice(str(n), str(n)) for n in range(RATING_LOW, RATING_HIGH + 1)), False
    if node.kind == "ask-listed":  # the details are lines of the text; buttons carry the names only
        return tuple(Choice(value, f"{i} {name}") for i, (value, _line, name) in enumerate(ctx.listed, 1)), False
    return tuple(Choice(c.value, render_text(c.label, ctx)) for c in ordered_choices(node, ctx)), True


def instruction(node: Node, ctx: FlowContext) -> str | None:
    """A line that says how to answer, for kinds where the question text alone is not enough."""
    t = ctx.translator(ctx.locale)
    if node.kind == "ask-listed":
        mark = "\u200f" if text_direction(ctx.locale) == "rtl" else ""
        return "\n".join(f"{mark}{i} {line}" for i, (_value, line, _name) in enumerate(ctx.listed, 1)) or None
    if node.kind == "ask-multi":
        return t.gettext(PICK_MANY)
    if node.kind == "ask-ranking":
        return t.gettext(RANK, count=min(node.max_choices or 5, len(node.choices)))
    if node.kind == "ask-rating":
        return t.gettext(
            _("Reply with a number from {low} (worst) to {high} (best)."), low=RATING_LOW, high=RATING_HIGH
        )
    return None


def _button(node: Node, answer: str, buttons: Sequence[Choice]) -> Any:
    values = [c.value for c in buttons]
    if answer not in values:
        return None
    if node.kind == "ask-yes-no":
        return answer == "yes"
    if node.kind == "ask-rating":
        return int(answer)
    if node.kind in ("ask-multi", "ask-ranking"):
        return [answer]
    return answer


def read(node: Node, answer: str, ctx: FlowContext, *, is_button: bool = False) -> Reading:
    """Interpret an answer to a question node; ambiguous or unknown answers are never guessed."""
    t = ctx.translator(ctx.locale)
    if is_button:
        value = _button(node, answer, choices(node, ctx)[0])
        return Reading(value) if value is not None else Reading(hint=t.gettext(USE_BUTTONS))
    reader = READERS.get(node.kind, _read_choice)
    if node.kind != "ask-text" and _signed_or_fraction(answer, node.kind) and not _a_label(node, answer, ctx):
        return reader(node, "", ctx, t)  # never an option nor a number: the question's "from 1 to N" again
    return reader(node, answer, ctx, t)


_SIGNED = re.compile(r"(?:^|[\s(])[-−–+]\s*\d")  # "-1", "(−2)", "+3"
_FRACTION = re.compile(r"\d\s*[.٫]\s*\d|\d\s*,\s*\d")  # "2.5", "2,5", "٢٫٥"
_ONE_VALUE = ("ask-yes-no", "ask-rating", "ask-choice", "ask-listed")  # where "1,3" cannot be a list


_NUMERIC = re.compile(r"[\d\s.,;:/+\-−–()#]+")


def looks_numeric(answer: str) -> bool:
    """True when an answer is made of numbers only ("7", "-1", "1, 9", "٣"): an attempt at a numbered question."""
    prepped = answers.prep_text(answer).strip()
    return bool(prepped) and any(ch.isdigit() for ch in prepped) and _NUMERIC.fullmatch(prepped) is not None


def _a_label(node: Node, answer: str, ctx: FlowContext) -> bool:
    """True when the answer is a choice's own name ("-5 °C", "+65"), not its number."""
    return not fold(answer).isdigit() and match_choice(node, answer, ctx) is not None


def _signed_or_fraction(answer: str, kind: str) -> bool:
    """A number with a sign, or a fraction where only one whole number can answer: out of range, not read as one."""
    prepped = answers.prep_text(answer)
    return bool(_SIGNED.search(prepped) or (kind in _ONE_VALUE and _FRACTION.search(prepped)))


def _read_yes_no(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    yes = scales.parse_yes_no(answer)
    if yes is None and (number := scales.parse_number(answer)) in (1, 2):
        yes = number == 1  # the numbered lines SMS shows: 1 Yes, 2 No
    return Reading(yes) if yes is not None else Reading(hint=t.gettext(YES_OR_NO))


def _read_rating(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    rating = scales.parse_rating(answer, RATING_LOW, RATING_HIGH)
    return Reading(rating) if rating is not None else Reading(hint=t.gettext(ONE_NUMBER, count=RATING_HIGH))


def _read_listed(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    # By number, or by a title: a line's dates and times must not make "2" look like a name.
    number = scales.parse_rating(answer, 1, len(ctx.listed)) if ctx.listed else None
    titles = [answers.Option(value, {"*": name}) for value, _line, name in ctx.listed]
    found = ctx.listed[number - 1][0] if number else answers.parse_single(answer, titles, ctx.locale)
    if found is None:  # part of one title only: "town hall"
        found = _part_of_one(answer, {value: [name] for value, _line, name in ctx.listed})
    return Reading(found) if found is not None else Reading(hint=t.gettext(NOT_A_NUMBER, count=len(ctx.listed)))


def _read_multi(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    picked = answers.parse_multi(answer, options(node, ctx), ctx.locale, node.max_choices)
    return Reading(list(picked)) if picked is not None else Reading(hint=t.gettext(SEVERAL, count=len(node.choices)))


def _read_ranking(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    order = answers.parse_ranking(answer, options(node, ctx), ctx.locale, node.max_choices or 5)
    return Reading(list(order)) if order is not None else Reading(hint=t.gettext(IN_ORDER))


def _read_choice(node: Node, answer: str, ctx: FlowContext, t: Translator) -> Reading:
    exact = match_choice(node, answer, ctx)  # number, value, label in the resident's language: no parsing
    if exact is not None:
        return Reading(exact)
    opts = options(node, ctx)
    single = answers.parse_single(answer, opts, ctx.locale) or _part_of_one(
        answer, {o.value: list(o.labels.values()) for o in opts}
    )
    if single is None and {c.value for c in node.choices} == {"yes", "no"}:
        # A yes/no put as two choices (the consent question) takes every yes and no the yes/no kind takes.
        yes = scales.parse_yes_no(answer)
        single = None if yes is None else "yes" if yes else "no"
    return Reading(single) if single is not None else Reading(hint=t.gettext(ONE_NUMBER, count=len(node.choices)))


READERS: dict[str, Callable[[Node, str, FlowContext, Translator], Reading]] = {
    "ask-yes-no": _read_yes_no,
    "ask-rating": _read_rating,
    "ask-listed": _read_listed,
    "ask-multi": _read_multi,
    "ask-ranking": _read_ranking,
    "ask-choice": _read_choice,
}


def _part_of_one(answer: str, names: dict[str, list[str]]) -> str | None:
    """The one choice whose name contains the answer as whole words ("salud mental"), if exactly one does."""
    wanted = fold(answer)
    if len(wanted) < 4 or wanted.isdigit():
        return None
    hits = {value for value, labels in names.items() if any(f" {wanted} " in f" {fold(label)} " for label in labels)}
    return hits.pop() if len(hits) == 1 else None
