"""Themes at city scale: how long finding themes takes over 30,000 input items in six languages (the fixture
corpus's sentences, varied with a fixed seed), against the issue's 60 seconds; and the share of items in their
planted theme's own theme.

    python -m tests.perf.bench_themes [--items N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from bot.engagement.themes.clustering import find_themes
from tests.themes.corpus import THEMES, corpus
from tests.themes.test_themes import recovered

TARGET_SECONDS = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    """Run once and print the figures."""
    parser = argparse.ArgumentParser(prog="bench_themes", description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30_000, help="input items (default 30000)")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    args = parser.parse_args(argv)
    if args.items < 100:
        parser.error("--items must be at least 100")
    per_language = max(1, args.items // (len(THEMES) * 6))
    items = corpus(per_language=per_language)
    started = time.perf_counter()
    found = find_themes([(text, locale) for text, locale, _ in items], seed=0)
    seconds = time.perf_counter() - started
    share = recovered([t.members for t in found], [theme for *_, theme in items])
    result = {"items": len(items), "seconds": round(seconds, 2), "themes": len(found), "recovered": round(share, 3)}
    if args.json:
        print(json.dumps(result))
    else:
        verdict = "met" if seconds < TARGET_SECONDS else "NOT met"
        print(
            f"themes: {len(items):,} items in {seconds:.1f} s (target < {TARGET_SECONDS:.0f} s: {verdict}); "
            f"{len(found)} themes, {share:.1%} of items in their planted theme's own theme"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
