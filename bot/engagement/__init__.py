"""What residents take part in and what staff do with it: polls, events, broadcasts, triage, decisions."""
