"""Events: files and listings, RSVPs with capacity and a waitlist, reminders' words, the staff editor."""
