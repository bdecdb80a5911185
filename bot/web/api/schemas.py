"""JSON Schemas (OpenAPI 3.1 components) of what the API answers and accepts."""

from __future__ import annotations

from typing import Any

from bot.engagement.feedback import triage
from bot.engagement.feedback.triage import MAX_REASON, MAX_TAG_LENGTH, MAX_TAGS
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.messages import Channel
from bot.states import Consent, DecisionStatus, PollStatus

ITEM_STATUSES = triage.STATUSES
CONSENT_STATES = (Consent.PENDING, Consent.GRANTED, Consent.DECLINED, Consent.REVOKED)
CHANNELS = tuple(channel.value for channel in Channel)

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
WHEN = {"type": "string", "format": "date-time", "description": "ISO 8601, UTC"}
MAYBE_WHEN = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601, UTC"}
INTEGER = {"type": "integer"}
# Something besides white space (ECMA-262's \s lacks a few that Python strips: they are named).
NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
BOOLEAN = {"type": "boolean"}
PER_LANGUAGE = {
    "type": "object",
    "description": f"One text per language ({', '.join(SUPPORTED_LOCALES)}; '*' for every language)",
    "additionalProperties": {"type": "string"},
}
TEXT = {"oneOf": [STRING, PER_LANGUAGE]}
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def ref(name: str) -> dict[str, Any]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(name: str) -> dict[str, Any]:
    """A page of a list: the items and the cursor of the next page (null on the last)."""
    return {
        "type": "object",
        "required": ["data", "next"],
        "properties": {
            "data": {"type": "array", "items": ref(name)},
            "next": {"type": ["integer", "null"], "description": "Pass as `after` for the next page."},
        },
    }


def _object(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": required if required is not None else list(properties),
        "properties": properties,
        **extra,
    }


