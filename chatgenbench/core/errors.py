"""Every error that ChatGenBench raises on purpose, under one base: :class:`ChatGenBenchError`.

An error of this family carries a message a user can act on (what was wrong, what was expected)
and, where there is one, ``how_to_fix``: the command or step that mends it. The ``chatgenbench``
command catches the base once, prints both and exits with 2 (bad usage or unreadable input); see
:mod:`chatgenbench.cli` for the exit codes.

Each class also derives from the built-in exception it stands for (``ValueError`` for bad input,
``FileNotFoundError`` for absent weights, ``KeyError`` for an unknown name, ...), so that code which
catches the built-in keeps working.

A bad *row* of a prediction file is never an exception: it is a problem in the
:class:`chatgenbench.predictions.report.ValidationReport`. These errors are for inputs that cannot be used
at all.
"""

from __future__ import annotations


class ChatGenBenchError(Exception):
    """Base of ChatGenBench's errors: a message for the user, and ``how_to_fix`` where known.

    >>> error = ChatGenBenchError("no such folder", how_to_fix="chatgenbench prepare --out DIR")
    >>> str(error), error.how_to_fix
    ('no such folder', 'chatgenbench prepare --out DIR')
    """

    how_to_fix: str | None = None

    def __init__(self, *args: object, how_to_fix: str | None = None) -> None:
        super().__init__(*args)
        if how_to_fix is not None:
            self.how_to_fix = how_to_fix


class BenchmarkError(ChatGenBenchError, ValueError):
    """A benchmark source that cannot be loaded, with what was expected."""


class RecordError(ChatGenBenchError, ValueError):
    """A source record that cannot become a benchmark row."""


class KeyMapError(ChatGenBenchError, ValueError):
    """A raw record whose required fields the key map cannot find."""


class CatalogError(ChatGenBenchError, ValueError):
    """A catalogue file that cannot be read, with the line and field at fault."""


class PredictionFileError(ChatGenBenchError, ValueError):
    """A prediction file that cannot be read at all (missing, too large, unknown format)."""


class EncoderUnavailable(ChatGenBenchError, RuntimeError):
    """The BERTScore encoder's weights cannot be loaded here; the message says how to get them."""


class ImageScoringError(ChatGenBenchError, ValueError):
    """A render folder that cannot be scored, or rendering that is not available."""


class WeightsMissing(ChatGenBenchError, FileNotFoundError):
    """A metric's weights are not present locally; the message names the fetch command."""


class WeightsError(ChatGenBenchError, RuntimeError):
    """Checkpoint weights that cannot be fetched or verified."""


class RenderError(ChatGenBenchError, ValueError):
    """Render settings that cannot work (bad shard, unknown device), said before any work starts."""


class AdapterOptionError(ChatGenBenchError, ValueError):
    """An adapter option that is unknown, malformed or of the wrong type."""


class SubmissionError(ChatGenBenchError, ValueError):
    """A submission that cannot be stored or read, with what was expected."""


class UnknownNameError(ChatGenBenchError, KeyError):
    """A name that no registry entry has; the message suggests close names."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0]) if self.args else ""


class MetricNotComputed(ChatGenBenchError, ValueError):
    """A metric that cannot be computed on the given samples; the reason goes into the results."""


class UsageError(ChatGenBenchError, ValueError):
    """A command used wrongly in a way its parser cannot see (e.g. ``--lora-base`` without ``=``)."""


class ComparisonError(ChatGenBenchError, ValueError):
    """Two results that cannot be compared (another benchmark, other settings, no per-sample scores)."""


class DeploymentError(ChatGenBenchError, ValueError):
    """A scoring-worker deployment file that cannot be used (file, key, value, what is expected)."""


class DatabaseFileError(ChatGenBenchError, ValueError):
    """A database file that cannot be used (not SQLite, truncated, a folder, a wrong schema): the
    message names the file and what is wrong, ``how_to_fix`` how to recover."""


class YamlFileError(ChatGenBenchError, ValueError):
    """A YAML file that cannot be read within the limits of :mod:`chatgenbench.core.yaml_files`."""
