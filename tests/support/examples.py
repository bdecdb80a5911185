"""How many examples a property test generates: its full count in `make test`, a tenth in `make test-fast`.

Counts are written as `max_examples=examples(300)`: scaled by the active Hypothesis profile's own default, so the
`fast` profile (`--hypothesis-profile=fast`) shrinks them all while the default profile keeps each one as written.
"""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("fast", max_examples=10)
_FULL = 100  # Hypothesis's own default: the profile a plain `pytest` runs with


def examples(full: int) -> int:
    """The example count for this run: `full` under the default profile, proportionally fewer under `fast`."""
    return max(5, full * settings.default.max_examples // _FULL)
