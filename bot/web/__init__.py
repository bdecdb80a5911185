"""The web side: webhooks, simulator, staff dashboard, public page and JSON API."""
