"""Delivery: outbox workers, pacing, send-time rules, provider statuses and scheduled sweeps."""
