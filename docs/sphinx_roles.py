"""Griffe extension for the API reference: the docstrings' Sphinx roles become checked links.

The code's docstrings name other objects the Sphinx way (``:func:`check_results```,
``:class:`~chatgenbench.metrics.base.ImageMetric```). mkdocstrings renders Markdown, where such a
role would print as ``:func:`` followed by code, linking nowhere. This extension rewrites each role
into an autorefs cross-reference (``[`check_results`][chatgenbench.scoring.result_schema.check_results]``)
after the package is loaded, resolving the name as Python would from where the docstring is: the
object itself, its class, its module (following imports), then as an absolute dotted path. With
``mkdocs build --strict`` a reference that names no documented object fails the build, so a
renamed function cannot leave a stale reference behind.

A name outside this project's packages (``datasets.Dataset``, ``torch.Generator``) is shown as code,
without a link: there is no inventory of those sites offline.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

#: Packages whose objects the API reference documents (and so can link to).
OWN_PACKAGES = ("chatgenbench", "baselines", "leaderboard")

ROLE = re.compile(r":(?:py:)?(func|class|mod|data|meth|attr|exc|obj|const):`(~?)([^`<>]+?)`")


def _lookup(scope: Any, dotted: str) -> str | None:
    """Return the full path of ``dotted`` looked up from ``scope``'s members, following imports."""
    head, _, rest = dotted.partition(".")
    try:
        member = scope.members[head]
    except (KeyError, AttributeError):  # not a member here (or scope has no members): not found
        return None
    try:
        path = member.target_path if member.is_alias else member.path
    except Exception:  # an alias whose target griffe could not resolve: use its own path
        path = member.path
    return f"{path}.{rest}" if rest else path


def resolve(obj: Any, name: str) -> str | None:
    """Return the dotted path that ``name``, written in ``obj``'s docstring, refers to, or None."""
    name = name.strip().rstrip("()")
    if "." in name and name.split(".")[0] in OWN_PACKAGES:
        return name  # a dotted name from the top of one of our packages is absolute, as written
    scope = obj
    while scope is not None:
        found = _lookup(scope, name)
        if found:
            return found
        scope = scope.parent
    if name.split(".")[0] in OWN_PACKAGES:
        return name
    return None


def rewrite(obj: Any, text: str) -> str:
    """Return ``text`` with every Sphinx role replaced by an autorefs link (or plain code)."""

    def replace(match: re.Match) -> str:
        short, name = match.group(2), match.group(3).strip()
        shown = name.rsplit(".", 1)[-1] if short else name
        path = resolve(obj, name)
        if path is None or path.split(".")[0] not in OWN_PACKAGES:
            return f"`{shown}`"
        return f"[`{shown}`][{path}]"

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of a loaded package into autorefs links."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        """Griffe event: the whole package is loaded, so every name can be resolved."""
        self._walk(pkg, set())

    def _walk(self, obj: Any, seen: set[str]) -> None:
        if obj.is_alias or obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj, obj.docstring.value)
        for member in list(obj.members.values()):
            self._walk(member, seen)
