"""Flow documents as typed values, and their validation: every error names the flow and the node."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.states import Consent

SPEC_VERSION = 1
ASK_KINDS = ("ask-choice", "ask-multi", "ask-ranking", "ask-rating", "ask-yes-no", "ask-listed", "ask-text")
WITH_CHOICES = ("ask-choice", "ask-multi", "ask-ranking")
NODE_KINDS = ("send", *ASK_KINDS, "branch", "set-field", "submit-feedback", "submit-rsvp", "end")
SETTABLE_FIELDS = ("locale", "consent", "area")
MAX_SLUG = 50  # a content file's slug (the columns hold 64, and a poll's flow is named poll-<slug>)
MAX_ANSWER_LENGTH = 10_000  # a text answer's longest max_length (an SMS is at most 1,600 characters, Telegram's 4,096)
CONSENT_VALUES = (Consent.GRANTED, Consent.DECLINED, Consent.PENDING)


class FlowError(ValueError):
    """A flow document is invalid; the message names the flow, the node and what is wrong (the node, when there is
    one, also as an attribute: where in the file it is)."""

    node: str | None = None


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


def content_slug(kind: str, raw: Any) -> str:
    """The one rule for a flow's, poll's or event's slug: 1 to MAX_SLUG letters, digits, - and _."""
    rule = f"1 to {MAX_SLUG} letters, digits, - and _"
    if not isinstance(raw, str) or not raw:
        raise FlowError(f"{kind}: give a slug; a slug is {rule}")
    if len(raw) > MAX_SLUG:
        raise FlowError(f"{kind}: the slug {raw[:24]!r}... has {len(raw)} characters; a slug is {rule}")
    wrong = sorted({ch for ch in raw if not (ch.isalnum() or ch in "-_")})
    if wrong:
        shown = " ".join(repr(ch) for ch in wrong[:5])
        suggestion = "-".join("".join(ch if ch.isalnum() or ch in "-_" else " " for ch in raw.lower()).split())
        hint = f", e.g. {suggestion!r}" if suggestion else ""
        raise FlowError(f"{kind}: the slug {raw!r} has {shown}; a slug is {rule}{hint}")
    return raw


def flag(raw: Any, what: str) -> bool:
    """A yes-or-no setting of a content file: true or false (absent: false); `no` or "maybe" is an error, never a
    string that reads as true."""
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    raise FlowError(f"{what} must be true or false, got {raw!r}")


def _fail(slug: str, node: str | None, problem: str) -> FlowError:
    where = f"flow {slug!r}" + (f", node {node!r}" if node else "")
    error = FlowError(f"{where}: {problem}")
    error.node = node
    return error


def flow_problems(raw: Any) -> list[FlowError]:
    """Every error of a flow document at once: each node checked on its own, then (when they all pass) the flow as a
    whole. Each error's `node` says where it is."""
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), dict):
        return _first_problem(raw)
    found = []
    try:
        slug = content_slug("flow", raw.get("slug"))
    except FlowError as exc:
        found.append(exc)
        slug = str(raw.get("slug"))
    for node_id, body in raw["nodes"].items():
        try:
            if not isinstance(node_id, str) or not node_id.replace("_", "").isalnum():
                raise _fail(slug, str(node_id), "node ids are letters, digits and _")
            _node(slug, node_id, body)
        except FlowError as exc:
            found.append(exc)
    return found or _first_problem(raw)


def _first_problem(raw: Any) -> list[FlowError]:
    try:
        parse_flow(raw)
    except FlowError as exc:
        return [exc]
    return []


def _text(slug: str, node: str, raw: Any, what: str, required: bool = True) -> Text | None:
    if raw is None:
        if required:
            raise _fail(slug, node, f"{what} is required")
        return None
    if isinstance(raw, str):
        if not raw.strip():
            raise _fail(slug, node, f"{what} is empty")
        return raw
    if isinstance(raw, dict) and raw and all(isinstance(v, str) and v.strip() for v in raw.values()):
        unknown = sorted(k for k in raw if k != "*" and k not in SUPPORTED_LOCALES)
        if unknown:
            raise _fail(slug, node, f"{what} has unknown languages {unknown}")
        missing = [loc for loc in SUPPORTED_LOCALES if "*" not in raw and loc not in raw]
        if missing:
            raise _fail(slug, node, f"{what} is missing languages {missing}")
        return {str(k): str(v) for k, v in raw.items()}
    raise _fail(slug, node, f"{what} must be a message or a mapping of language to text")


