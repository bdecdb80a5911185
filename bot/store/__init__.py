"""The store: every model is registered on one metadata as soon as the package is imported."""

from bot.store import engagement, models, places, staff

__all__ = ["engagement", "models", "places", "staff"]
