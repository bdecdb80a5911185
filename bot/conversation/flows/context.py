"""What a flow runs with (the resident, the program's words, the clock) and how its texts and choices are read."""

from __future__ import annotations

import functools
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar, cast

from bot.conversation.flows.schema import ChoiceSpec, Node, Text
from bot.conversation.text import fold
from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import SUPPORTED_LOCALES, pick_text, text_direction
from bot.messages import Reply


@dataclass(frozen=True, slots=True)
class FlowContext:
    """What the engine may know of the world: the resident's locale and fields, and the program's words."""

    locale: str
    resident: Mapping[str, str | None]
    params: Mapping[str, str]
    translator: Callable[[str], Translator] = Translator
    # Choices listed earlier in this conversation (value, line, name), and the clock (to join a long SMS's parts).
    listed: tuple[tuple[str, str, str], ...] = ()
    now: datetime | None = None
    # Whether a message is short enough to send (the pipeline's SMS rule); None: no limit.
    fits: Callable[[str], bool] | None = None
    # The language a newcomer's first message seemed written in (bot.i18n.detection), kept in the state of the
    # conversation that asks their language: that question offers it first. Never their language until they choose.
    suggested_locale: str | None = None


def with_state(ctx: FlowContext, state: Mapping[str, Any]) -> FlowContext:
    """The context of a conversation in progress: its {vars} for texts, the choices it listed, the language it
    suggested."""
    variables = state.get("vars") or {}
    listed = tuple((str(v), str(line), str(name)) for v, line, name in state.get("listed") or ())
    suggested = state.get("suggested_locale")
    if suggested and suggested != ctx.suggested_locale:
        ctx = replace(ctx, suggested_locale=str(suggested))
    if not variables and not listed:
        return ctx
    return replace(ctx, params={**ctx.params, **{str(k): str(v) for k, v in variables.items()}}, listed=listed)


def guessed_language(node: Node, ctx: FlowContext) -> str | None:
    """The language a language question offers first: the one the newcomer's first message seemed written in (as
    the resident's facts carry it on that first message, then the conversation's state), while no language is
    known for them and the question offers it; else None (the usual menu)."""
    if node.until_language_known is None or ctx.resident.get("locale_known") == "yes":
        return None
    suggested = ctx.suggested_locale or ctx.resident.get("suggested_locale")
    return suggested if any(choice.value == suggested for choice in node.choices) else None


def ordered_choices(node: Node, ctx: FlowContext) -> tuple[ChoiceSpec, ...]:
    """A question's choices in the order they are numbered: the guessed language first, when there is one."""
    guess = guessed_language(node, ctx)
    if guess is None:
        return node.choices
    return tuple(sorted(node.choices, key=lambda choice: choice.value != guess))  # stable: the others keep their order


ABOUT = _("news, polls and events")
CONTACT = _("the program team")


T = TypeVar("T")


class _SafeParams(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@functools.lru_cache(maxsize=4096)  # the same few hundred texts are rendered for every message
def placeholders(raw: str) -> frozenset[str]:
    """The {names} a text fills in."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(raw) if name)


def render_text(text: Text, ctx: FlowContext) -> str:
    """The text in the context's locale: a gettext message, or the staff-written text of that language."""
    raw = ctx.translator(ctx.locale).gettext(text) if isinstance(text, str) else pick_text(text, ctx.locale)
    fields = placeholders(raw)
    if not fields:
        return raw
    direction = text_direction(ctx.locale)  # a Latin name or a phone number in Arabic keeps its order
    params = _SafeParams({name: isolate(str(value), direction) for name, value in ctx.params.items()})
    translator = ctx.translator(ctx.locale)
    if "frequency" in fields:
        params["frequency"] = frequency(translator, int(ctx.params.get("messages_per_month", "4")))
    if "about" in fields:  # the program's description in this language, else the catalog's
        params["about"] = isolate(ctx.params.get(f"about.{ctx.locale}") or translator.gettext(ABOUT), direction)
    if "contact" in fields and not ctx.params.get("contact"):
        params["contact"] = translator.gettext(CONTACT)
    return raw.format_map(params)


_PER_NODE: dict[tuple[int, str], tuple[Node, Any]] = {}


def per_node(node: Node, what: str, build: Callable[[], T], *, fixed: Callable[[], bool]) -> T:
    """What build() makes for a node, made once when fixed() says it reads the same for everyone (flows are parsed
    once per process and never change: the same node is the same object every time)."""
    kept = _PER_NODE.get((id(node), what))
    if kept is not None and kept[0] is node:
        return cast(T, kept[1])
    made = build()
    if fixed():
        _PER_NODE[(id(node), what)] = (node, made)
    return made


def has_placeholders(text: Text, ctx: FlowContext) -> bool:
    """Whether the text has a {placeholder} in any supported language (else it reads the same for everyone)."""
    for locale in SUPPORTED_LOCALES:
        raw = ctx.translator(locale).gettext(text) if isinstance(text, str) else pick_text(text, locale)
        if placeholders(raw):
            return True
    return False


def frequency(translator: Translator, per_month: int) -> str:
    """How often messages come, in the resident's language with its plural rules."""
    return translator.ngettext("up to {n} message a month", "up to {n} messages a month", per_month)


def match_choice(node: Node, answer: str, ctx: FlowContext, *, is_button: bool = False) -> str | None:
    """The value of the choice an answer names: its number, value, label or one of its words; else None."""
    if is_button:
        return next((c.value for c in node.choices if c.value == answer), None)
    folded = fold(answer)
    if not folded:
        return None
    if folded.isdecimal():  # any script's decimal digits ("٣"); "𐩀" is a digit int() cannot read
        index, numbered = int(folded), ordered_choices(node, ctx)
        return numbered[index - 1].value if 1 <= index <= len(numbered) else None
    for choice in node.choices:
        names = {fold(choice.value), fold(render_text(choice.label, ctx))}
        names.update(fold(w) for w in choice.words)
        if folded in names:
            return choice.value
    return None


def say(ctx: FlowContext, message: Text, **params: str) -> Reply:
    """A reply in the context's language with these words for its {placeholders} (isolated in right-to-left text)."""
    if params:
        ctx = replace(ctx, params={**ctx.params, **params})
    return Reply(render_text(message, ctx), (), text_direction(ctx.locale))
