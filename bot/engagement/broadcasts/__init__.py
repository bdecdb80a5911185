"""Broadcasts: texts per language to an audience, previewed and queued; audiences; the staff editor."""
