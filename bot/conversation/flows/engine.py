"""The flow engine: pure functions from (flow, node, state, answer, context) to replies, effects and next node."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.conversation import scales
from bot.conversation.flows import questions
from bot.conversation.flows.context import (
    FlowContext,
    guessed_language,
    has_placeholders,
    per_node,
    render_text,
    with_state,
)
from bot.conversation.flows.schema import ASK_KINDS, Flow, Node
from bot.conversation.text import fold
from bot.i18n.catalogs import _
from bot.i18n.negotiation import SUPPORTED_LOCALES, text_direction
from bot.messages import BUTTON_SEPARATOR, Reply

MAX_AUTO_STEPS = 50
JOIN_WINDOW = timedelta(seconds=15)
SEGMENT_LENGTHS = frozenset({153, 160, 67, 70})  # where a carrier cuts a long SMS (GSM-7, UCS-2)
# The language question for a newcomer whose first message seemed written in one language, said in that language
# (each catalog names its own language here): it comes first, and the others follow as further choices.
GUESSED_LANGUAGE = _(
    "Welcome to {program}! You seem to write in English: reply 1 to continue in English, or choose another language:"
)
SKIP_WORDS = frozenset(
    fold(w) for w in ("skip", "omitir", "saltar", "passer", "ignorer", "bo qua", "跳过", "跳過", "تخطي", "تخطى")
)


@dataclass(frozen=True, slots=True)
class SetField:
    """An effect: set a field of the resident (locale, consent, area or fields.NAME)."""

    field: str
    value: str | None


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    """An effect: the resident answered a poll question (value: str, int, bool, list, or None when skipped)."""

    question: str
    value: Any
    kind: str


@dataclass(frozen=True, slots=True)
class SubmitFeedback:
    """An effect: the resident's feedback becomes an input item (its reference is {ref} in later texts)."""

    text: str
    topic: str | None
    may_contact: bool
    rating: int | None = None


@dataclass(frozen=True, slots=True)
class Rsvp:
    """An effect: the resident answered an event (yes, no or maybe)."""

    event_id: int
    response: str


@dataclass(frozen=True, slots=True)
class ForgetAboutMe:
    """An effect: delete what the resident said about themselves, and withdraw that consent (DELETE MY DATA)."""


@dataclass(frozen=True, slots=True)
class CheckIn:
    """An effect: the resident texted the code shown at an event (HERE 4821): they came."""

    event_id: int


@dataclass(frozen=True, slots=True)
class Support:
    """An effect: the resident supports a published proposal (SUPPORT 4821)."""

    proposal_id: int


Effect = SetField | RecordAnswer | SubmitFeedback | Rsvp | ForgetAboutMe | CheckIn | Support


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one engine call."""

    node: str | None
    state: dict[str, Any]
    replies: tuple[Reply, ...] = ()
    effects: tuple[Effect, ...] = ()

    @property
    def ended(self) -> bool:
        """True when the flow reached its end."""
        return self.node is None


def ask(node: Node, ctx: FlowContext) -> Reply:
    """The question a waiting node asks, with its choices and how to answer."""
    assert node.text is not None
    guess = guessed_language(node, ctx)
    if guess is not None:  # in the language the newcomer seems to write, which is choice 1; they still choose
        choices, numbered = questions.choices(node, ctx)
        text = render_text(GUESSED_LANGUAGE, replace(ctx, locale=guess))
        return Reply(text, choices, text_direction(guess), numbered=numbered, question=node.id, locale=guess)
    body = render_text(node.text, ctx)
    if (until := node.until_language_known) is not None and ctx.resident.get("locale_known") != "yes":
        others = per_node(
            node,
            "until_language_known",
            lambda: [render_text(until, replace(ctx, locale=loc)) for loc in SUPPORTED_LOCALES],
            fixed=lambda: not has_placeholders(until, ctx),
        )
        body = "\n".join([body, *(line for line in dict.fromkeys(others) if line not in body)])
    choices, numbered = questions.choices(node, ctx)
    line = questions.instruction(node, ctx)
    if line:
        body = _fitting(body, line.split("\n"), ctx.fits)
    several = node.kind in ("ask-multi", "ask-ranking")  # answered with several numbers: no single-tap buttons
    direction = text_direction(ctx.locale)
    return Reply(body, choices, direction, numbered=numbered, buttons=not several, question=node.id, locale=ctx.locale)


def _fitting(body: str, lines: list[str], fits: Callable[[str], bool] | None) -> str:
    """The body and as many whole lines as fit in a bot message (at least the first): a list of events is cut at
    the soonest that fit; buttons on Telegram still offer them all, and a number past the cut still works."""
    body = f"{body}\n{lines[0]}"
    for line in lines[1:]:
        if fits is not None and not fits(f"{body}\n{line}"):
            break
        body = f"{body}\n{line}"
    return body


def _resolve(value: str | None, state: Mapping[str, Any]) -> str | None:
    if value == "$answer":
        answer = state.get("answer")
        return None if answer is None else str(answer)
    return value


def _run(
    flow: Flow,
    node_id: str | None,
    state: dict[str, Any],
    ctx: FlowContext,
    replies: list[Reply],
    effects: list[Effect],
) -> Step:
    """Walk from node_id through nodes that need no answer until one that waits, or the end."""
    for _step in range(MAX_AUTO_STEPS):
        here = with_state(ctx, state)
        if node_id is None:
            return Step(None, state, tuple(replies), tuple(effects))
        node = flow.nodes[node_id]
        if node.kind in ASK_KINDS:
            guess = guessed_language(node, here)
            if guess is not None:  # kept with the conversation: the answer is read against the menu it was shown
                state = {**state, "suggested_locale": guess}
            replies.append(ask(node, here))
            return Step(node.id, {**state, "attempts": 0}, tuple(replies), tuple(effects))
        if node.kind == "send":
            assert node.text is not None
            replies.append(Reply(render_text(node.text, here), (), text_direction(ctx.locale)))
            node_id = node.next
        elif node.kind == "set-field":
            assert node.field is not None
            value = _resolve(node.value, state)
            effects.append(SetField(node.field, value))
            resident = {**ctx.resident, node.field: value}
            ctx = replace(ctx, resident=resident, locale=value if node.field == "locale" and value else ctx.locale)
            node_id = node.next
        elif node.kind == "submit-feedback":
            answers = state.get("answers", {})
            text, rating = answers.get("feedback"), answers.get("rating")
            if text or isinstance(rating, int):
                effects.append(
                    SubmitFeedback(
                        str(text or ""),
                        answers.get("topic"),
                        answers.get("may_contact") is True,
                        rating if isinstance(rating, int) else None,
                    )
                )
            node_id = node.next
        elif node.kind == "submit-rsvp":
            answers = state.get("answers", {})
            if str(answers.get("event", "")).isdecimal() and answers.get("rsvp"):
                effects.append(Rsvp(int(answers["event"]), str(answers["rsvp"])))
            node_id = node.next
        elif node.kind == "branch":
            node_id = next(
                (arm.next for arm in node.conditions if _equals(_lookup(arm.field, ctx, state), arm.equals)),
                node.next,
            )
        else:  # end
            node_id = None
    return Step(None, state, tuple(replies), tuple(effects))


def _equals(value: object, equals: str) -> bool:
    """A branch's test: the value as text is the one given; a several-choice answer "equals" each value in it."""
    if isinstance(value, list):
        return equals in (str(v) for v in value)
    return str(value) == equals


