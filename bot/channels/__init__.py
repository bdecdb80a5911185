"""Channel adapters: Twilio SMS, Telegram and the simulator, each behind one small interface."""
