"""What validating a prediction file reports, and the bounds a file is held to.

:class:`Problem` is one thing wrong (or to be normalised) with its line or row, field, value and
expectation; :class:`Prediction` is one readable row; :class:`ValidationReport` gathers them
(what :func:`chatgenbench.predictions.validation.validate_predictions` returns and every later
stage reads). :data:`LIMITS` bounds sizes (read by :mod:`chatgenbench.predictions.reading` and the
checks) and :data:`RANGES` the numeric arguments.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from chatgenbench.core.normalize import printable_text

Severity = Literal["error", "warning"]

LIMITS: dict[str, int] = {
    "file_bytes": 256 * 1024 * 1024,
    "line_bytes": 1024 * 1024,
    "rows": 1_000_000,
    "id_chars": 256,
    "prompt_chars": 4000,
    "negative_prompt_chars": 4000,
    "model_chars": 512,
    "sampler_chars": 128,
    "parquet_columns": 64,
}

#: Inclusive ranges that a numeric argument must fall in to be accepted.
RANGES: dict[str, tuple[float, float]] = {
    "steps": (1, 500),
    "cfg_scale": (0.0, 100.0),
    "width": (64, 4096),
    "height": (64, 4096),
    "seed": (0, 2**63 - 1),
}


@dataclass
class Problem:
    """One thing wrong (``error``) or to be normalised (``warning``) in a prediction file."""

    severity: Severity
    kind: str
    location: str
    field: str | None
    value: str | None
    expected: str
    id: str | None = None

    def __post_init__(self) -> None:
        # Text from a submission may hold lone surrogates (JSON's "\\ud800"): escape them, so a
        # problem prints to a UTF-8 terminal and goes into a page or a JSON file unchanged.
        for name in ("kind", "location", "field", "value", "expected", "id"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, printable_text(value))

    def __str__(self) -> str:
        where = self.location + (f" (id {self.id})" if self.id else "")
        what = f"field '{self.field}'" if self.field else "row"
        got = f"got {self.value}" if self.value is not None else "missing"
        return f"{self.severity}: {where}: {what}: {got}; expected {self.expected} [{self.kind}]"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class Prediction:
    """One readable prediction row. ``invalid_fields`` lists the fields with an error."""

    id: str
    location: str
    prompt: Any = None
    negative_prompt: Any = None
    model: Any = None
    arguments: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    invalid_fields: set[str] = field(default_factory=set)

    def valid(self, name: str) -> bool:
        """Whether field ``name`` (``prompt``, ``model`` or ``arguments.<key>``) is usable."""
        return name not in self.invalid_fields


@dataclass
class ValidationReport:
    """The outcome of :func:`chatgenbench.predictions.validation.validate_predictions`."""

    path: str
    format: str
    n_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    missing_ids: list[str] = field(default_factory=list)
    n_invalid_rows: int = 0
    sha256: str | None = None  # of the file's bytes: the identity every later stage records
    n_bytes: int = 0
    csv_text_numbers: Counter = field(default_factory=Counter)  # argument -> cells read from text

    @property
    def errors(self) -> list[Problem]:
        """The problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems of severity ``warning``."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def counts(self) -> dict[str, dict[str, int]]:
        """Return problem counts by severity and kind."""
        out: dict[str, dict[str, int]] = {"error": {}, "warning": {}}
        for (severity, kind), count in Counter((p.severity, p.kind) for p in self.problems).items():
            out[severity][kind] = count
        return out

    def summary(self) -> dict[str, Any]:
        """Return the JSON-ready summary stored in results files."""
        return {
            "format": self.format,
            "n_rows": self.n_rows,
            "n_valid_rows": len(self.predictions),
            "n_invalid_rows": self.n_invalid_rows,
            "n_missing_ids": len(self.missing_ids),
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "by_kind": self.counts(),
        }

    def format_text(self, limit: int | None = 50) -> str:
        """Return a human-readable listing: errors first, then warnings, then a summary line."""
        ordered = self.errors + self.warnings
        shown = ordered if limit is None else ordered[:limit]
        lines = [str(problem) for problem in shown]
        if len(ordered) > len(shown):
            lines.append(f"... and {len(ordered) - len(shown)} more (use --all to list them)")
        lines.append(
            f"{self.path}: {self.n_rows} rows, {len(self.predictions)} usable, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings, "
            f"{len(self.missing_ids)} benchmark ids without a prediction"
        )
        return "\n".join(lines)
