"""``chatgenbench votes summary|export``: the leaderboard's pairwise user study.

The votes live in the leaderboard's database (:mod:`leaderboard.votes`); these commands import it
only when they run, as the ``leaderboard`` and ``queue`` commands do. A stored row that is not a
vote (wrong types, an unknown answer, NULLs) is skipped and counted, never fatal: ``skipped_rows``
in ``summary --json``, a line in the text.

Both also say how far each image metric agrees with the votes (:mod:`leaderboard.metric_agreement`):
``summary`` prints it after the tallies (``metric_agreement`` in ``--json``), and ``export``
writes it beside the Parquet file as ``<FILE stem>.agreement.json``.
"""

from __future__ import annotations

import argparse

from chatgenbench.cli.options import add_actions, add_json

MAX_REASONS = 20  # skipped rows listed by reason in --json (all are counted)


def _add_votes_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="submissions folder (default: $CHATGENBENCH_SUBMISSIONS, else "
        "$CHATGENBENCH_HOME/submissions; see docs/store.md)",
    )
    parser.add_argument(
        "--votes-db",
        default=None,
        help="votes database (default: $CHATGENBENCH_VOTES_DB or STORE/.votes.sqlite3)",
    )


def register(sub) -> None:
    """Add the ``votes`` family: ``summary`` and ``export``."""
    p = sub.add_parser("votes", help="the pairwise user study: summary and export of the votes")
    actions = add_actions(p, "votes_command")
    summary = actions.add_parser(
        "summary",
        help="win/tie/loss per pair of methods and Bradley-Terry strengths, with intervals",
    )
    _add_votes_db(summary)
    summary.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    summary.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    summary.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    add_json(summary, "the summary")
    summary.set_defaults(handler=summary_command)
    export = actions.add_parser(
        "export", help="write every vote (flagged ones too) as a Parquet file"
    )
    _add_votes_db(export)
    export.add_argument("--out", required=True, metavar="FILE", help="the Parquet file to write")
    export.set_defaults(handler=export_command)


def _votes(args: argparse.Namespace):
    """Open the votes database; raise UsageError when there is none (nothing is created)."""
    from pathlib import Path

    from chatgenbench.core.errors import UsageError
    from leaderboard.submissions import default_store_root
    from leaderboard.votes import VoteStore, default_votes_path

    path = Path(args.votes_db or default_votes_path(args.store or default_store_root()))
    if not path.exists():  # a folder or a broken file in its place: VoteStore says so
        raise UsageError(
            f"no votes database at {path}",
            how_to_fix="pass the leaderboard's store with --store DIR (its votes are in "
            "STORE/.votes.sqlite3), or the database with --votes-db FILE",
        )
    return VoteStore(path)


def summary_command(args: argparse.Namespace) -> int:
    """Print the summary of the counted votes (or, with ``--json``, it and the vote counts)."""
    import json

    from chatgenbench.core.errors import UsageError
    from leaderboard.submissions import SubmissionStore, default_store_root
    from leaderboard.votes import format_summary, submission_weights, summarize

    if args.resamples < 0:
        raise UsageError(f"--resamples must be 0 or more, got {args.resamples}")
    if not 0.0 < args.level < 1.0:
        raise UsageError(f"--level must be between 0 and 1, got {args.level}")
    store = _votes(args)
    stored = store.read()
    submissions = SubmissionStore(args.store or default_store_root())
    weights = submission_weights(submissions)
    broken = {s.name: s.problems for s in submissions.submissions() if s.broken}
    summaries = summarize(
        stored.votes, resamples=args.resamples, level=args.level, seed=args.seed, weights=weights
    )
    agreement = _agreement(stored.votes, submissions, weights, args)
    if args.json:
        payload = {
            "database": str(store.path),
            "counts": store.counts(),
            "flag_threshold_seconds": store.min_seconds,
            "skipped_rows": len(stored.skipped),
            "skipped_reasons": stored.skipped[:MAX_REASONS],
            "summaries": [summary.to_dict() for summary in summaries],
            "broken_submissions": broken,
            "metric_agreement": [row.to_dict() for row in agreement],
        }
        print(json.dumps(payload, indent=2))
        return 0
    _print_unreadable(broken)
    from leaderboard.wording import plural

    counts = store.counts()
    print(
        f"{store.path}: {plural(counts['votes'], 'vote')} from "
        f"{plural(counts['voters'], 'voter')}, "
        f"{counts['flagged']} flagged (cast under {store.min_seconds:g} s, not counted)"
    )
    print(format_summary(summaries, stored.skipped))
    from leaderboard.metric_agreement import format_agreement

    print(format_agreement(agreement))
    return 0


def _agreement(votes, submissions, weights, args: argparse.Namespace) -> list:
    """How far each image metric agrees with ``votes`` (:mod:`leaderboard.metric_agreement`)."""
    from leaderboard.metric_agreement import metric_agreement, store_scores

    options = {"resamples": args.resamples, "level": args.level, "seed": args.seed}
    return metric_agreement(votes, store_scores(submissions), weights=weights, **options)


def _print_unreadable(broken: dict[str, list[str]]) -> None:
    """Say on stderr which submissions could not be read or used, and why."""
    import sys

    if broken:
        print(f"{len(broken)} submission(s) could not be read or used:", file=sys.stderr)
        for name, problems in broken.items():
            print(f"  {name[:80]!r}: {'; '.join(problems)[:300]}", file=sys.stderr)


def export_command(args: argparse.Namespace) -> int:
    """Write every vote to ``--out`` as Parquet (``datasets.load_dataset("parquet")`` reads it)."""
    from chatgenbench.core.storage import atomic_write_json
    from leaderboard.submissions import SubmissionStore, default_store_root
    from leaderboard.votes import export_parquet, skipped_line, submission_weights

    store = _votes(args)
    stored = store.read()
    path = export_parquet(stored.votes, args.out)
    flagged = sum(1 for vote in stored.votes if not vote.counted)
    from leaderboard.wording import plural

    print(f"wrote {plural(len(stored.votes), 'vote')} ({flagged} flagged) to {path}")
    submissions = SubmissionStore(args.store or default_store_root())
    args.resamples, args.level, args.seed = 1000, 0.95, 0
    rows = _agreement(stored.votes, submissions, submission_weights(submissions), args)
    agreement = path.with_name(f"{path.stem}.agreement.json")
    payload = {"votes_file": path.name, "metric_agreement": [row.to_dict() for row in rows]}
    atomic_write_json(agreement, payload)
    print(f"wrote how far each metric agrees with the votes ({len(rows)} rows) to {agreement}")
    if stored.skipped:
        print(skipped_line(stored.skipped))
    return 0
