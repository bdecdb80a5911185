"""Loopline: a multilingual SMS, WhatsApp and Telegram gateway for two-way community engagement."""
