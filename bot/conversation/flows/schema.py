"""Flow documents as typed values, and their validation: every error at once, each with its node and its place."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.states import Consent

SPEC_VERSION = 1
ASK_KINDS = ("ask-choice", "ask-multi", "ask-ranking", "ask-rating", "ask-yes-no", "ask-listed", "ask-text")
WITH_CHOICES = ("ask-choice", "ask-multi", "ask-ranking")
NODE_KINDS = ("send", *ASK_KINDS, "branch", "set-field", "submit-feedback", "submit-rsvp", "end")
SETTABLE_FIELDS = ("locale", "consent", "area", "about_me")  # about_me: consent to the questions about oneself
MAX_SLUG = 50  # a content file's slug (the columns hold 64, and a poll's flow is named poll-<slug>)
MAX_STORED_SLUG = 64  # a stored flow's slug: its column (a poll's questions are the flow poll-<slug>)
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_ANSWER_LENGTH = 10_000  # a text answer's longest max_length (an SMS is at most 1,600 characters, Telegram's 4,096)
CONSENT_VALUES = (Consent.GRANTED, Consent.DECLINED, Consent.PENDING)

# Where something is in a document: the keys and list positions (from 0) leading to it, ("nodes", "ask", "text").
Place = tuple[str | int, ...]


class FlowError(ValueError):
    """A content document is invalid: what is wrong (problem), about what (subject: the flow and node, the poll and
    question) and where in the document (place). Said whole, "flow 'x', node 'ask': text is required"."""

    def __init__(self, problem: str, *, subject: str = "", place: Place = ()) -> None:
        super().__init__(problem)
        self.problem, self.subject, self.place = problem, subject, place

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}" if self.subject else self.problem


class Problems:
    """Every error of one document: each check runs in `at(key)`, and its error is kept, with its place and subject,
    while the checks after it still run. A part (a node, a question) is checked `within` its place."""

    def __init__(self, subject: str = "", place: Place = (), found: list[FlowError] | None = None) -> None:
        self.subject, self.place = subject, place
        self.found: list[FlowError] = [] if found is None else found

    def within(self, *place: str | int, subject: str | None = None) -> Problems:
        """The errors of a part of the document, kept with the whole's."""
        return Problems(self.subject if subject is None else subject, (*self.place, *place), self.found)

    def add(self, error: FlowError, *place: str | int) -> None:
        """Keep an error found at a place (within this part; the error's own place, if any, is within that)."""
        error.place = (*self.place, *place, *error.place)
        error.subject = error.subject or self.subject
        self.found.append(error)

    @contextmanager
    def at(self, *place: str | int) -> Iterator[None]:
        """Run a check: its error is kept at this place and the next check runs."""
        try:
            yield
        except FlowError as error:
            self.add(error, *place)


# A text is either a gettext message id (the bot's own words, translated through locales/) or one text per
# language written by staff ({"en": ..., "es": ...}); "*" means the same text in every language.
Text = str | dict[str, str]


@dataclass(frozen=True, slots=True)
class ChoiceSpec:
    """One option of an ask-choice node."""

    value: str
    label: Text
    words: tuple[str, ...] = ()
    next: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """One arm of a branch node: when a field equals a value, go to a node."""

    field: str
    equals: str
    next: str


@dataclass(frozen=True, slots=True)
class Node:
    """One step of a flow."""

    id: str
    kind: str
    text: Text | None = None
    next: str | None = None
    choices: tuple[ChoiceSpec, ...] = ()
    save_as: str | None = None
    skippable: bool = False
    max_attempts: int = 3
    max_length: int = 1000
    # Said once in every other language too while the resident's language is unknown (the language menu).
    until_language_known: Text | None = None
    question: str | None = None
    max_choices: int | None = None
    joins_parts: bool = False
    conditions: tuple[Condition, ...] = ()
    field: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Flow:
    """A validated flow document."""

    slug: str
    spec_version: int
    start: str
    nodes: dict[str, Node] = field(default_factory=dict)
    name: str = ""


