"""How the leaderboard words counts: one helper, so that no page says "1 warnings".

>>> plural(1, "warning")
'1 warning'
>>> plural(6, "vote")
'6 votes'
>>> plural(1, "sample", "samples")
'1 sample'
>>> plural(2, "entry", "entries")
'2 entries'
"""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """Return ``count`` and ``noun`` in the number that agrees with it: ``1 warning``,
    ``0 warnings``, ``2 warnings``; ``plural_form`` (default ``noun + 's'``) for other plurals."""
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {word}"
