"""``chatgenbench audit``: read the leaderboard's audit log (:mod:`leaderboard.audit`).

Prints one tab-separated line per action, oldest first: time (UTC), who, action, submission,
outcome (``done`` or ``refused``), detail; ``--json`` prints them as a JSON list. Filters:
``--who``, ``--submission``, ``--action``, ``--last N``. The log is append-only; this command
only reads it (it is the server-side view; maintainers see the same in the page's Queue tab).
Exit 0; 2 when the access database cannot be used.
"""

from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    """Add the ``audit`` command."""
    p = sub.add_parser("audit", help="print the leaderboard's audit log (who did what, when)")
    p.add_argument(
        "--store",
        default=None,
        help="submissions folder (default: $CHATGENBENCH_SUBMISSIONS or ./submissions)",
    )
    p.add_argument(
        "--access-db",
        default=None,
        help="access database (default: $CHATGENBENCH_ACCESS_DB or STORE/.access.sqlite3)",
    )
    p.add_argument("--who", default=None, help="only this identity's actions")
    p.add_argument("--submission", default=None, help="only the actions on this submission")
    p.add_argument("--action", default=None, help="only this action (upload, vote, hide, ...)")
    p.add_argument("--last", type=int, default=None, metavar="N", help="only the last N lines")
    p.add_argument("--json", action="store_true", help="print the lines as a JSON list")
    p.set_defaults(handler=audit_command)


def audit_command(args: argparse.Namespace) -> int:
    """Print the audit log's lines (filtered); exit 0."""
    from pathlib import Path

    from chatgenbench.core.errors import UsageError
    from leaderboard.audit import AccessStore, default_access_path
    from leaderboard.submissions import default_store_root

    if args.last is not None and args.last < 1:
        raise UsageError(f"--last {args.last}: expected a positive number of lines")
    path = Path(args.access_db) if args.access_db else None
    if path is None:
        path = default_access_path(args.store or default_store_root())
    if not path.exists():
        raise UsageError(
            f"no audit log at {path}",
            how_to_fix="pass the --store (or --access-db) of a leaderboard whose page has been used",
        )
    entries = AccessStore(path).entries(
        who=args.who, submission=args.submission, action=args.action, limit=args.last
    )
    if args.json:
        print(json.dumps([entry.to_dict() for entry in entries], indent=2, ensure_ascii=False))
        return 0
    print("\t".join(("time", "who", "action", "submission", "outcome", "detail")))
    for entry in entries:
        print(entry.line())
    print(f"{len(entries)} line(s) from {path}", file=sys.stderr)
    return 0
