"""The feedback topics staff see and pick: the choices the FEEDBACK flow offers residents, by their English label."""

from __future__ import annotations

import functools

from bot.conversation.flows.loader import shipped_flows

FEEDBACK_FLOW, TOPIC_NODE = "feedback", "ask_topic"


@functools.cache
def topic_choices() -> tuple[tuple[str, str], ...]:
    """(value, label) of every topic, in the order residents see them."""
    for shipped in shipped_flows():
        node = shipped.flow.nodes.get(TOPIC_NODE) if shipped.flow.slug == FEEDBACK_FLOW else None
        if node is not None:
            return tuple((c.value, c.label if isinstance(c.label, str) else c.value) for c in node.choices)
    return ()


def topic_label(value: str | None) -> str:
    """A topic as staff read it ("Health services and clinics" for health_services); a topic typed before the list
    existed shows as written."""
    if not value:
        return ""
    return dict(topic_choices()).get(value, value)
