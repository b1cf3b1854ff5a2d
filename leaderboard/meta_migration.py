"""Rewrite a store's ``meta.yaml`` files with the old ``parameters`` merged into ``model_size``
(:mod:`leaderboard.model_size`: one size field)::

    python -m leaderboard.meta_migration <store folder>            # says what it would change
    python -m leaderboard.meta_migration <store folder> --write    # rewrites those files

Every other field is kept as it was, in its order; a comment at the top of each rewritten file
says what the two fields were. A file is read and written only inside the store, through no link;
one that cannot be read is named and left as it is. Reading a store does not need this: metadata
is merged when it is read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leaderboard.model_size import merge_model_size
from leaderboard.submissions import read_meta
from leaderboard.wording import plural


def migrate_meta_file(path: Path, store: Path, *, write: bool = False) -> str | None:
    """Merge ``parameters`` into ``model_size`` in one ``meta.yaml`` of ``store``; return what
    changed (None when nothing). The file is read and written only inside ``store`` through no
    link. With ``write`` it is rewritten atomically: a comment line saying what the two fields
    were, then the fields, merged, in their order."""
    import yaml

    from chatgenbench.core.storage import atomic_write_text

    data = read_meta(path, within=store)
    if not isinstance(data, dict):
        return None
    merged, what, problem = merge_model_size(data)
    if problem is not None:
        raise ValueError(problem)
    if what is None:
        return None
    if write:
        header = f"# Migrated (one size field, issue 20): {what}.\n"
        body = yaml.safe_dump(merged, sort_keys=False, allow_unicode=True)
        atomic_write_text(path, header + body, within=store)
    return what


def main(argv: list[str] | None = None) -> int:
    """Say (or, with ``--write``, apply) the merge for every submission of a store."""
    parser = argparse.ArgumentParser(
        prog="python -m leaderboard.meta_migration",
        description="merge the old 'parameters' field into 'model_size' in a store's meta.yaml",
    )
    parser.add_argument("store", help="the submissions store folder")
    parser.add_argument("--write", action="store_true", help="rewrite the files (default: say)")
    args = parser.parse_args(argv)
    store = Path(args.store)
    changed = 0
    for path in sorted(store.glob("*/meta.yaml")):
        try:
            what = migrate_meta_file(path, store, write=args.write)
        except Exception as error:  # noqa: BLE001  one unreadable file must not stop the others
            print(f"{path}: not migrated: {error}", file=sys.stderr)
            continue
        if what is not None:
            changed += 1
            print(f"{path}: {what}" + ("" if args.write else " (not written; add --write)"))
    print(f"{plural(changed, 'meta.yaml file')} {'migrated' if args.write else 'to migrate'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
