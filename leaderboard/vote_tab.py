"""The leaderboard's Vote tab: the blind pairwise user study (the paper's Figure 4) on one page.

It shows the user's chat input (every turn) and two images of the same sample by two submissions,
blind (labelled A and B, sides drawn at random), asks :data:`leaderboard.votes.QUESTIONS`, and
stores each click as a vote (:class:`leaderboard.votes.VoteStore`); an undo button removes the
voter's last vote. Below, the results: Figure 4's stacked bars per pair of methods and the
Bradley-Terry table, then how far each image metric agrees with the votes
(:mod:`leaderboard.agreement_tab`). All rules and statistics live in :mod:`leaderboard.votes`;
this module only lays them out. Submitter and benchmark text is shown as text, never as Markdown.
A pair whose
images come from random demo weights is labelled so above the images, before anyone votes
(:func:`chatgenbench.core.random_weights.demo_weights_warning`, naming no method: the pair stays
blind). Bradley-Terry ranks are bands from the intervals
(:meth:`chatgenbench.analysis.pairwise.BradleyTerryFit.rows`).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from chatgenbench.analysis.rank_bands import band_text
from chatgenbench.core.errors import ChatGenBenchError, DatabaseFileError
from chatgenbench.core.random_weights import demo_weights_warning
from leaderboard.agreement_tab import agreement_panel
from leaderboard.gallery_views import input_images_note
from leaderboard.submissions import SubmissionStore
from leaderboard.votes import (
    DEMO_WEIGHTS,
    QUESTIONS,
    QuestionSummary,
    SampleInputs,
    Shown,
    VoteError,
    VoteStore,
    candidate_pairs,
    chat_turns,
    default_seed,
    draw_pair,
    images_made_with,
    submission_weights,
    summarize,
)
from leaderboard.wording import plural

SIDES: tuple[tuple[str, str], ...] = (
    ("left", "A is better"),
    ("tie", "Tie"),
    ("right", "B is better"),
)
OUTCOME_LABELS = ("a", "tie", "b")
_STATE = "votes_state"
MATCHUP_KEY = "vote-matchup"
ANY = "any two methods"


@st.cache_resource(show_spinner=False)
def _sample_inputs() -> SampleInputs:
    return SampleInputs()


@st.cache_data(show_spinner=False, max_entries=4)
def _summaries(path: str, version: tuple, weights: tuple) -> tuple[list[dict[str, Any]], list[str]]:
    # recomputed only when a vote was stored, replaced or undone (``version`` changed), or when
    # what made a submission's images changed (``weights``); malformed rows are skipped, counted
    stored = VoteStore(path).read()
    summaries = summarize(stored.votes, weights=dict(weights))
    return [summary.to_dict() for summary in summaries], stored.skipped


def _state() -> dict[str, Any]:
    state = st.session_state.setdefault(_STATE, {})
    state.setdefault("voter", uuid.uuid4().hex)  # anonymous: one per browser session
    state.setdefault("round", 0)
    state.setdefault("current", None)  # (Shown, shown_at)
    state.setdefault("message", None)  # (kind, text)
    return state


def _method_names(store: SubmissionStore, submissions: tuple[str, str]) -> tuple[str, str]:
    names = []
    for name in submissions:
        meta = store.load(name).meta
        names.append(meta.method if meta is not None else name)
    return names[0], names[1]


def _labels(store: SubmissionStore, shown: Shown) -> tuple[str, str]:
    return _method_names(store, (shown.pair.submission_a, shown.pair.submission_b))


def _cast(store: SubmissionStore, votes: VoteStore, question: str, side: str) -> None:
    state = _state()
    shown, shown_at = state["current"]
    try:
        result = votes.cast(
            state["voter"],
            shown,
            question,
            shown.answer_for(side),
            shown_at=shown_at,
            methods=_labels(store, shown),
        )
    except (VoteError, DatabaseFileError) as error:  # refused, or the file is broken: said
        state["message"] = (
            "error",
            f"{error} ({error.how_to_fix})" if error.how_to_fix else str(error),
        )
        return
    what = "replaced your earlier answer" if result.replaced else "stored"
    if result.flagged:
        state["message"] = (
            "warning",
            f"Vote {what} but not counted: cast {result.vote.seconds:.1f} s after the images "
            f"appeared, under the {votes.min_seconds:g} s threshold.",
        )
    else:
        state["message"] = ("success", f"Vote {what}.")


def _undo(votes: VoteStore) -> None:
    state = _state()
    try:
        vote = votes.undo_last(state["voter"])
    except DatabaseFileError as error:  # the file is broken: said on the tab, not a traceback
        state["message"] = ("error", f"{error} ({error.how_to_fix})")
        return
    if vote is None:
        state["message"] = ("info", "You have no vote to undo.")
        return
    # show that pair again, on the same sides, so the voter can answer afresh
    st.session_state[MATCHUP_KEY] = ANY  # whatever methods were chosen, the pair is drawable
    state["current"] = (Shown(vote.pair, vote.left_side), time.time())
    state["message"] = ("info", f"Undid your last vote ({vote.question}).")


def _input_panel(row: dict[str, Any] | None) -> None:
    st.subheader("The user's input")
    if row is None:
        st.warning("This sample is not in the benchmark any more.")
        return
    for number, (role, text) in enumerate(chat_turns(row), 1):
        st.text(f"{role} ({number}): {text}")
    references = row.get("reference_images") or []
    if references:
        st.caption("Reference images of the input:")
        st.image(references, width=160)
    note = input_images_note(str(row.get("input_type")), len(references), len(references))
    if note:
        st.text(note)


def _stacked_bars(name_a: str, name_b: str, rows: list[dict[str, Any]]) -> alt.Chart:
    """Figure 4's bars for one pair of methods: per question, the shares of a-wins, ties, b-wins."""
    data = pd.DataFrame(rows)
    data["label"] = [f"{rate:.0%}" if rate >= 0.06 else "" for rate in data["rate"]]
    base = alt.Chart(data, title=f"{name_a} vs {name_b} (share of counted votes)").encode(
        y=alt.Y("question:N", title=None, sort=list(QUESTIONS)),
        x=alt.X("rate:Q", stack="normalize", axis=alt.Axis(format="%"), title=None),
        order=alt.Order("order:Q"),
    )
    bars = base.mark_bar().encode(
        color=alt.Color(
            "outcome:N",
            sort=[f"{name_a} wins", "tie", f"{name_b} wins"],
            scale=alt.Scale(range=["#4c78a8", "#bab0ac", "#f58518"]),
            title=None,
            legend=alt.Legend(orient="bottom", labelLimit=0),
        ),
        tooltip=["question", "outcome", "count", alt.Tooltip("rate:Q", format=".1%"),
                 alt.Tooltip("interval:N", title="95% interval")],
    )  # fmt: skip
    text = base.mark_text(color="white").encode(
        x=alt.X("rate:Q", stack="normalize", bandPosition=0.5), text="label:N"
    )
    return bars + text


