"""The inbound pipeline: store a message first, route it, apply what the turn produced, queue the replies."""
