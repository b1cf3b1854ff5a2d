"""Speed of the pairwise user study's statistics (:mod:`chatgenbench.analysis.pairwise`, :mod:`leaderboard.votes`).

- a Bradley-Terry fit over 100,000 SIMULATED votes among 20 methods (strengths drawn from a
  seeded normal, a tenth of the votes ties), with 1,000 bootstrap resamples (target: under 2 s),
  and the point fit alone;
- the reference: scikit-learn's ``LogisticRegression`` without intercept or penalty, the fit the
  public arena leaderboards use, on the same votes (aggregated as weighted rows, as they do), timed
  for the point fit; its strengths are compared with ours;
- the whole summary of the Vote tab and ``chatgenbench votes summary`` (win / tie / loss with
  bootstrap intervals for each of the 190 pairs, and Bradley-Terry) over the same votes.

Prints readable lines, then one JSON line with every figure. Usage::

    python benchmarks/votes.py [--votes 100000] [--methods 20] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chatgenbench import __version__  # noqa: E402
from chatgenbench.analysis.pairwise import PairVote, bradley_terry  # noqa: E402


def simulated_votes(n_votes: int, n_methods: int, seed: int = 0) -> list[PairVote]:
    """Votes drawn from a Bradley-Terry model (SIMULATED, not collected)."""
    rng = random.Random(seed)
    methods = [f"method-{i:02d}" for i in range(n_methods)]
    strength = {name: rng.gauss(0.0, 1.0) for name in methods}
    votes = []
    for _ in range(n_votes):
        a, b = rng.sample(methods, 2)
        p = 1.0 / (1.0 + math.exp(strength[b] - strength[a]))
        u = rng.random()
        votes.append(PairVote(a, b, "a" if u < 0.9 * p else ("b" if u < 0.9 else "tie")))
    return votes


def reference_fit(votes: list[PairVote]) -> tuple[dict[str, float], float]:
    """scikit-learn's logistic regression on the votes; return (centred strengths, seconds)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    methods = sorted({v.method_a for v in votes} | {v.method_b for v in votes})
    index = {name: i for i, name in enumerate(methods)}
    cells: dict[tuple[int, int, int], float] = {}
    for vote in votes:
        share = {"a": 1.0, "tie": 0.5, "b": 0.0}[vote.outcome]
        for label, weight in ((1, share), (0, 1.0 - share)):
            if weight:
                key = (index[vote.method_a], index[vote.method_b], label)
                cells[key] = cells.get(key, 0.0) + weight
    x = np.zeros((len(cells), len(methods)))
    y = np.zeros(len(cells))
    w = np.zeros(len(cells))
    for row, ((i, j, label), weight) in enumerate(cells.items()):
        x[row, i], x[row, j], y[row], w[row] = 1.0, -1.0, label, weight
    start = time.perf_counter()
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8, max_iter=10000)
    model.fit(x, y, sample_weight=w)
    seconds = time.perf_counter() - start
    theta = model.coef_[0] - model.coef_[0].mean()
    return dict(zip(methods, theta.tolist())), seconds


def summary_seconds(votes: list[PairVote], resamples: int) -> tuple[float, int]:
    """Time :func:`leaderboard.votes.summarize` over ``votes`` (one question, one benchmark)."""
    from leaderboard.votes import Vote, summarize

    stored = [
        Vote(id=n, voter=f"voter-{n}", benchmark="synthetic", setting="supervised",
             sample_id=f"s{n % 500}", submission_a=v.method_a, submission_b=v.method_b,
             method_a=v.method_a, method_b=v.method_b, question="quality", answer=v.outcome,
             left_side="a", shown_at=0.0, cast_at=5.0, seconds=5.0, flag=None, seq=1)
        for n, v in enumerate(votes)
    ]  # fmt: skip
    start = time.perf_counter()
    (summary,) = summarize(stored, resamples=resamples)
    return time.perf_counter() - start, len(summary.tallies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=100_000)
    parser.add_argument("--methods", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    votes = simulated_votes(args.votes, args.methods)
    figures: dict = {
        "chatgenbench": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "votes": len(votes),
        "methods": args.methods,
        "resamples": args.resamples,
        "data": "simulated",
    }
    bradley_terry(votes[:1000], resamples=10)  # warm up imports
    start = time.perf_counter()
    point = bradley_terry(votes, resamples=0, pseudo_ties=0.0)  # the reference has no prior
    figures["bt_point_fit_s"] = round(time.perf_counter() - start, 4)
    start = time.perf_counter()
    fit = bradley_terry(votes, resamples=args.resamples)
    figures["bt_fit_with_bootstrap_s"] = round(time.perf_counter() - start, 3)
    figures["bt_target_s"] = 2.0
    figures["bt_under_target"] = figures["bt_fit_with_bootstrap_s"] < 2.0
    print(
        f"Bradley-Terry, {len(votes)} SIMULATED votes, {args.methods} methods: point fit "
        f"{figures['bt_point_fit_s']} s; with {args.resamples} bootstrap resamples "
        f"{figures['bt_fit_with_bootstrap_s']} s (target < 2 s)"
    )
    try:
        reference, reference_s = reference_fit(votes)
    except ImportError:
        print("reference: scikit-learn is not installed; skipped")
    else:
        ours = dict(zip(point.methods, point.theta))
        figures["reference"] = "scikit-learn LogisticRegression (no intercept, no penalty)"
        figures["reference_point_fit_s"] = round(reference_s, 4)
        figures["point_fit_speedup_vs_reference"] = round(
            reference_s / figures["bt_point_fit_s"], 1
        )
        figures["max_abs_theta_difference_vs_reference"] = float(
            f"{max(abs(ours[m] - reference[m]) for m in ours):.2e}"
        )
        figures["bootstrap_vs_reference_refits_estimate"] = round(
            reference_s * args.resamples / figures["bt_fit_with_bootstrap_s"], 1
        )
        print(
            f"reference (scikit-learn logistic regression): point fit {reference_s:.4f} s, "
            f"{figures['point_fit_speedup_vs_reference']}x ours; strengths agree within "
            f"{figures['max_abs_theta_difference_vs_reference']}; refitting it for "
            f"{args.resamples} resamples would take about {reference_s * args.resamples:.1f} s"
        )
    seconds, pairs = summary_seconds(votes, args.resamples)
    figures["summary_s"] = round(seconds, 3)
    figures["summary_pairs"] = pairs
    print(
        f"whole summary (win/tie/loss with intervals for {pairs} pairs + Bradley-Terry): "
        f"{figures['summary_s']} s"
    )
    figures["bt_iterations"] = fit.iterations
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
