"""`python -m bot` runs the loopline command line."""

from bot.cli import main

main()
