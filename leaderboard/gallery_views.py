"""Small decisions of the Gallery tab's layout, kept apart from the page so they are tested.

- :func:`compared_with`: which submissions a card's "Side by side" button opens with (the card's
  own and one more, so the view compares from the first click);
- :func:`input_images_note`: what a multimodal sample says when some of its input images cannot
  be shown.
"""

from __future__ import annotations

from leaderboard.gallery import MAX_COMPARED
from leaderboard.wording import plural


def compared_with(name: str, names: list[str], count: int = 2) -> list[str]:
    """Return ``name`` followed by the next submissions of ``names`` (in list order, after
    ``name``, then from the start), ``count`` in all (at most :data:`MAX_COMPARED`); fewer when
    the store holds fewer."""
    count = max(1, min(count, MAX_COMPARED))
    if name not in names:
        return [name]
    start = names.index(name)
    others = names[start + 1 :] + names[:start]
    return [name, *others[: count - 1]]


def input_images_note(expected: int, shown: int) -> str:
    """Return why a multimodal sample shows ``shown`` of its ``expected`` input images."""
    missing = expected - shown
    return (
        f"{plural(missing, 'input image')} of {expected} not shown: "
        f"{'its copy in the benchmark is' if missing == 1 else 'their copies in the benchmark are'}"
        " missing or not readable images (prepare --inspect shows what the release holds)."
    )
