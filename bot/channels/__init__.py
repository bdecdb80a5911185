"""Channel adapters: Twilio SMS and WhatsApp, Telegram and the simulator, each behind one small interface."""
