"""Loopline: a multilingual SMS and Telegram gateway for two-way community engagement."""
