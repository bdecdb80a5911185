"""Polls: definitions compiled to flows, the staff editor, answers as given, tallies, reports and public results."""
