"""Paying residents for their time: offers on polls and events, check-in at events, and the ledger."""
