"""What the libraries we call may print: the one place that sets their log levels and progress bars.

transformers, diffusers, huggingface_hub, datasets, open_clip, timm, bert-score and torch-fidelity
print their own progress bars (``Loading weights 0/103``, ``Writing model shards``, ``Creating
parquet from Arrow format``) and INFO lines
(open_clip logs through the root logger, so a worker that logs at INFO shows every file it looks
at). That is noise to a user of ``chatgenbench``: by default it is off; ``chatgenbench
--verbose`` (or ``$CHATGENBENCH_VERBOSE=1``) brings it back. ChatGenBench's own progress bars
(rendering, BERTScore embeddings, image metrics) are not library output: ``--no-progress`` is
what hides them.

:func:`configure_library_output` sets the choice for this process and, through environment
variables, for the processes it starts (render workers, Ray workers, the leaderboard's scoring
worker). It imports no library: one that is already imported is set through its own API, one
imported later reads the environment variables at its import.
"""

from __future__ import annotations

import logging
import os
import sys

#: Set to ``1`` to let the libraries print (what ``--verbose`` sets); read by child processes.
VERBOSE_ENV = "CHATGENBENCH_VERBOSE"

#: Loggers of the libraries whose INFO and WARNING lines are noise by default.
LIBRARY_LOGGERS: tuple[str, ...] = (
    "transformers",
    "diffusers",
    "huggingface_hub",
    "datasets",
    "open_clip",
    "timm",
    "torch_fidelity",
    "bert_score",
    "accelerate",
    "peft",
)

#: Packages that log through the root logger (``logging.info(...)``), found by their file path.
ROOT_LOGGING_PACKAGES: tuple[str, ...] = ("open_clip",)

#: The environment each library reads at import, and its quiet value.
QUIET_LIBRARY_ENV: dict[str, str] = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DIFFUSERS_VERBOSITY": "error",
    "HF_HUB_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DATASETS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
#: The values of :data:`QUIET_LIBRARY_ENV`'s variables before this module first set them (None:
#: unset), which the verbose choice puts back.
_ENV_BEFORE: dict[str, str | None] = {}


def library_output_verbose() -> bool:
    """Whether the libraries may print (``$CHATGENBENCH_VERBOSE`` is ``1``, ``true`` or ``yes``)."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def configure_library_output(verbose: bool | None = None) -> None:
    """Let the libraries print as they do by themselves (``verbose`` True) or keep them to errors
    and no progress bars (False, the default).

    ``verbose`` None keeps the choice of ``$CHATGENBENCH_VERBOSE`` (what a child process does).
    Sets the environment (for libraries imported later and for child processes), the level of
    each of :data:`LIBRARY_LOGGERS`, a filter on the root logger for packages that log through
    it (:data:`ROOT_LOGGING_PACKAGES`), and the progress bars of transformers, diffusers,
    huggingface_hub and datasets when they are already imported. Calling it again with the other
    choice undoes the first.
    """
    if verbose is None:
        verbose = library_output_verbose()
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"
    for name, quiet_value in QUIET_LIBRARY_ENV.items():
        _ENV_BEFORE.setdefault(name, os.environ.get(name))
        before = _ENV_BEFORE[name]
        if not verbose:
            os.environ[name] = quiet_value
        elif before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.ERROR)
    root = logging.getLogger()
    for existing in [f for f in root.filters if isinstance(f, LibraryRecordFilter)]:
        root.removeFilter(existing)
    if not verbose:
        root.addFilter(LibraryRecordFilter())
    _set_imported_libraries(verbose)


class LibraryRecordFilter(logging.Filter):
    """Drop the root logger's records below ERROR that come from a package of
    :data:`ROOT_LOGGING_PACKAGES` (open_clip's ``logging.info("Loading pretrained ...")``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record unless it is a library's INFO or WARNING line."""
        if record.levelno >= logging.ERROR:
            return True
        path = record.pathname.replace("\\", "/")
        return not any(f"/{package}/" in path for package in ROOT_LOGGING_PACKAGES)


def _set_imported_libraries(verbose: bool) -> None:
    """Set the verbosity and progress bars of the libraries already imported (none is imported)."""
    for module_name in ("transformers.utils.logging", "diffusers.utils.logging"):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        if verbose:
            module.set_verbosity_warning()  # the libraries' own default
            module.enable_progress_bar()
        else:
            module.set_verbosity_error()
            module.disable_progress_bar()
    bars = sys.modules.get("datasets.utils.tqdm")
    if bars is not None:  # its environment variable, read at import, would refuse the call
        bars._hf_datasets_progress_bars_disabled = not verbose
    datasets_logging = sys.modules.get("datasets.utils.logging")
    if datasets_logging is not None:
        datasets_logging.set_verbosity_warning() if verbose else datasets_logging.set_verbosity_error()
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None:
        hub.enable_progress_bars() if verbose else hub.disable_progress_bars()
