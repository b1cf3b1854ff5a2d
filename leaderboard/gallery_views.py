"""Small decisions of the Gallery tab's layout, kept apart from the page so they are tested.

- :func:`compared_with`: which submissions a card's "Side by side" button opens with (the card's
  own and one more, so the view compares from the first click);
- :func:`input_images_note`: what a multimodal sample says when its input images, or some of
  them, cannot be shown.
"""

from __future__ import annotations

from leaderboard.gallery import MAX_COMPARED
from leaderboard.wording import plural

#: The input type of a sample whose chat input comes with images.
MULTIMODAL = "multimodal"


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


def input_images_note(input_type: str, expected: int, shown: int) -> str | None:
    """Return why a sample shows ``shown`` of its ``expected`` input images, or None when there
    is nothing to explain (every image shown, or a text-only sample without images)."""
    if expected == 0:
        if input_type != MULTIMODAL:
            return None
        return (
            "no input image shown: this copy of the benchmark holds none for this multimodal "
            "sample (the embedded sample has none; the full release has them)."
        )
    missing = expected - shown
    if missing <= 0:
        return None
    return (
        f"{plural(missing, 'input image')} of {expected} not shown: "
        f"{'its copy in the benchmark is' if missing == 1 else 'their copies in the benchmark are'}"
        " missing or not readable images (prepare --inspect shows what the release holds)."
    )