def _flag(slug: str, node_id: str, raw: dict[str, Any], name: str) -> bool:
    try:
        return flag(raw.get(name), name)
    except FlowError as exc:
        raise _fail(slug, node_id, str(exc)) from exc


def _question(slug: str, node_id: str, kind: str, raw: Any) -> str | None:
    if raw is None:
        return None
    if kind not in ASK_KINDS or not isinstance(raw, str) or len(raw) > 64 or not raw.replace("_", "").isalnum():
        raise _fail(slug, node_id, "question must be an id of 1 to 64 letters, digits and _ on an ask node")
    return raw


def _max_length(slug: str, node_id: str, value: Any) -> int:
    """The longest answer a text question takes, in characters."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ANSWER_LENGTH:
        raise _fail(slug, node_id, f"max_length must be a whole number of characters from 1 to {MAX_ANSWER_LENGTH:,}")
    return value


def _max_choices(slug: str, node_id: str, raw: Any) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, int) or not 1 <= raw <= 10:
        raise _fail(slug, node_id, "max_choices must be a whole number from 1 to 10")
    return raw


NODE_KEYS = frozenset(
    {
        "kind",
        "text",
        "next",
        "choices",
        "save_as",
        "skippable",
        "max_attempts",
        "max_length",
        "conditions",
        "default",
        "field",
        "value",
        "until_language_known",
        "question",
        "max_choices",
        "joins_parts",
    }
)


def _node(slug: str, node_id: str, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise _fail(slug, node_id, "must be a mapping")
    kind = raw.get("kind")
    if kind not in NODE_KINDS:
        raise _fail(slug, node_id, f"kind must be one of {', '.join(NODE_KINDS)}, got {kind!r}")
    extra = sorted(set(raw) - NODE_KEYS)
    if extra:
        raise _fail(slug, node_id, f"unknown keys {extra}")
    nxt = raw.get("next")
    if nxt is not None and not isinstance(nxt, str):
        raise _fail(slug, node_id, "next must be a node id")
    text = _text(slug, node_id, raw.get("text"), "text") if kind == "send" or kind in ASK_KINDS else None
    choices = _choices(slug, node_id, kind, raw.get("choices")) if kind in WITH_CHOICES else []
    conditions: list[Condition] = []
    if kind == "branch":
        conditions = _conditions(slug, node_id, raw.get("conditions"))
        nxt = raw.get("default", nxt)
        if not isinstance(nxt, str):
            raise _fail(slug, node_id, "a branch node needs a default")
    if kind == "set-field":
        _check_set_field(slug, node_id, raw)
    every_choice_leads_on = kind == "ask-choice" and all(c.next for c in choices)
    if kind != "end" and nxt is None and not every_choice_leads_on:
        raise _fail(slug, node_id, "next is required")
    if kind == "end" and nxt is not None:
        raise _fail(slug, node_id, "an end node has no next")
    max_attempts = raw.get("max_attempts", 3)
    if not isinstance(max_attempts, int) or not 1 <= max_attempts <= 10:
        raise _fail(slug, node_id, "max_attempts must be a whole number from 1 to 10")
    return Node(
        id=node_id,
        kind=kind,
        text=text,
        next=nxt,
        choices=tuple(choices),
        save_as=raw.get("save_as"),
        skippable=_flag(slug, node_id, raw, "skippable"),
        max_attempts=max_attempts,
        max_length=_max_length(slug, node_id, raw.get("max_length", 1000)),
        until_language_known=_text(slug, node_id, raw.get("until_language_known"), "until_language_known", False),
        question=_question(slug, node_id, kind, raw.get("question")),
        max_choices=_max_choices(slug, node_id, raw.get("max_choices")),
        joins_parts=_flag(slug, node_id, raw, "joins_parts"),
        conditions=tuple(conditions),
        field=raw.get("field"),
        value=None if raw.get("value") is None else str(raw.get("value")),
    )


def _choices(slug: str, node_id: str, kind: str, raw: Any) -> list[ChoiceSpec]:
    """A question's choices: at least two, each with a unique value that fits a Telegram button, and a label."""
    if not isinstance(raw, list) or len(raw) < 2:
        raise _fail(slug, node_id, f"an {kind} node needs at least two choices")
    choices: list[ChoiceSpec] = []
    for index, item in enumerate(raw, 1):
        if not isinstance(item, dict) or not isinstance(item.get("value"), str) or not item["value"]:
            raise _fail(slug, node_id, f"choice {index} needs a value")
        if len(item["value"].encode()) > 64:
            raise _fail(slug, node_id, f"choice {index}: value is over 64 bytes (Telegram's button limit)")
        words = item.get("words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise _fail(slug, node_id, f"choice {index}: words must be a list of strings")
        label = _text(slug, node_id, item.get("label"), f"choice {index} label")
        assert label is not None
        choices.append(ChoiceSpec(item["value"], label, tuple(words), item.get("next")))
    values = [c.value for c in choices]
    if len(set(values)) != len(values):
        raise _fail(slug, node_id, "choice values must be unique")
    return choices


def _conditions(slug: str, node_id: str, raw: Any) -> list[Condition]:
    """A branch's arms: each a field, the value it must equal, and where it leads."""
    conditions = []
    for index, arm in enumerate(raw or [], 1):
        if not (isinstance(arm, dict) and {"field", "equals", "next"} <= set(arm)):
            raise _fail(slug, node_id, f"condition {index} needs field, equals and next")
        conditions.append(Condition(str(arm["field"]), str(arm["equals"]), str(arm["next"])))
    return conditions


def _check_set_field(slug: str, node_id: str, raw: dict[str, Any]) -> None:
    """A set-field node names a field it may set and gives a value (consent only to a consent state)."""
    if raw.get("field") not in SETTABLE_FIELDS and not str(raw.get("field", "")).startswith("fields."):
        raise _fail(slug, node_id, f"field must be one of {SETTABLE_FIELDS} or fields.NAME")
    if raw.get("field") == "consent" and raw.get("value") not in CONSENT_VALUES:
        raise _fail(slug, node_id, f"consent can only be set to {CONSENT_VALUES}")
    if "value" not in raw:
        raise _fail(slug, node_id, "a set-field node needs a value (use $answer for the last answer)")


def _reachable(flow: Flow) -> set[str]:
    seen: set[str] = set()
    todo = [flow.start]
    while todo:
        node = flow.nodes[todo.pop()]
        if node.id in seen:
            continue
        seen.add(node.id)
        todo.extend(_targets(node))
    return seen


def _targets(node: Node) -> list[str]:
    return [t for t in [node.next, *(c.next for c in node.choices), *(c.next for c in node.conditions)] if t]


def _loop_without_question(flow: Flow) -> str | None:
    """A node on a cycle that never waits for the resident (it would spin forever), if there is one."""
    waiting = set(ASK_KINDS)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node_id: str) -> str | None:
        state[node_id] = 1
        node = flow.nodes[node_id]
        if node.kind not in waiting:
            for target in _targets(node):
                if flow.nodes[target].kind in waiting:
                    continue
                if state.get(target) == 1:
                    return target
                if target not in state and (found := visit(target)):
                    return found
        state[node_id] = 2
        return None

    for node_id in flow.nodes:
        if node_id not in state and (found := visit(node_id)):
            return found
    return None