def _results_panel(store: SubmissionStore, votes: VoteStore) -> None:
    st.subheader("Results", divider="gray")
    counts = votes.counts()
    st.text(
        f"{plural(counts['votes'], 'vote')} from {plural(counts['voters'], 'voter')}; "
        f"{counts['flagged']} flagged "
        f"(cast under {votes.min_seconds:g} s after the images appeared) and not counted."
    )
    weights = tuple(sorted(submission_weights(store).items()))
    found, skipped = _summaries(str(votes.path), votes.version(), weights)
    if skipped:
        st.warning(f"{plural(len(skipped), 'malformed vote row')} skipped (not counted).")
        st.text(skipped[0])  # the reason quotes stored values: shown as text, never markdown
    summaries = [QuestionSummary(**data) for data in found]
    if not summaries:
        st.info("No votes yet.")
        return
    groups: dict[tuple[str, str, str], list] = {}
    for summary in summaries:
        groups.setdefault((summary.benchmark, summary.setting, summary.weights), []).append(summary)
    for (benchmark, setting, weights), members in groups.items():
        st.text(f"{benchmark} · {setting}")  # the benchmark name comes from meta.yaml: text
        if weights == DEMO_WEIGHTS:
            st.warning(
                demo_weights_warning() + " Their votes are summarised apart, never ranked beside "
                "real weights."
            )
        bars: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for summary in members:
            st.text(
                f"{benchmark} · {setting} · {summary.question}: "
                f"{plural(summary.n_votes, 'counted vote')}, {summary.n_flagged} flagged"
            )
            for tally in summary.tallies:
                names = {"a": tally["method_a"], "b": tally["method_b"]}
                rows = bars.setdefault((names["a"], names["b"]), [])
                for order, key in enumerate(OUTCOME_LABELS):
                    interval = tally["intervals"][key]
                    rows.append(
                        {
                            "question": summary.question,
                            "outcome": "tie" if key == "tie" else f"{names[key]} wins",
                            "order": order,
                            "count": tally["counts"][key],
                            "rate": tally["rates"][key],
                            "interval": (
                                f"{interval['low']:.1%} to {interval['high']:.1%}"
                                if interval
                                else "-"
                            ),
                        }
                    )
        for (name_a, name_b), rows in bars.items():
            st.altair_chart(_stacked_bars(name_a, name_b, rows), width="stretch")
        table = []
        for summary in members:
            fit = summary.bradley_terry
            if fit is None:
                st.text(f"Bradley-Terry ({summary.question}): not computed: "
                        f"{summary.bradley_terry_not_computed}")  # fmt: skip
                continue
            for row in fit["rows"]:
                interval = (
                    f"{row['rating_low']:.0f} to {row['rating_high']:.0f}"
                    if row["rating_low"] is not None
                    else "-"
                )
                table.append(
                    {
                        "Question": summary.question,
                        "Rank": band_text(row["rank"], row.get("rank_upper")),
                        "Method": row["method"],
                        "Rating": f"{row['rating']:.0f}",
                        "95% interval": interval,
                        "Strength (theta)": f"{row['theta']:+.3f}",
                        "Votes": str(fit["n_votes"]),
                    }
                )
        if table:
            st.caption(
                "Bradley-Terry strengths across all methods (ties count half a win each; one "
                "virtual tie per pair that met); rating = 1000 + 400·theta/ln 10, as the public "
                "arena leaderboards print it; intervals from 1,000 bootstrap resamples. Rank = 1 "
                "+ the number of methods whose interval lies wholly above this one's: methods "
                "that cannot be told apart share a rank."
            )
            st.dataframe(pd.DataFrame(table), hide_index=True, key=f"bt-{benchmark}-{setting}")


