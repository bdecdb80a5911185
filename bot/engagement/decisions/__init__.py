"""Decisions ("you said, we did"): the input behind them, publishing, and telling every contributor once."""
