"""Provider webhooks, one module per provider (inbound messages and delivery statuses together)."""