def content_slug(kind: str, raw: Any, longest: int = MAX_SLUG) -> str:
    """The one rule for a flow's, poll's or event's slug: 1 to MAX_SLUG lower-case letters, digits, - and _, the first
    a letter or digit. The error says what is wrong with the slug given, and suggests one."""
    rule = f"use 1 to {longest} lower-case letters, digits, - or _"
    if not isinstance(raw, str) or not raw:
        raise FlowError(f"slug {raw!r}: {rule}" if raw else f"give a slug: {rule}", subject=kind)
    shown = raw if len(raw) <= 30 else raw[:24] + "..."
    if len(raw) > longest:
        raise FlowError(f"slug {shown!r} has {len(raw)} characters: {rule}", subject=kind)
    if SLUG.fullmatch(raw):
        return raw
    has = ["capitals"] * any(ch.isupper() for ch in raw) + [
        repr(ch) for ch in sorted(set(re.sub(r"[a-zA-Z0-9_-]", "", raw)))
    ]
    why = f" (it has {', '.join(has[:6])})" if has else ", the first a letter or digit"
    plain = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().lower()
    suggestion = "-".join(re.findall(r"[a-z0-9]+(?:_[a-z0-9]+)*", plain))[:longest].strip("-")
    hint = f", e.g. {suggestion!r}" if suggestion else ""
    raise FlowError(f"slug {shown!r}: {rule}{why}{hint}", subject=kind)


def flag(raw: Any, what: str) -> bool:
    """A yes-or-no setting of a content file: true or false (absent: false); `no` or "maybe" is an error, never a
    string that reads as true."""
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    raise FlowError(f"{what} must be true or false, got {raw!r}")


def check_text(raw: Any, what: str) -> Text:
    """A message id, or a text per language ("*" for all): the one rule for what a resident reads."""
    if isinstance(raw, str) and raw.strip():
        return raw
    if not isinstance(raw, dict) or not raw:
        absent = f"{what} is required" if raw is None else f"{what} is empty" if isinstance(raw, str) else ""
        raise FlowError(absent or f"{what} must be a message or a mapping of language to text")
    empty = [str(k) for k, v in raw.items() if not (isinstance(v, str) and v.strip())]
    unknown = sorted(str(k) for k in raw if k != "*" and k not in SUPPORTED_LOCALES)
    missing = [loc for loc in SUPPORTED_LOCALES if "*" not in raw and loc not in raw]
    if empty or unknown or missing:
        problem = "has no text in" if empty else "has unknown languages" if unknown else "is missing languages"
        raise FlowError(f"{what} {problem} {empty or unknown or missing}")
    return {str(k): str(v) for k, v in raw.items()}


def _is_id(raw: str) -> bool:
    """A node's or a question's id: 1 to 64 letters, digits and _."""
    return 0 < len(raw) <= 64 and raw.replace("_", "").isalnum()


# A node's numbers: each with its default (None: none) and its highest value (the lowest is 1).
NUMBERS = (("max_attempts", 3, 10), ("max_length", 1000, MAX_ANSWER_LENGTH), ("max_choices", None, 10))


# A node's keys are its fields (but its id, its key in nodes) and a branch's default.
NODE_KEYS = frozenset(f.name for f in fields(Node) if f.name != "id") | {"default"}


def check_node(node_id: str, raw: Any, problems: Problems) -> Node | None:
    """One node, every error of it kept in problems (each at its key); the node when it has none."""
    if not isinstance(raw, dict):
        problems.add(FlowError("must be a mapping"))
        return None
    kind = raw.get("kind")
    if kind not in NODE_KINDS:
        problems.add(FlowError(f"kind must be one of {', '.join(NODE_KINDS)}, got {kind!r}"), "kind")
        return None
    before = len(problems.found)
    extra = [key for key in raw if key not in NODE_KEYS]
    if extra:
        problems.add(FlowError(f"unknown keys {sorted(map(str, extra))}"), str(extra[0]))
    got: dict[str, Any] = {"save_as": raw.get("save_as"), "field": raw.get("field")}
    got["value"] = None if raw.get("value") is None else str(raw["value"])
    with problems.at("text"):
        got["text"] = check_text(raw.get("text"), "text") if kind == "send" or kind in ASK_KINDS else None
    with problems.at("until_language_known"):
        until = raw.get("until_language_known")
        got["until_language_known"] = None if until is None else check_text(until, "until_language_known")
    got["choices"] = tuple(_choices(kind, raw.get("choices"), problems)) if kind in WITH_CHOICES else ()
    got["conditions"] = tuple(_conditions(raw.get("conditions"), problems)) if kind == "branch" else ()
    with problems.at("default" if kind == "branch" else "next"):
        got["next"] = _next(kind, raw)
    if kind == "set-field":
        _check_set_field(raw, problems)
    for name in ("skippable", "joins_parts"):
        with problems.at(name):
            got[name] = flag(raw.get(name), name)
    for name, default, highest in NUMBERS:  # whole numbers, never true or false
        got[name] = number = raw.get(name, default)
        if number is not None and (type(number) is not int or not 0 < number <= highest):
            problems.add(FlowError(f"{name} must be a whole number from 1 to {highest:,}"), name)
    got["question"] = question = raw.get("question")
    if question is not None and (kind not in ASK_KINDS or not isinstance(question, str) or not _is_id(question)):
        problems.add(FlowError("question must be an id of 1 to 64 letters, digits and _ on an ask node"), "question")
    return Node(id=node_id, kind=kind, **got) if len(problems.found) == before else None