def _lookup(name: str, ctx: FlowContext, state: Mapping[str, Any]) -> object:
    if name == "answer":
        return state.get("answer")
    if name.startswith("answers."):
        return state.get("answers", {}).get(name.removeprefix("answers."))
    return ctx.resident.get(name)


def start(flow: Flow, ctx: FlowContext, node_id: str | None = None, state: Mapping[str, Any] | None = None) -> Step:
    """Begin a flow (at its start, or at a given node, with some state) and run until it waits for the resident."""
    return _run(flow, node_id or flow.start, {"answers": {}, **(state or {})}, ctx, [], [])


def advance(
    flow: Flow,
    node_id: str,
    state: Mapping[str, Any],
    answer: str,
    ctx: FlowContext,
    *,
    is_button: bool = False,
) -> Step:
    """Give the waiting node the resident's answer; re-prompt, skip after too many misses, or move on."""
    node = flow.nodes[node_id]
    state = dict(state)
    outer, ctx = ctx, with_state(ctx, state)
    if is_button and BUTTON_SEPARATOR in answer:
        asked_by, _, answer = answer.partition(BUTTON_SEPARATOR)
        if asked_by != node.id:  # a button of an earlier question: ask the current one again, no miss counted
            return Step(node.id, state, (ask(node, ctx),))
    if is_button and node.kind in ("ask-multi", "ask-ranking", "ask-text"):
        # These offer no buttons, and a button cannot answer in words: the press is stale, ask again.
        return Step(node.id, state, (ask(node, ctx),))
    read = _read_text(flow, node, state, answer, ctx) if node.kind == "ask-text" else None
    if read is None:
        read = _read_choice(flow, node, state, answer, ctx, is_button)
    if isinstance(read, Step):
        return read
    value, next_id = read
    _remember(node, state, value, ctx)
    recorded: list[Effect] = [RecordAnswer(node.question, value, node.kind)] if node.question else []
    return _run(flow, next_id, state, outer, [], recorded)


def _read_choice(
    flow: Flow, node: Node, state: dict[str, Any], answer: str, ctx: FlowContext, is_button: bool
) -> tuple[Any, str | None] | Step:
    """A question with choices, a number, a rating or yes/no: the value and the node it leads to, or the Step that
    asks again (or joins the next part of a long text the carrier split)."""
    if node.skippable and not is_button and fold(answer) in SKIP_WORDS:
        return None, node.next
    guess = guessed_language(node, ctx)
    if guess is not None and not is_button and scales.parse_yes_no(answer) is True:
        reading = questions.Reading(guess)  # "sí", "oui", "ok" to "reply 1 to continue in …": that language
    else:  # a hint in the language the menu was said in
        reading = questions.read(node, answer, replace(ctx, locale=guess or ctx.locale), is_button=is_button)
    if not reading.understood:
        joined = _joined_part(state, answer, ctx)
        if joined is not None:
            return Step(node.id, joined)  # the next part of a long text the carrier split: no reply
        return _miss(flow, node, state, ctx, reading.hint or "")
    chosen = next((c for c in node.choices if node.kind == "ask-choice" and c.value == reading.value), None)
    return reading.value, (chosen.next if chosen else None) or node.next


