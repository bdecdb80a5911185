"""The store: every model is registered on one metadata as soon as the package is imported."""

from bot.store import engagement, models, staff

__all__ = ["engagement", "models", "staff"]
