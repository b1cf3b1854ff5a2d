"""Assembling the results JSON (documented in :mod:`chatgenbench.scoring.result_schema`) from its parts.

A run produces its parts separately: the step-wise blocks (one per setting and ``overall``, each
with its ``by_input_type`` blocks), and, when images were scored, the image blocks of every
:class:`Slice` (:class:`chatgenbench.scoring.images.ImageResults`). :func:`build_results` puts them
together with the header (benchmark, predictions, validation, settings, provenance);
:func:`attach_image_results` adds image blocks to results that have none yet (the same function
``build_results`` uses). Where no images were scored, every image metric is written
``not_computed`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from chatgenbench.benchmark.schema import INPUT_TYPES
from chatgenbench.scoring.result_schema import SCHEMA_VERSION, image_placeholders, not_computed

IMAGES_NOT_RENDERED = (
    "images were not rendered: image metrics need 'chatgenbench evaluate --render'"
)
RENDER_FIX = "chatgenbench evaluate PRED --render"


@dataclass(frozen=True)
class Slice:
    """One block of the results: a setting (None: every setting, ``overall``) and an input type
    (None: every input type)."""

    setting: str | None
    input_type: str | None

    def selects(self, sample: Any) -> bool:
        """Whether a sample (anything with ``setting`` and ``input_type``) belongs to the slice."""
        get = sample.get if isinstance(sample, dict) else lambda key: getattr(sample, key)
        return (self.setting is None or get("setting") == self.setting) and (
            self.input_type is None or get("input_type") == self.input_type
        )


def slices_of(settings: list[str]) -> list[Slice]:
    """Return every slice of a results file over ``settings``: each setting and ``overall``, each
    whole and per input type."""
    out = []
    for setting in [*settings, None]:
        out.append(Slice(setting, None))
        out.extend(Slice(setting, input_type) for input_type in INPUT_TYPES)
    return out


def slice_blocks(results: dict[str, Any]) -> Iterator[tuple[Slice, dict[str, Any]]]:
    """Yield every slice block of a results dict with its :class:`Slice`."""
    tops = [(name, block) for name, block in results["settings"].items()]
    tops.append((None, results["overall"]))
    for setting, block in tops:
        yield Slice(setting, None), block
        for input_type, inner in (block.get("by_input_type") or {}).items():
            yield Slice(setting, input_type), inner


def attach_image_results(results: dict[str, Any], image) -> dict[str, Any]:
    """Write ``image`` (:class:`chatgenbench.scoring.images.ImageResults`) into ``results``, in place.

    Each slice block gets its ``image``, ``unified``, ``n_images``, ``image_coverage`` and
    ``render_status``; ``metric_settings.image``, ``images`` and provenance keys are added.
    Returns ``results``.
    """
    for piece, block in slice_blocks(results):
        block.update(image.blocks[piece])
    results.setdefault("metric_settings", {})["image"] = image.metric_settings
    results["images"] = image.images
    results.setdefault("provenance", {}).update(image.provenance)
    return results


def _with_placeholders(
    block: dict[str, Any], why: tuple[str, str | None] | None = None
) -> dict[str, Any]:
    if why is not None:
        return {**block, "image": image_placeholders(*why), "unified": not_computed(*why)}
    return {
        **block,
        "image": image_placeholders(IMAGES_NOT_RENDERED, RENDER_FIX),
        "unified": not_computed(
            "the Unified Metric needs all four image metrics, which were not computed", RENDER_FIX
        ),
    }


def build_results(
    *,
    header: dict[str, Any],
    settings: dict[str, dict[str, Any]],
    overall: dict[str, Any],
    provenance: dict[str, Any],
    image=None,
    extra: dict[str, Any] | None = None,
    no_images: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """Return the results dict: ``header`` keys (``synthetic``, ``benchmark``, ``predictions``,
    ``validation``, ``normalisation``, ``metric_settings``), the step-wise ``settings`` and
    ``overall`` blocks, ``provenance``, the image blocks of ``image`` (an
    :class:`~chatgenbench.scoring.images.ImageResults`) or, without it, ``not_computed`` ones
    (the reason and fix: ``no_images``, default: not rendered), and last the ``extra`` keys
    (``per_sample``, ``oracle``, ``random_weights``)."""

    def nest(block: dict[str, Any]) -> dict[str, Any]:
        inner = {
            k: _with_placeholders(v, no_images) for k, v in block.get("by_input_type", {}).items()
        }
        return {**_with_placeholders(block, no_images), "by_input_type": inner}

    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        **header,
        "settings": {name: nest(block) for name, block in settings.items()},
        "overall": nest(overall),
        "provenance": dict(provenance),
    }
    if image is not None:
        attach_image_results(results, image)
    results.update(extra or {})
    return results
