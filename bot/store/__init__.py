"""The store: every model is registered on one metadata as soon as the package is imported."""

from bot.store import (
    about_me,
    compensation,
    engagement,
    media,
    models,
    places,
    proposals,
    pulse,
    staff,
    themes,
    whatsapp,
)

__all__ = [
    "about_me",
    "compensation",
    "engagement",
    "media",
    "models",
    "places",
    "proposals",
    "pulse",
    "staff",
    "themes",
    "whatsapp",
]