def _next(kind: str, raw: dict[str, Any]) -> str | None:
    """Where a node leads: its next (a branch's default); none from an end node, or an ask-choice's choices lead on."""
    nxt = raw.get("default", raw.get("next")) if kind == "branch" else raw.get("next")
    if kind == "branch" and not isinstance(nxt, str):
        raise FlowError("a branch node needs a default")
    if nxt is not None and not isinstance(nxt, str):
        raise FlowError("next must be a node id")
    choices = raw.get("choices") if kind == "ask-choice" else None
    leads_on = isinstance(choices, list) and all(isinstance(c, dict) and c.get("next") for c in choices)
    if kind != "end" and nxt is None and not leads_on:
        raise FlowError("next is required")
    if kind == "end" and nxt is not None:
        raise FlowError("an end node has no next")
    return nxt


def _choices(kind: str, raw: Any, problems: Problems) -> list[ChoiceSpec]:
    """A question's choices: at least two, each with a unique value that fits a Telegram button, and a label."""
    if not isinstance(raw, list) or len(raw) < 2:
        problems.add(FlowError(f"an {kind} node needs at least two choices"), "choices")
        return []
    choices: list[ChoiceSpec] = []
    first_with: dict[str, int] = {}
    for index, item in enumerate(raw):
        choice = _choice(item, problems.within("choices", index, subject=f"{problems.subject}, choice {index + 1}"))
        value = item.get("value") if isinstance(item, dict) else None
        if isinstance(value, str) and value in first_with:
            again = f"choice values must be unique: {value!r} is choice {first_with[value] + 1}'s too"
            problems.add(FlowError(again), "choices", index, "value")
        elif isinstance(value, str):
            first_with[value] = index
        choices += [choice] if choice else []
    return choices


