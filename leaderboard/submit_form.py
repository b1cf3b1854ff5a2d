"""The public Submit form's fields, in words: what each metadata field is called on the page.

The form shows :data:`PUBLIC_FIELDS` only, each with a label in words (``Model size``, not
``model_size``) and its description as help. ``oracle`` is not on the public form: an ablation
submission (steps given their reference values) is queued by the maintainer through the CLI
(``oracle: <steps>`` written into the stored submission's ``meta.yaml``, then
``chatgenbench queue add <name>``); an upload from the form never carries it. The Details
tab shows stored metadata with the same labels (:func:`meta_rows`).
"""

from __future__ import annotations

from leaderboard.submissions import META_FIELDS

#: The label of each metadata field, in words.
FIELD_LABELS: dict[str, str] = {
    "method": "Method name",
    "authors": "Authors",
    "url": "Paper or code link",
    "model_size": "Model size (parameters)",
    "date": "Date",
    "setting": "Setting",
    "benchmark": "Benchmark",
    "notes": "Notes",
    "seconds_per_sample": "Seconds per sample",
    "device": "Device",
    "oracle": "Ablation: steps given their reference values",
}

#: Fields a maintainer sets through the CLI; never on the public form.
MAINTAINER_FIELDS = ("oracle",)

#: The fields of the public form, in :data:`leaderboard.submissions.META_FIELDS` order.
PUBLIC_FIELDS: tuple[str, ...] = tuple(
    name for name in META_FIELDS if name not in MAINTAINER_FIELDS
)


def field_label(name: str) -> str:
    """Return the label in words of a metadata field (``*`` marks a required one)."""
    spec = META_FIELDS[name]
    return FIELD_LABELS.get(name, name.replace("_", " ").capitalize()) + (
        " *" if spec.required else ""
    )


def meta_rows(meta: dict[str, str]) -> list[tuple[str, str]]:
    """Return stored metadata as ``(label, value)`` rows; empty optional fields are left out."""
    rows = []
    for name, value in meta.items():
        if name in META_FIELDS and not META_FIELDS[name].required and value in ("", "-"):
            continue
        rows.append((FIELD_LABELS.get(name, name), value))
    return rows
