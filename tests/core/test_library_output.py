"""Library noise: off by default for every command, back with ``--verbose`` (before or after the
command), set in one place (:mod:`chatgenbench.core.library_output`) and handed to child
processes through the environment."""

from __future__ import annotations

import io
import logging
import os

import pytest

from chatgenbench.cli import main
from chatgenbench.core import library_output

_ENV_NAMES = (library_output.VERBOSE_ENV, *library_output.QUIET_LIBRARY_ENV)


@pytest.fixture
def restored_library_output(monkeypatch):
    """Put the environment and the loggers back as they were after the test."""
    for name in _ENV_NAMES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    levels = {name: logging.getLogger(name).level for name in library_output.LIBRARY_LOGGERS}
    filters = list(logging.getLogger().filters)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().filters[:] = filters
    import transformers.utils.logging as transformers_logging

    transformers_logging.set_verbosity_warning()
    transformers_logging.enable_progress_bar()


def _transformers_bar_text(capsys) -> str:
    """What transformers' own progress bar (``Loading weights``) writes."""
    import transformers.utils.logging as transformers_logging

    capsys.readouterr()
    for _ in transformers_logging.tqdm(range(3), desc="Loading weights"):
        pass
    return capsys.readouterr().err


def _open_clip_info_line() -> str:
    """What a worker logging at INFO shows of an open_clip ``logging.info`` (root logger) line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        # open_clip calls logging.info(...) from its own files: the record's path names the package
        code = compile(
            "import logging\nlogging.info('Loading pretrained ViT-B-32 weights')\n",
            os.path.join("site-packages", "open_clip", "factory.py"),
            "exec",
        )
        exec(code, {})
        logging.getLogger("leaderboard.scoring_queue").info("job 1: scored")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    return stream.getvalue()


def test_library_bars_and_info_lines_are_off_by_default(restored_library_output, capsys):
    import transformers.utils.logging as transformers_logging

    transformers_logging.enable_progress_bar()  # as a library leaves it
    assert main(["schema"]) == 0
    assert "Loading weights" not in _transformers_bar_text(capsys)
    assert transformers_logging.get_verbosity() == logging.ERROR
    lines = _open_clip_info_line()
    assert "Loading pretrained" not in lines
    assert "job 1: scored" in lines  # our own INFO lines stay
    # processes started from here (render and scoring workers) read the same choice
    assert os.environ[library_output.VERBOSE_ENV] == "0"
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_brings_the_library_output_back(restored_library_output, capsys, where):
    argv = ["--verbose", "schema"] if where == "before" else ["schema", "--verbose"]
    assert main(["schema"]) == 0  # quiet first: --verbose must undo it
    assert main(argv) == 0
    assert "Loading weights" in _transformers_bar_text(capsys)
    assert "Loading pretrained" in _open_clip_info_line()
    assert os.environ[library_output.VERBOSE_ENV] == "1"


def test_verbose_is_accepted_by_nested_actions(restored_library_output, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["queue", "list", "--store", str(store), "--verbose"]) == 0
    assert os.environ[library_output.VERBOSE_ENV] == "1"


def test_verbose_gives_back_the_users_own_environment(restored_library_output, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # the user's own choice
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    monkeypatch.setattr(library_output, "_ENV_BEFORE", {})
    library_output.configure_library_output(False)
    assert os.environ["TRANSFORMERS_VERBOSITY"] == "error"
    library_output.configure_library_output(True)
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    assert "TRANSFORMERS_VERBOSITY" not in os.environ


def test_a_child_process_follows_the_environment(restored_library_output, monkeypatch):
    monkeypatch.setenv(library_output.VERBOSE_ENV, "1")
    assert library_output.library_output_verbose()
    library_output.configure_library_output(None)
    assert logging.getLogger("open_clip").level == logging.NOTSET
    monkeypatch.setenv(library_output.VERBOSE_ENV, "0")
    library_output.configure_library_output(None)
    assert logging.getLogger("open_clip").level == logging.ERROR


def test_errors_of_a_root_logging_library_still_show(restored_library_output):
    library_output.configure_library_output(False)
    record = logging.LogRecord(
        "root", logging.ERROR, "/x/open_clip/factory.py", 1, "weights corrupt", None, None
    )
    assert library_output.LibraryRecordFilter().filter(record)
    record.levelno = logging.WARNING
    assert not library_output.LibraryRecordFilter().filter(record)


def test_datasets_bars_follow_the_choice(restored_library_output, tmp_path, capsys):
    # `prepare` writes Parquet through datasets: "Creating parquet from Arrow format" is its bar
    from datasets import Dataset

    def parquet_bar_text() -> str:
        capsys.readouterr()
        Dataset.from_list([{"a": 1}]).to_parquet(str(tmp_path / "x.parquet"))
        return capsys.readouterr().err

    assert main(["schema"]) == 0
    assert "Creating parquet" not in parquet_bar_text()
    assert main(["schema", "--verbose"]) == 0
    assert "Creating parquet" in parquet_bar_text()
