"""The ChatGenBench leaderboard: ``chatgenbench leaderboard`` (``streamlit run leaderboard/app.py``).

Configuration (environment; the ``chatgenbench leaderboard`` flags set these):

- ``CHATGENBENCH_SUBMISSIONS``: the submissions store (default ``$CHATGENBENCH_HOME/submissions``;
  :mod:`leaderboard.store_location`; the sidebar says which folder is used and how to change it,
  and the Ranking tab says how to submit while the store is empty);
- ``CHATGENBENCH_QUEUE_DB``: the scoring queue (default ``<store>/.queue.sqlite3``);
- ``CHATGENBENCH_LEADERBOARD_BENCHMARKS``: benchmarks uploads may be scored on (default ``sample``);
- ``CHATGENBENCH_UPLOAD_MAX_BYTES``: the upload size limit (default 50 MiB);
- ``CHATGENBENCH_DEPLOYMENT``: the deployment file whose ``access`` section switches on
  OpenID Connect sign-in, roles, quotas and the audit log (:mod:`leaderboard.account_tab`;
  ``--config``). Without it the page is anonymous, as before, and says so in the sidebar.

All logic lives in :mod:`leaderboard.submissions`, :mod:`leaderboard.scoring_queue` and
:mod:`leaderboard.ranking`; this file only lays it out. Submitter text is shown as text (dataframes,
``st.text``, ``st.json``), never as Markdown or HTML. A queue or votes database that cannot be used
(:class:`chatgenbench.core.errors.DatabaseFileError`: not SQLite, truncated, a folder, another
schema) is shown as its message on the tabs that need it (Submit and Queue; Vote); the rest of the
page works.

The page reads at 1,000 to 1,920 px without scrolling sideways: the ranking's main columns, the
Details metadata and metric statuses, and the queue are wrapping HTML tables of escaped text
(:mod:`leaderboard.text_table`); the ranking's submission ids, intervals and efficiency figures
are in a sortable grid under its table. The Submit form labels fields in words, asks for the
model size once (:mod:`leaderboard.model_size`) and has no ``oracle`` field (ablation runs are
queued by the maintainer; :mod:`leaderboard.submit_form`). Counts use
:func:`leaderboard.wording.plural`. See ``docs/leaderboard-ui.md``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from chatgenbench.core.errors import ChatGenBenchError
from chatgenbench.core.random_weights import demo_weights_warning, uses_random_weights
from chatgenbench.scoring.result_schema import STATUS_COMPUTED, metric_block
from leaderboard import account_tab as account
from leaderboard import downloads_tab
from leaderboard import gallery_tab as gallery_page
from leaderboard.ablations import (
    ABLATION_NOTE,
    AblationRow,
    ablation_frame,
    reported_ablation_table,
)
from leaderboard.rank_bands import default_sort_label, top_line
from leaderboard.ranking import (
    PINNED_COLUMNS,
    REPORTED,
    VIEW_INPUT_TYPES,
    VIEW_SETTINGS,
    VIEW_TITLES,
    Ranking,
    RankingGroup,
    columns_by_key,
    display_frame,
    metric_columns,
    rank_by_header,
    ranking_csv,
    reported_notes,
)
from leaderboard.ranking_views import cached_ranking
from leaderboard.scoring_queue import ScoringQueue, default_queue_path
from leaderboard.store_location import EMPTY_STORE_HINT, StoreLocation, resolve_store
from leaderboard.submissions import (
    META_FIELDS,
    SUBMISSION_SETTINGS,
    Submission,
    SubmissionError,
    SubmissionStore,
    default_allowed_benchmarks,
    default_store_root,
    default_upload_limit,
)
from leaderboard.submit_form import PUBLIC_FIELDS, field_label, meta_rows
from leaderboard.text_table import main_ranking_frame, table_html
from leaderboard.vote_tab import vote_tab
from leaderboard.votes import VoteStore, default_votes_path
from leaderboard.wording import plural

MAX_PROBLEMS_SHOWN = 200
AUTO_REFRESH_SECONDS = 5


def _numeric_columns() -> dict[str, Any]:
    # The ranking shows formatted text ('-' for an absent metric); numbers still align right.
    return {
        header: st.column_config.Column(alignment="right")
        for header in ("Rank", *(column.header for column in metric_columns()), "n")
    }


def _ranking_columns(rank_by: str) -> dict[str, Any]:
    # Rank, Method and the rank-by column stay pinned on the left, so a page narrower than the
    # table (1,400 px) still shows who ranks where and by what; the other metrics scroll.
    columns = _numeric_columns()
    for header in (*PINNED_COLUMNS, rank_by):
        alignment = "right" if header in columns else None
        columns[header] = st.column_config.Column(pinned=True, alignment=alignment)
    return columns


@st.cache_resource(show_spinner=False)
def _store(root: str, benchmarks: tuple[str, ...], limit: int) -> SubmissionStore:
    # Cached so the benchmark ids and catalogue used by upload checks load once per process.
    return SubmissionStore(root, allowed_benchmarks=benchmarks, max_upload_bytes=limit)


def _store_caption(location: StoreLocation) -> str:
    # Paths in code spans: a '$' or '_' in them is shown as written, not as LaTeX or emphasis.
    if location.root_from == "default":
        source = "default: $CHATGENBENCH_HOME/submissions"
    else:  # `chatgenbench leaderboard --store DIR` hands DIR to the page in the environment
        source = "set by --store or $CHATGENBENCH_SUBMISSIONS"
    return (
        f"Store: `{location.root}` (`{source}`). Change it with `chatgenbench leaderboard "
        "--store DIR` or `$CHATGENBENCH_SUBMISSIONS`; see docs/store.md."
    )


def _styled(frame: pd.DataFrame):
    def shade(row: pd.Series) -> list[str]:
        colour = "background-color: rgba(255, 215, 0, 0.18)" if row["Kind"] == REPORTED else ""
        return [colour] * len(row)

    return frame.style.apply(shade, axis=1)


def _bar_chart(group: RankingGroup, key: str) -> alt.Chart | None:
    column = columns_by_key()[key]
    data = pd.DataFrame(
        [
            {"method": row.method, "kind": row.kind, "value": row.values[key]}
            for row in group.rows
            if row.values.get(key) is not None
        ]
    )
    if data.empty:
        return None
    order = "-x" if column.higher_is_better else "x"
    return (
        alt.Chart(data, title=f"{column.header} per method")
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title=column.header),
            y=alt.Y("method:N", sort=order, title=None),
            color=alt.Color("kind:N", title=None),
            tooltip=["method", "kind", alt.Tooltip("value:Q", format=".3f")],
        )
    )


def _stepwise_vs_final(group: RankingGroup, step_key: str) -> alt.Chart | None:
    data = pd.DataFrame(
        [
            {
                "method": row.method,
                "kind": row.kind,
                "stepwise": row.values[step_key],
                "unified": row.values["unified"],
            }
            for row in group.rows
            if row.values.get(step_key) is not None and row.values.get("unified") is not None
        ]
    )
    if len(data) < 2:
        return None
    step = columns_by_key()[step_key]
    return (
        alt.Chart(data, title=f"Step-wise vs final: {step.label} against Unified")
        .mark_circle(size=90)
        .encode(
            x=alt.X("stepwise:Q", title=step.header, scale=alt.Scale(zero=False)),
            y=alt.Y("unified:Q", title="Unified ↑", scale=alt.Scale(zero=False)),
            color=alt.Color("kind:N", title=None),
            tooltip=["method", "kind", "stepwise", "unified"],
        )
    )


def _ranking_tab(ranking: Ranking, sort_key: str | None) -> None:
    view = f"{VIEW_TITLES[ranking.setting]} · {VIEW_TITLES[ranking.input_type]}"
    st.caption(
        f"View: {view}. '-' marks a metric that was not computed or not reported; the Details tab "
        "says why. Order the rows with 'Rank by' in the sidebar (it knows whether higher or lower "
        "is better). Rows are ranked only within their group."
    )
    for note in ranking.notes:
        st.caption(note)
    if not ranking.groups:
        st.info("Nothing to rank in this view yet.")
    for index, group in enumerate(ranking.groups):
        st.subheader(group.label, divider="gray")
        for note in group.notes:
            st.caption(note)
        top = top_line(group.rows)  # rank bands: several rows may share rank 1
        if top is not None:
            st.text(top)
        frame = display_frame(group, sort_key)
        # The main columns in a table that wraps, so that it reads whole at 1,400 px; every
        # column (submission ids, 95% intervals, efficiency) in the sortable grid under it.
        _show_table(
            main_ranking_frame(frame), highlight=[kind == REPORTED for kind in frame["Kind"]]
        )
        with st.expander("All columns (submission ids, 95% intervals, efficiency): sortable"):
            st.dataframe(
                _styled(frame),
                hide_index=True,
                width="stretch",
                key=f"ranking-{index}",
                column_config=_ranking_columns(rank_by_header(group, sort_key)),
            )
        chart_key = sort_key or next(
            (
                k
                for k in ("unified", "config_accuracy", "prompt_bertscore")
                if any(r.values.get(k) is not None for r in group.rows)
            ),
            None,
        )
        charts = []
        if chart_key is not None:
            charts.append(_bar_chart(group, chart_key))
        charts.append(_stepwise_vs_final(group, "config_accuracy"))
        charts = [chart for chart in charts if chart is not None]
        if charts:
            columns = st.columns(len(charts))
            for column, chart in zip(columns, charts):
                column.altair_chart(chart, width="stretch")
    if ranking.excluded:
        with st.expander(f"Not in this view ({len(ranking.excluded)})"):
            st.dataframe(
                pd.DataFrame(ranking.excluded, columns=["Submission", "Why"]), hide_index=True
            )
    csv = ranking_csv(ranking)
    st.download_button(
        "Download this view as CSV",
        data=csv or "",
        file_name=f"chatgenbench-{ranking.setting}-{ranking.input_type}.csv",
        mime="text/csv",
        disabled=not csv,
        key="download-csv",
    )
    downloads_tab.ranking_json_button(ranking)
    for note in reported_notes():
        st.caption(note)
    _ablation_table(ranking.ablations)


def _show_table(frame: pd.DataFrame, **options) -> None:
    """Lay out ``frame`` as a wrapping table of escaped text (:func:`table_html`), as wide as
    the page; long text wraps."""
    st.html(table_html(frame, **options))


def _ablation_table(rows: list[AblationRow]) -> None:
    """Lay out the ablation table (:func:`leaderboard.ablations.ablation_rows`); nothing when it
    is empty."""
    if not rows:
        return
    st.subheader("Step ablations (paper Table 6)", divider="gray")
    st.caption(ABLATION_NOTE)
    st.caption(f"Reported rows: {reported_ablation_table()['source']}.")
    frame = ablation_frame(rows)
    _show_table(main_ranking_frame(frame), highlight=[kind == REPORTED for kind in frame["Kind"]])
    with st.expander("All columns (submission ids): sortable"):
        st.dataframe(frame, hide_index=True, width="stretch", key="ablations")


def _metric_status_frame(block: dict[str, Any]) -> pd.DataFrame:
    records = []
    for column in metric_columns():
        metric = metric_block(block, column.key) or {}
        computed = metric.get("status") == STATUS_COMPUTED
        records.append(
            {
                "Metric": column.header,
                "Status": metric.get("status", "missing"),
                "Value": column.fmt.format(metric["value"]) if computed else "-",
                "n": "" if metric.get("n") is None else str(metric["n"]),
                "Reason": "" if computed else str(metric.get("reason", "")),
                "How to fix": str(metric.get("how_to_fix", "")),
            }
        )
    return pd.DataFrame.from_records(records)


def _slice_for(results: dict[str, Any], setting: str, input_type: str) -> dict[str, Any] | None:
    block = results.get("overall") if setting == "overall" else results["settings"].get(setting)
    if block is not None and input_type != "all":
        block = (block.get("by_input_type") or {}).get(input_type)
    return block


def _broken_submissions(submissions: list[Submission]) -> None:
    """Say which submissions cannot be used, and why (as text); the others are served."""
    broken = [s for s in submissions if s.broken]
    if not broken:
        return
    st.caption(
        f"{plural(len(broken), 'submission')} could not be read or "
        "used; the others are shown. Reasons:"
    )
    rows = [{"Submission": s.name[:80], "Problem": "; ".join(s.problems[:3])[:500]} for s in broken]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="broken-submissions")


def _details_tab(
    submissions: list[Submission], setting: str, input_type: str, store: SubmissionStore
) -> None:
    if not submissions:
        st.info("No submissions in the store yet.")
        return
    names = [submission.name for submission in submissions]
    chosen = st.selectbox("Submission", names, key="detail_submission")
    submission = next(s for s in submissions if s.name == chosen)
    if submission.read_error:
        st.error("This submission could not be read:")
        st.text(submission.read_error)
        return
    if uses_random_weights(submission.results):  # said before its images and scores
        st.warning(demo_weights_warning([submission.name]))
    gallery_page.render_details(store, submission.name)
    st.subheader("Metadata")
    if submission.meta is not None:
        _show_table(pd.DataFrame(meta_rows(submission.meta.to_dict()), columns=["Field", "Value"]))
    if submission.meta_problems:
        st.error("meta.yaml has problems:")
        st.text("\n".join(submission.meta_problems))
    if submission.results is None:
        st.info("Not scored yet: see the Queue tab.")
        return
    if submission.results_problems:
        st.error("results.json does not match the results schema:")
        st.text("\n".join(submission.results_problems[:50]))
        return
    results = submission.results
    downloads_tab.submission_buttons(submission)
    if results.get("synthetic"):
        st.warning("Scored on a synthetic benchmark: never shown in the ranking.")
    view = f"{VIEW_TITLES[setting]} · {VIEW_TITLES[input_type]}"
    block = _slice_for(results, setting, input_type)
    st.subheader(f"Metrics ({view})")
    if block is None:
        st.info("These results have no such view.")
    else:
        _show_table(_metric_status_frame(block))
        config = (block.get("stepwise") or {}).get("config_accuracy") or {}
        per_key = config.get("per_key") or {}
        if per_key:
            st.subheader("Config accuracy per argument")
            frame = pd.DataFrame(
                [
                    (key, value, (config.get("per_key_n") or {}).get(key))
                    for key, value in per_key.items()
                ],
                columns=["Argument", "Accuracy", "n"],
            )
            st.dataframe(frame, hide_index=True, key="detail-per-key")
            st.bar_chart(frame, x="Argument", y="Accuracy", height=220)
        st.text(
            f"samples: {block.get('n_samples')}, without a usable prediction: "
            f"{block.get('n_missing')}"
        )
    st.subheader("What scoring normalised or skipped")
    normalised = results.get("normalisation") or {}
    invalid = ((block or {}).get("n_invalid_fields")) or {}
    rows = [("normalised", kind, count) for kind, count in normalised.items()]
    rows += [("invalid field (scored as wrong)", kind, count) for kind, count in invalid.items()]
    if rows:
        st.dataframe(
            pd.DataFrame(rows, columns=["What", "Kind", "Count"]),
            hide_index=True,
            key="detail-normalised",
        )
    else:
        st.text("Nothing was normalised or skipped.")
    st.subheader("Validation")
    st.json(results.get("validation") or {}, expanded=False)
    st.subheader("Metric settings")
    st.json(results.get("metric_settings") or {}, expanded=False)
    st.subheader("Provenance")
    st.json(
        {"benchmark": results.get("benchmark"), **(results.get("provenance") or {})},
        expanded=False,
    )


def _submit_tab(store: SubmissionStore, queue: ScoringQueue) -> None:
    st.caption(
        f"Upload a prediction file (.jsonl, .csv or .parquet, at most "
        f"{store.max_upload_bytes / 2**20:.1f} MiB) with its metadata. It is checked at once; "
        "a valid upload is queued for scoring."
    )
    account.upload_notice()  # who uploads, uploads left today, or that sign-in is needed
    with st.form("upload", clear_on_submit=False):
        uploaded = st.file_uploader(
            "Prediction file", type=["jsonl", "csv", "parquet"], key="upload_file"
        )
        name = st.text_input(
            "Submission name (letters, digits, '.', '-', '_'; default: from the method)",
            max_chars=64,
            key="upload_name",
        )
        values: dict[str, str] = {}
        for field_name in PUBLIC_FIELDS:
            spec = META_FIELDS[field_name]
            label = field_label(field_name)
            if field_name == "setting":
                values[field_name] = st.selectbox(
                    label, SUBMISSION_SETTINGS, key="upload_setting", help=spec.description
                )
            elif field_name == "benchmark":
                values[field_name] = st.selectbox(
                    label, store.allowed_benchmarks, key="upload_benchmark", help=spec.description
                )
            elif field_name == "notes":
                values[field_name] = st.text_area(
                    label, max_chars=spec.max_chars, key="upload_notes", help=spec.description
                )
            else:
                values[field_name] = st.text_input(
                    label,
                    max_chars=spec.max_chars,
                    key=f"upload_{field_name}",
                    placeholder=spec.description,
                    help=spec.description,
                )
        submitted = st.form_submit_button("Check and submit")
    if not submitted:
        return
    if not account.upload_allowed():  # checked on the server before the file is read
        return
    if uploaded is None:
        st.error("Choose a prediction file first.")
        return
    data = uploaded.getvalue()
    meta = {key: value for key, value in values.items() if value}
    if name:
        meta["name"] = name
    with st.spinner("Checking every row..."):
        check = store.check_upload(uploaded.name, data, meta)
    if not check.ok:
        st.error("The upload was not queued:")
        if check.problems:
            st.dataframe(
                pd.DataFrame({"Problem": check.problems}), hide_index=True, key="upload-problems"
            )
        if check.report is not None and check.report.errors:
            problems = [p.to_dict() for p in check.report.errors[:MAX_PROBLEMS_SHOWN]]
            st.text(
                plural(len(check.report.errors), "row-level error")
                + (
                    f" (first {MAX_PROBLEMS_SHOWN} shown)"
                    if len(problems) < len(check.report.errors)
                    else ""
                )
            )
            st.dataframe(
                pd.DataFrame.from_records(problems), hide_index=True, key="upload-row-errors"
            )
        return
    try:
        job = account.store_upload(store, queue, check, data)  # as this visitor: role, quota
    except ChatGenBenchError as error:  # refused (sign-in, quota) or the name was taken
        st.error(error_text(error))
        return
    st.success(f"Queued as {check.name!r} (job {job.id}). Its state is on the Queue tab.")
    if check.report.warnings:
        st.warning(
            f"{plural(len(check.report.warnings), 'warning')} (scoring will normalise these):"
        )
        st.dataframe(
            pd.DataFrame.from_records(
                [p.to_dict() for p in check.report.warnings[:MAX_PROBLEMS_SHOWN]]
            ),
            hide_index=True,
            key="upload-warnings",
        )


def _queue_panel(queue: ScoringQueue) -> None:
    try:
        counts = queue.counts()
    except ChatGenBenchError as error:  # the file broke while the panel refreshes on its own
        st.error(error_text(error))
        return
    st.text(" · ".join(f"{state}: {count}" for state, count in counts.items()))
    jobs = queue.jobs(limit=200)
    if not jobs:
        st.info("No jobs yet. Run the worker with: chatgenbench queue work")
    else:
        rows = [account.current().job_row(job) for job in jobs]  # reasons: owners, maintainers
        frame = pd.DataFrame.from_records(rows).fillna("")
        _show_table(frame)  # wraps: a stage that grows ('rendering 5/12 images ...') stays whole
    # A job that finished since the last look changes the ranking: redraw the whole page.
    finished = counts["done"] + counts["failed"]
    seen = st.session_state.get("queue_finished")
    st.session_state["queue_finished"] = finished
    if seen is not None and finished != seen:
        st.rerun(scope="app")


def _queue_tab(queue: ScoringQueue) -> None:
    counts = queue.counts()
    active = counts["pending"] + counts["running"] > 0
    # While jobs are pending or running, the panel polls the queue every few seconds.
    st.fragment(_queue_panel, run_every=AUTO_REFRESH_SECONDS if active else None)(queue)
    st.button("Refresh", key="queue-refresh")
    st.caption(
        f"Queue database: {queue.path}. Worker: chatgenbench queue work"
        + (f". Refreshing every {AUTO_REFRESH_SECONDS} s while jobs are active." if active else "")
    )
    account.actions_panel()  # sign-in on: your submissions, actions, audit log


def main() -> None:
    """Lay out the leaderboard page."""
    st.set_page_config(page_title="ChatGenBench leaderboard", layout="wide")
    st.title("ChatGenBench leaderboard")
    st.caption(
        "Automatic text-to-image generation from freestyle chat (ChatGen, Jia et al.). "
        "Rows marked 'reported' are the paper's Table 4; the others were scored here."
    )
    try:
        store = _store(
            str(default_store_root()), default_allowed_benchmarks(), default_upload_limit()
        )
    except SubmissionError as error:
        st.error(str(error))
        return
    try:
        queue: ScoringQueue | ChatGenBenchError = ScoringQueue(default_queue_path(store.root))
    except ChatGenBenchError as error:  # a broken queue file: said on the tabs that use it
        queue = error
    page = account.begin(store, queue)
    with st.sidebar:
        account.sign_in_panel()
        st.header("View")
        setting = st.radio(
            "Setting", VIEW_SETTINGS, format_func=VIEW_TITLES.get, key="view_setting"
        )
        input_type = st.radio(
            "Input type", VIEW_INPUT_TYPES, format_func=VIEW_TITLES.get, key="view_input_type"
        )
        sort_choice = st.selectbox(
            "Rank by",
            ["default", *columns_by_key()],
            format_func=lambda key: (
                default_sort_label() if key == "default" else columns_by_key()[key].header
            ),
            key="view_sort",
        )
        show_reported = st.checkbox(
            "Show reported rows (paper Table 4)", value=True, key="view_reported"
        )
        st.caption(_store_caption(resolve_store()))
        st.caption(f"Updated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S')} UTC")
    sort_key = None if sort_choice == "default" else sort_choice
    submissions, removed = page.public(store.submissions())  # withdrawn and hidden ones left out
    ranking = cached_ranking(
        store, submissions, setting, input_type, sort_by=sort_key, include_reported=show_reported
    )
    ranking_tab, details_tab, gallery_tab, votes_tab, submit_tab, queue_tab = st.tabs(
        ["Ranking", "Details", "Gallery", "Vote", "Submit", "Queue"]
    )
    with ranking_tab:
        if not submissions:
            st.info(EMPTY_STORE_HINT)
        _broken_submissions(submissions)
        account.removed_notice(removed)
        _ranking_tab(ranking, sort_key)
    with details_tab:
        _details_tab(submissions, setting, input_type, store)
    with gallery_tab:
        gallery_page.gallery_tab(store, submissions)
    with submit_tab:
        _unless_broken(queue, _submit_tab, store)
    with queue_tab:
        _unless_broken(queue, _queue_tab)
    with votes_tab:
        try:
            votes: VoteStore | ChatGenBenchError = account.guarded_votes(
                default_votes_path(store.root), store
            )
        except ChatGenBenchError as error:  # a broken votes file or vote settings: said on the tab
            votes = error
        _unless_broken(votes, lambda v: vote_tab(store, v))


def _unless_broken(database: Any, tab, *args: Any) -> None:
    """Lay out ``tab(*args, database)``, or, when ``database`` is the error that opening it
    raised (or the tab meets one, a page found corrupt), that error and how to fix it."""
    try:
        if isinstance(database, ChatGenBenchError):
            raise database
        tab(*args, database)
    except ChatGenBenchError as error:  # a database that cannot be used: the message, not a crash
        st.error(error_text(error))


def error_text(error: ChatGenBenchError) -> str:
    """Return ``error``'s message and, where known, how to fix it, as one line."""
    return f"{error} (how to fix: {error.how_to_fix})" if error.how_to_fix else str(error)


if __name__ == "__main__":  # streamlit runs the page as __main__; an import lays out nothing
    main()