def _read_text(
    flow: Flow, node: Node, state: dict[str, Any], answer: str, ctx: FlowContext
) -> tuple[Any, str | None] | Step:
    """An open question: the text (None when skipped), or the Step that asks again when empty or too long."""
    text = answer.strip()
    translator = ctx.translator(ctx.locale)
    if node.skippable and fold(text) in SKIP_WORDS:
        return None, node.next
    if not text:
        return _miss(flow, node, state, ctx, translator.gettext(_("Please reply with a few words.")))
    if len(text) > node.max_length:
        too_long = _("That is a bit long. Please keep it under {limit} characters.")
        return _miss(flow, node, state, ctx, translator.gettext(too_long, limit=node.max_length))
    return text, node.next


def _remember(node: Node, state: dict[str, Any], value: Any, ctx: FlowContext) -> None:
    """Keep the answer in the conversation's state: under its name, as the listed item chosen, and (for a long
    text) ready to join the parts a carrier splits it into."""
    answers = dict(state.get("answers", {}))
    if node.save_as:
        answers[node.save_as] = value
    state.update(answer=value, answers=answers, attempts=0)
    if node.kind == "ask-listed":
        titles = {str(v): str(name) for v, _line, name in state.get("listed") or ()}
        # What the list gave about each item: its {details} (a line of its own) and any other words ({place}).
        extra = (state.get("details") or {}).get(str(value)) or {}
        words = {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {"details": str(extra)}
        about = words.pop("details", "")
        picked = {
            node.save_as or "chosen": titles.get(str(value), ""),
            **words,
            "details": f"{about}\n" if about else "",
        }
        state["vars"] = {**(state.get("vars") or {}), **picked}
    state.pop("joining", None)
    if node.kind == "ask-text" and node.joins_parts and value and ctx.now is not None:
        state["joining"] = {"save_as": node.save_as, "until": (ctx.now + JOIN_WINDOW).isoformat(), "last": len(value)}


def _joined_part(state: dict[str, Any], answer: str, ctx: FlowContext) -> dict[str, Any] | None:
    """A message that arrives right after a long text and answers nothing is its next part: append it."""
    joining = state.get("joining")
    if not isinstance(joining, dict) or ctx.now is None or not answer.strip() or questions.looks_numeric(answer):
        return None  # a number ("7", "-1", "0") is a try at the question, asked again; never glued onto the text
    if ctx.now > datetime.fromisoformat(str(joining["until"])):
        return None
    answers = dict(state.get("answers", {}))
    name = str(joining.get("save_as") or "")
    # A carrier splits at a segment's length, even mid-word: join such parts as sent; else as a new line.
    gap = "" if int(joining.get("last", 0)) in SEGMENT_LENGTHS else "\n"
    answers[name] = f"{answers.get(name) or ''}{gap}{answer}"
    until = (ctx.now + JOIN_WINDOW).isoformat()
    return {**state, "answers": answers, "joining": {**joining, "until": until, "last": len(answer)}}


def _miss(flow: Flow, node: Node, state: dict[str, Any], ctx: FlowContext, hint: str) -> Step:
    attempts = int(state.get("attempts", 0)) + 1
    if attempts >= node.max_attempts:
        # After too many misses the question is skipped, not looped.
        state.update(answer=None, attempts=0)
        skipped = Reply(ctx.translator(ctx.locale).gettext(_("Let's move on.")), (), text_direction(ctx.locale))
        return _run(flow, node.next, state, ctx, [skipped], [])
    return Step(node.id, {**state, "attempts": attempts}, (reprompt(node, ctx, hint),))


def reprompt(node: Node, ctx: FlowContext, hint: str) -> Reply:
    """After an answer that was not understood: the hint alone, short, with the question's buttons where the channel
    has them; SMS listed the choices with the question, so it does not pay for them twice."""
    if not hint:
        return ask(node, ctx)
    choices, _numbered = questions.choices(node, ctx)
    several = node.kind in ("ask-multi", "ask-ranking")
    language = guessed_language(node, ctx) or ctx.locale  # the hint's language (see _read_choice)
    direction = text_direction(language)
    return Reply(hint, choices, direction, numbered=False, buttons=not several, question=node.id, locale=language)


def expected_answer_hint(node: Node, ctx: FlowContext) -> str:
    """A one-line reminder of what the waiting node expects (used after keywords like HELP)."""
    translator = ctx.translator(ctx.locale)
    if node.kind == "ask-text":
        return translator.gettext(_("Reply with your answer."))
    return questions.instruction(node, ctx) or translator.gettext(
        _("Reply with a number from 1 to {count}."), count=len(questions.choices(node, ctx)[0])
    )
