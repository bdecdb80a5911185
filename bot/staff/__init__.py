"""The people who run a program: accounts (passwords, sessions, API tokens, sign-in throttling), who sees what
(sharing with partner organizations), the audit log, and the spreadsheets they download."""