def _choice(item: Any, problems: Problems) -> ChoiceSpec | None:
    if not isinstance(item, dict):
        problems.add(FlowError("must be a mapping with a value and a label"))
        return None
    before = len(problems.found)
    value = item.get("value")
    if not isinstance(value, str) or not value:
        problems.add(FlowError("needs a value"), "value")
    elif len(value.encode()) > 64:
        problems.add(FlowError("value is over 64 bytes (Telegram's button limit)"), "value")
    words = item.get("words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        problems.add(FlowError("words must be a list of texts"), "words")
    label = None
    with problems.at("label"):
        label = check_text(item.get("label"), "label")
    if len(problems.found) > before or label is None or not isinstance(value, str):
        return None
    return ChoiceSpec(value, label, tuple(words), item.get("next"))


def _conditions(raw: Any, problems: Problems) -> list[Condition]:
    """A branch's arms: each a field, the value it must equal, and where it leads."""
    if raw is not None and not isinstance(raw, list):
        problems.add(FlowError("conditions must be a list of {field, equals, next}"), "conditions")
    conditions = []
    for index, arm in enumerate(raw if isinstance(raw, list) else []):
        if not (isinstance(arm, dict) and {"field", "equals", "next"} <= set(arm)):
            problems.add(FlowError(f"condition {index + 1} needs field, equals and next"), "conditions", index)
            continue
        conditions.append(Condition(str(arm["field"]), str(arm["equals"]), str(arm["next"])))
    return conditions


def _check_set_field(raw: dict[str, Any], problems: Problems) -> None:
    """A set-field node names a field it may set and gives a value (consent only to a consent state)."""
    if raw.get("field") not in SETTABLE_FIELDS and not str(raw.get("field", "")).startswith("fields."):
        problems.add(FlowError(f"field must be one of {SETTABLE_FIELDS} or fields.NAME"), "field")
    if "value" not in raw:
        problems.add(FlowError("a set-field node needs a value (use $answer for the last answer)"), "value")
    elif raw.get("field") in ("consent", "about_me") and raw.get("value") not in CONSENT_VALUES:
        problems.add(FlowError(f"consent can only be set to {CONSENT_VALUES}"), "value")


def _targets(node: Node) -> list[str]:
    return [t for t in [node.next, *(c.next for c in node.choices), *(c.next for c in node.conditions)] if t]


def _reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node_id = todo.pop()
        if node_id not in seen:
            seen.add(node_id)
            todo.extend(_targets(flow.nodes[node_id]))
    return seen


def _loop_without_question(flow: Flow) -> str | None:
    """A node on a cycle that never waits for the resident (it would spin forever), if there is one: the nodes that
    do not ask, less those that lead (without asking) only to nodes that end, leave the loops and what leads to them."""
    moving = {n.id: {t for t in _targets(n) if flow.nodes[t].kind not in ASK_KINDS} for n in flow.nodes.values()}
    moving = {node_id: targets for node_id, targets in moving.items() if flow.nodes[node_id].kind not in ASK_KINDS}
    while settled := [node_id for node_id, targets in moving.items() if not targets & moving.keys()]:
        for node_id in settled:
            del moving[node_id]
    walked: list[str] = []
    at = next(iter(moving), None)
    while at is not None and at not in walked:  # from any node left, onwards until one comes again
        walked.append(at)
        at = min(moving[at] & moving.keys())
    return at


def _check_flow(raw: Any, problems: Problems, from_file: bool) -> Flow | None:
    """A flow document checked: its slug and version, every node on its own, then (when they all pass) the flow as a
    whole. Every error is kept in problems; the flow when there is none."""
    if not isinstance(raw, dict):
        problems.add(FlowError("a flow document must be a mapping"))
        return None
    slug = raw.get("slug")
    if from_file or not (isinstance(slug, str) and 0 < len(slug) <= MAX_STORED_SLUG):
        with problems.at("slug"):
            content_slug("flow", slug)
    problems = problems.within(subject=f"flow {slug!r}")
    if raw.get("spec_version") != SPEC_VERSION:
        problems.add(FlowError(f"spec_version must be {SPEC_VERSION}, got {raw.get('spec_version')!r}"), "spec_version")
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        problems.add(FlowError("nodes must be a non-empty mapping of node id to node"), "nodes")
        return None
    nodes: dict[str, Node] = {}
    for node_id, body in raw_nodes.items():
        if not isinstance(node_id, str) or not _is_id(node_id):
            _node_part(problems, str(node_id)).add(FlowError("node ids are 1 to 64 letters, digits and _"))
        elif node := check_node(node_id, body, _node_part(problems, node_id)):
            nodes[node_id] = node
    if raw.get("start") not in raw_nodes:
        problems.add(FlowError(f"start {raw.get('start')!r} is not a node"), "start")
    for node in nodes.values():
        for target in (t for t in _targets(node) if t not in raw_nodes):
            _node_part(problems, node.id).add(FlowError(f"goes to {target!r}, which is not a node"))
    if problems.found:
        return None
    flow = Flow(str(slug), SPEC_VERSION, str(raw["start"]), nodes, str(raw.get("name", slug)))
    _check_graph(flow, problems)
    return None if problems.found else flow


def _node_part(problems: Problems, node_id: str) -> Problems:
    return problems.within("nodes", node_id, subject=f"{problems.subject}, node {node_id!r}")


def _check_graph(flow: Flow, problems: Problems) -> None:
    """Every node reachable from the start, an end, and no loop that never asks the resident anything."""
    reachable = _reachable(flow)
    for node_id in (n for n in flow.nodes if n not in reachable):
        _node_part(problems, node_id).add(FlowError("cannot be reached from start"))
    if not any(n.kind == "end" for n in flow.nodes.values()):
        problems.add(FlowError("has no end node"), "nodes")
    spinning = _loop_without_question(flow)
    if spinning:
        _node_part(problems, spinning).add(FlowError("is on a loop that never asks the resident anything"))


def flow_problems(raw: Any) -> list[FlowError]:
    """Every error of a flow file at once, each with its place in the document (its slug follows the slug rule)."""
    problems = Problems("flow")
    _check_flow(raw, problems, from_file=True)
    return problems.found


def parse_flow(raw: Any) -> Flow:
    """A decoded flow document, typed; else its first FlowError (naming the node). A stored flow's slug need only fit
    its column (a poll's questions are the flow poll-<slug>; one stored before the slug rule keeps working)."""
    problems = Problems("flow")
    flow = _check_flow(raw, problems, from_file=False)
    if flow is None:
        raise problems.found[0]
    return flow
