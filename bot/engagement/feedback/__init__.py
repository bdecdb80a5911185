"""Feedback: input items residents give (with their reference) and staff triage (statuses, tags, replies)."""
