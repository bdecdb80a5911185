"""Conversations: keywords, answer parsing, the router and the flow engine (pure, no I/O)."""