def _extend(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {"allOf": [ref(name), _object(properties)]}


_ADDRESS = _object({"channel": STRING, "value": STRING, "reachable": BOOLEAN, "created_at": WHEN})
_OPTION = _object(
    {"value": STRING, "label": STRING, "count": INTEGER, "percent": {"type": "number"}, "points": INTEGER}
)
_QUESTION_RESULT = _object(
    {
        "question": STRING,
        "kind": STRING,
        "text": STRING,
        "respondents": INTEGER,
        "options": {"type": "array", "items": _OPTION},
        "average": {"type": ["number", "null"]},
        "texts": {"type": "array", "items": STRING, "description": "Open answers (ask-text questions)"},
        "by": {
            "type": "object",
            "description": "Breakdowns: locale, area and channel, each group -> options",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "array", "items": _OPTION}},
        },
    }
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(
        {"error": {**STRING, "description": "A short code, e.g. bad_request"}, "detail": STRING},
        description="Every error: 400, 401, 403, 404, 405, 413, 415.",
    ),
    "Me": _object(
        {
            "email": STRING,
            "role": {"type": "string", "enum": ["admin", "staff", "partner", "viewer"]},
            "organization": {
                "oneOf": [{"type": "null"}, _object({"id": INTEGER, "slug": STRING, "name": STRING})],
            },
            "permissions": {"type": "array", "items": STRING},
        }
    ),
    "Resident": _object(
        {
            "id": INTEGER,
            "label": {**STRING, "description": "How residents are named: Resident #<id>"},
            "locale": {"type": ["string", "null"], "enum": [*SUPPORTED_LOCALES, None]},
            "timezone": NULLABLE_STRING,
            "area": NULLABLE_STRING,
            "consent": {"type": "string", "enum": list(CONSENT_STATES)},
            "channels": {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}},
            "fields": {"type": "object", "description": "Fields and tags set by flows or staff"},
            "created_at": WHEN,
            "updated_at": WHEN,
            "display_name": {**NULLABLE_STRING, "description": "Only for roles that may see numbers"},
            "addresses": {
                "type": "array",
                "items": _ADDRESS,
                "description": "Phone numbers and chat ids: only for roles with view_numbers (admin, staff)",
            },
        },
        ["id", "label", "locale", "area", "consent", "channels", "fields", "created_at"],
    ),
    "Poll": _object(
        {
            "slug": STRING,
            "status": {"type": "string", "enum": list(PollStatus)},
            "title": PER_LANGUAGE,
            "keywords": PER_LANGUAGE,
            "results_url": NULLABLE_STRING,
            "area_results": BOOLEAN,
            "created_at": WHEN,
            "opened_at": MAYBE_WHEN,
            "closed_at": MAYBE_WHEN,
        }
    ),
    "Question": _object(
        {
            "id": STRING,
            "kind": {"type": "string", "enum": ["choice", "multi", "ranking", "rating", "yes-no", "text"]},
            "text": TEXT,
            "optional": BOOLEAN,
            "options": {"type": "array", "items": _object({"value": STRING, "label": TEXT})},
        }
    ),
    "PollDetail": _extend("Poll", {"questions": {"type": "array", "items": ref("Question")}}),
    "Results": _object(
        {"poll": STRING, "questions": {"type": "array", "items": _QUESTION_RESULT}},
        description="Counts per resident and percentages, overall and by language, area and channel.",
    ),
    "Representation": _object(
        {
            "poll": NULLABLE_STRING,
            "respondents": INTEGER,
            "sources": {"type": "array", "items": STRING},
            "dimensions": {
                "type": "array",
                "items": _object(
                    {
                        "dimension": STRING,
                        "score": {
                            "type": ["number", "null"],
                            "description": "1 - 1/2 sum |p - q|; null without a baseline",
                        },
                        "groups": {
                            "type": "array",
                            "items": _object(
                                {
                                    "group": STRING,
                                    "respondents": INTEGER,
                                    "share": {"type": "number"},
                                    "population_share": {"type": ["number", "null"]},
                                    "ratio": {"type": ["number", "null"]},
                                    "flagged": {"type": "boolean", "description": "below 0.8 of its population share"},
                                }
                            ),
                        },
                    }
                ),
            },
        },
        description="Respondents against the population baseline, per dimension, most under-represented first.",
    ),
    "Weighted": _object(
        {
            "poll": STRING,
            "dimensions": {"type": "array", "items": STRING, "description": "the dimensions weighted over"},
            "effective_size": {"type": "number", "description": "Kish: (sum w)^2 / sum w^2"},
            "design_effect": {"type": "number", "description": "respondents / effective size"},
            "largest": {"type": "number", "description": "the largest weight (the mean is 1; capped at 5)"},
            "margins": {
                "type": "array",
                "items": _object(
                    {
                        "dimension": STRING,
                        "group": STRING,
                        "respondents": INTEGER,
                        "share": {"type": "number"},
                        "weighted_share": {"type": "number"},
                        "population_share": {"type": ["number", "null"]},
                    }
                ),
            },
            "notes": {"type": "array", "items": STRING, "description": "groups too small to weight, caps applied"},
            "questions": {
                "type": "array",
                "items": _object(
                    {
                        "question": STRING,
                        "text": STRING,
                        "respondents": INTEGER,
                        "options": {
                            "type": "array",
                            "items": _object(
                                {
                                    "value": STRING,
                                    "label": STRING,
                                    "percent": {"type": "number"},
                                    "weighted": {"type": "number"},
                                }
                            ),
                        },
                    }
                ),
            },
        },
        description="A poll's results raked to the population baseline's margins; no per-person weights.",
    ),
    "Event": _object(
        {
            "slug": STRING,
            "status": STRING,
            "title": PER_LANGUAGE,
            "place": PER_LANGUAGE,
            "description": PER_LANGUAGE,
            "starts_at": WHEN,
            "ends_at": WHEN,
            "timezone": STRING,
            "capacity": {"type": ["integer", "null"]},
            "rsvps": _object({"yes": INTEGER, "waitlisted": INTEGER, "no": INTEGER, "maybe": INTEGER}),
            "created_at": WHEN,
        }
    ),
    "Broadcast": _object(
        {
            "id": INTEGER,
            "name": STRING,
            "texts": PER_LANGUAGE,
            "audience": {**STRING, "description": "The audience expression, e.g. language=es area=Eastside"},
            "invite": {"type": "object", "additionalProperties": STRING},
            "urgent": BOOLEAN,
            "fallback_locale": NULLABLE_STRING,
            "recipients": INTEGER,
            "send_at": WHEN,
            "created_at": WHEN,
        }
    ),
    "BroadcastDetail": _extend(
        "Broadcast",
        {
            "status": _object(
                {
                    "outbox": {**COUNTS, "description": "Outbox rows by status"},
                    "reasons": {**COUNTS, "description": "Why rows were skipped or held"},
                    "delivery": {**COUNTS, "description": "Sent messages by delivery status"},
                }
            )
        },
    ),
    "InputItem": _object(
        {
            "ref": {**INTEGER, "description": "The reference residents quote (STATUS <ref>)"},
            "kind": {"type": "string", "enum": ["feedback", "poll", "event"]},
            "text": STRING,
            "topic": NULLABLE_STRING,
            "tags": {"type": "array", "items": STRING},
            "status": {"type": "string", "enum": list(ITEM_STATUSES)},
            "rating": {"type": ["integer", "null"]},
            "may_contact": BOOLEAN,
            "channel": STRING,
            "locale": STRING,
            "area": NULLABLE_STRING,
            "poll": {**NULLABLE_STRING, "description": "The poll's slug for open poll answers"},
            "resident_id": {"type": ["integer", "null"], "description": "Never an address"},
            "assigned_to": NULLABLE_STRING,
            "publishable": BOOLEAN,
            "created_at": WHEN,
            "updated_at": WHEN,
        }
    ),
    "StatusChange": _object(
        {
            "from": {"type": "string", "enum": list(ITEM_STATUSES)},
            "to": {"type": "string", "enum": list(ITEM_STATUSES)},
            "reason": STRING,
            "actor": STRING,
            "at": WHEN,
        }
    ),
    "InputItemDetail": _extend(
        "InputItem",
        {
            "history": {"type": "array", "items": ref("StatusChange")},
            "decisions": {"type": "array", "items": _object({"slug": STRING, "outcome": STRING})},
        },
    ),
    "InputItemChange": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "description": "Change the status (with a reason), the tags, or the topic; each change is audited.",
        "properties": {
            "status": {"type": "string", "enum": list(ITEM_STATUSES)},
            "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": NOT_BLANK},
            "tags": {
                "type": "array",
                "maxItems": MAX_TAGS,
                "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LENGTH, "pattern": NOT_BLANK},
                "description": "The full new list; tags are stored lower case with words joined by -, keeping letters, "
                "digits, - and _ (a tag of other signs only is kept as written)",
            },
            "topic": {"type": ["string", "null"], "maxLength": 64},
        },
        "dependentRequired": {"status": ["reason"], "reason": ["status"]},
    },
    "Decision": _object(
        {
            "slug": STRING,
            "status": {"type": "string", "enum": list(DecisionStatus)},
            "title": PER_LANGUAGE,
            "summary": PER_LANGUAGE,
            "changed": PER_LANGUAGE,
            "not_adopted": PER_LANGUAGE,
            "decided_by": STRING,
            "partners": {"type": "array", "items": STRING},
            "items": {"type": "array", "items": _object({"ref": INTEGER, "outcome": STRING})},
            "polls": {"type": "array", "items": _object({"slug": STRING, "outcome": STRING})},
            "created_at": WHEN,
            "updated_at": WHEN,
            "published_at": MAYBE_WHEN,
            "created_by": {**STRING, "description": "Only for roles that may decide"},
        },
        [
            "slug",
            "status",
            "title",
            "summary",
            "changed",
            "not_adopted",
            "decided_by",
            "partners",
            "items",
            "polls",
            "published_at",
        ],
    ),
}