def _vote_panel(store: SubmissionStore, votes: VoteStore) -> None:
    state = _state()
    pairs = candidate_pairs(store)
    if hasattr(votes, "public_pairs"):  # withdrawn and hidden submissions are not voted on
        pairs = votes.public_pairs(pairs)
    matchups = sorted({(pair.submission_a, pair.submission_b) for pair in pairs})
    if len(matchups) > 1:
        # as in the paper's study, the votes can be spent on one pair of methods
        choice = st.selectbox(
            "Methods to compare",
            [ANY, *matchups],
            format_func=lambda m: m if m == ANY else " vs ".join(_method_names(store, m)),
            key=MATCHUP_KEY,
        )
        if choice != ANY:
            pairs = [p for p in pairs if (p.submission_a, p.submission_b) == tuple(choice)]
    st.caption(
        "Two images made from the same input by two methods, shown blind (A and B, sides drawn "
        "at random). Answer both questions; the next pair follows. A vote cast less than "
        f"{votes.min_seconds:g} s after the images appear is kept but not counted; at most "
        f"{votes.rate_limit} votes every {votes.rate_window:g} s."
    )
    message = state.get("message")
    if message is not None:
        kind, text = message
        getattr(st, kind)(text)
    current = state["current"]
    valid = {pair.key for pair in pairs}
    answered = votes.answered_pairs(state["voter"])
    if current is None or current[0].pair.key not in valid or current[0].pair.key in answered:
        shown = draw_pair(
            pairs, seed=default_seed(), voter=state["voter"], round=state["round"], exclude=answered
        )
        state["round"] += 1
        current = state["current"] = None if shown is None else (shown, time.time())
    if current is None:
        if not pairs:
            st.info(
                "Nothing to vote on yet: two submissions of the same benchmark and setting must "
                "both have rendered images of a sample."
            )
        else:
            st.success("You have voted on every pair. Thank you!")
        st.button("Undo my last vote", key="vote-undo", on_click=_undo, args=(votes,))
        return
    shown, _ = current
    if images_made_with(store.load(shown.left)) == DEMO_WEIGHTS:  # said before anyone looks
        st.warning(demo_weights_warning() + " Votes on them are summarised apart.")
    try:
        row = _sample_inputs().row(shown.pair.benchmark, shown.pair.setting, shown.pair.sample_id)
    except ChatGenBenchError as error:  # the benchmark cannot be loaded here: say so, still vote
        st.warning(f"The input of this sample cannot be shown: {error}")
    else:
        _input_panel(row)
    images = {}
    for name in (shown.left, shown.right):
        images[name] = store.rendered_images(name).get(shown.pair.sample_id)
    left, right = st.columns(2)
    for column, label, name in ((left, "A", shown.left), (right, "B", shown.right)):
        with column:
            st.subheader(f"Image {label}")
            if images[name] is None:
                st.warning("This image is no longer available.")
                continue
            from chatgenbench.metrics.images import UnreadableImage, read_image_file

            try:
                image = read_image_file(images[name], within=store.path_for(name))
            except UnreadableImage as error:
                st.warning(f"This image cannot be shown: {str(error)[:300]}")
            else:
                # PNG as rendered: a JPEG re-encoding would change what is judged
                st.image(image, width="stretch", output_format="PNG")
    mine = votes.answers(state["voter"], shown.pair)
    for question, text in QUESTIONS.items():
        st.markdown(f"**{text}**")
        given = mine.get(question)
        columns = st.columns(len(SIDES))
        for column, (side, label) in zip(columns, SIDES):
            chosen = given is not None and shown.answer_for(side) == given.answer
            column.button(
                label,
                key=f"vote-{question}-{side}",
                type="primary" if chosen else "secondary",
                on_click=_cast,
                args=(store, votes, question, side),
                width="stretch",
            )
    st.button("Undo my last vote", key="vote-undo", on_click=_undo, args=(votes,))


def vote_tab(store: SubmissionStore, votes: VoteStore) -> None:
    """Lay out the Vote tab: the current blind pair and its questions, then the results.

    Runs as a fragment, so a vote redraws this tab only. Every vote cast here is checked against
    ``store`` (:func:`leaderboard.votes.pair_problem`).
    """
    if votes.submissions is None:
        votes.submissions = store
    if getattr(votes, "voter_id", None):  # the signed-in identity's id (leaderboard.actions)
        _state()["voter"] = votes.voter_id
    st.fragment(_vote_tab_body)(store, votes)


def _vote_tab_body(store: SubmissionStore, votes: VoteStore) -> None:
    try:
        _vote_panel(store, votes)
        _results_panel(store, votes)
        agreement_panel(store, votes)
    except DatabaseFileError as error:  # the votes file is broken: the message, not a traceback
        st.error(f"{error} ({error.how_to_fix})")