def parse_flow(raw: Any) -> Flow:  # each rule its own message
    """Validate a decoded flow document and return it typed; raise FlowError naming the node at fault."""
    if not isinstance(raw, dict):
        raise FlowError("a flow document must be a mapping")
    slug = content_slug("flow", raw.get("slug"))
    if raw.get("spec_version") != SPEC_VERSION:
        raise _fail(slug, None, f"spec_version must be {SPEC_VERSION}, got {raw.get('spec_version')!r}")
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        raise _fail(slug, None, "nodes must be a non-empty mapping of node id to node")
    nodes = {}
    for node_id, body in raw_nodes.items():
        if not isinstance(node_id, str) or not node_id.replace("_", "").isalnum():
            raise _fail(slug, str(node_id), "node ids are letters, digits and _")
        nodes[node_id] = _node(slug, node_id, body)
    start = raw.get("start")
    if start not in nodes:
        raise _fail(slug, None, f"start {start!r} is not a node")
    for node in nodes.values():
        for target in _targets(node):
            if target not in nodes:
                raise _fail(slug, node.id, f"goes to {target!r}, which is not a node")
    flow = Flow(slug=slug, spec_version=SPEC_VERSION, start=start, nodes=nodes, name=str(raw.get("name", slug)))
    unreachable = sorted(set(nodes) - _reachable(flow))
    if unreachable:
        raise _fail(slug, unreachable[0], "cannot be reached from start")
    if not any(n.kind == "end" for n in nodes.values()):
        raise _fail(slug, None, "has no end node")
    spinning = _loop_without_question(flow)
    if spinning:
        raise _fail(slug, spinning, "is on a loop that never asks the resident anything")
    return flow
