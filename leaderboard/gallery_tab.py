"""The leaderboard's Gallery tab: what a method produced, sample by sample, and side by side.

It lays out one page of a submission's samples (the chat input, the reference and predicted
prompt, a ✓/✗ per answer field, the scores, the rendered and the reference image) with the
filters the backend offers, or the same input's images from 2 to 4 submissions in one row; and,
in the Details tab, a render folder's summary. What a page holds (the join, the filter, the
paging, the thumbnails, which images may be served) is decided in :mod:`leaderboard.gallery`;
this module only lays it out. Submitter and benchmark text is shown as text, never as Markdown.
A sample's scores read with the ranking's labels and scale (:mod:`leaderboard.metric_display`);
a submission made with random demo weights is labelled so above its cards and side-by-side panels
and in each image's caption (:func:`chatgenbench.core.random_weights.demo_weights_warning`).

Images take their column's width, so side by side fits a 1,000 to 1,920 px window; a card's
"Side by side" button opens with its submission and the next one
(:func:`leaderboard.gallery_views.compared_with`); a multimodal sample shows its input images or
says why not (:func:`leaderboard.gallery_views.input_images_note`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from chatgenbench.core.random_weights import (
    DEMO_WEIGHTS_LABEL,
    demo_weights_warning,
    uses_random_weights,
)
from leaderboard.gallery import (
    MAX_COMPARED,
    PAGE_SIZE,
    Gallery,
    GalleryFilter,
    GalleryIndex,
    SampleView,
    as_text,
    match_mark,
    page_count,
    render_status_counts,
    weights_missing_by_model,
)
from leaderboard.gallery_views import compared_with, input_images_note
from leaderboard.metric_display import sample_scores_text
from leaderboard.submissions import SubmissionStore
from leaderboard.text_table import table_html
from leaderboard.wording import plural


def gallery_tab(store: SubmissionStore, submissions: list) -> None:
    """Lay out the Gallery tab: pick a submission, filter, page; or compare side by side."""
    gallery = _cached_gallery(store)
    names = [s.name for s in submissions if s.meta is not None]
    if not names:
        st.info("No submissions in the store yet.")
        return
    demo = {s.name for s in submissions if uses_random_weights(s.results)}
    mode = st.radio("Show", ["Gallery", "Side by side"], horizontal=True, key="gallery_mode")
    if mode == "Side by side":
        _side_by_side(gallery, names, demo)
        return
    name = st.selectbox("Submission", names, key="gallery_submission")
    if name in demo:  # said before any image of it is looked at
        st.warning(demo_weights_warning([name]))
    index = gallery.index(name)
    if index is None:
        st.warning("This submission's meta.yaml is not valid.")
        return
    columns = st.columns(5)
    choices = index.filter_choices()
    where = GalleryFilter(
        setting=columns[0].selectbox("Setting", choices["setting"], key="gallery_setting"),
        input_type=columns[1].selectbox("Input type", choices["input_type"], key="gallery_type"),
        model=columns[2].selectbox("Model", choices["model"], key="gallery_model"),
        text=columns[4].text_input("Text contains", key="gallery_text", max_chars=200),
    )
    where.min_config, where.max_config = columns[3].slider(
        "Config score", 0.0, 1.0, (0.0, 1.0), 0.05, key="gallery_config"
    )
    _, selected = gallery.select(name, where)
    pages = page_count(len(selected), PAGE_SIZE)
    page = st.number_input("Page", 1, pages, 1, key="gallery_page") - 1
    shown = gallery.page(name, where, page)
    st.caption(
        f"{shown['n_selected']} of {len(index.samples)} samples match; page {shown['page'] + 1} "
        f"of {shown['pages']}. Images come from this submission's render folder only."
    )
    if index.weights_missing:
        st.caption(
            "No image for models without weights: "
            + ", ".join(f"{model} ({n})" for model, n in index.weights_missing.items())
        )
    if index.manifest_skipped:
        n = len(index.manifest_skipped)
        st.caption(
            f"{plural(n, 'render manifest line')} could not be read and "
            f"{'were' if n != 1 else 'was'} skipped: " + "; ".join(index.manifest_skipped[:3])[:400]
        )
    for sample in shown["samples"]:
        thumb = shown["thumbnails"].get(sample.id)
        problem = shown["image_problems"].get(sample.id)
        _sample_card(gallery, index, sample, thumb, problem, names, demo=name in demo)


def _image_bytes(path) -> bytes | None:
    """Return a thumbnail's bytes (a regular file only), or None when it cannot be read now."""
    from chatgenbench.core.storage import read_regular_bytes

    try:
        return read_regular_bytes(path)
    except OSError:
        return None


def _sample_card(
    gallery: Gallery,
    index: GalleryIndex,
    sample: SampleView,
    thumb,
    problem: str | None = None,
    names: list[str] | None = None,
    *,
    demo: bool = False,
) -> None:
    with st.container(border=True):
        left, middle, right = st.columns([2, 3, 2])
        with left:
            st.text(f"{sample.id} · {sample.setting} · {sample.input_type}")
            if sample.history:
                for turn in sample.history:
                    st.text(f"{turn['role']}: {turn['content']}")
            else:
                st.text(f"user: {sample.freestyle_input}")
            _input_images(gallery, index, sample)
            st.button(
                "Side by side",
                key=f"sbs-{sample.id}",
                on_click=_open_side_by_side,
                args=(index.name, sample.id, names or [index.name]),
            )
        with middle:
            predicted = sample.predicted or {}
            st.text("Reference prompt:\n" + str(sample.reference.get("prompt")))
            st.text("Predicted prompt:\n" + as_text(predicted.get("prompt")))
            _show_table(pd.DataFrame(sample.field_marks()))  # wraps: model names stay whole
            st.text(sample_scores_text(sample))  # the ranking's labels and scale
        with right:
            data = _image_bytes(thumb) if thumb is not None else None
            if data is not None:
                caption = f"rendered with {DEMO_WEIGHTS_LABEL}" if demo else "rendered"
                st.image(data, caption=caption, width="stretch")
            elif problem is not None:
                st.text(f"no image shown: {problem}")
            else:
                why = sample.render_status or "not rendered"
                st.text(
                    f"no image: {why}"
                    + (f" ({sample.render_error})" if sample.render_error else "")
                )
            reference = gallery.reference_image(index.benchmark, index.setting, sample.id)
            if reference is not None:
                st.image(reference, caption="reference (human-validated)", width="stretch")


def _show_table(frame: pd.DataFrame, **options) -> None:
    """Lay out ``frame`` as a wrapping table of escaped text (:func:`table_html`)."""
    st.html(table_html(frame, **options))


def _open_side_by_side(name: str, sample_id: str, names: list[str]) -> None:
    st.session_state["gallery_mode"] = "Side by side"
    st.session_state["sbs_sample"] = sample_id
    st.session_state["sbs_names"] = compared_with(name, names)
    st.session_state.pop("sbs_chosen", None)  # the multiselect takes the new default
    st.session_state.pop("sbs_input", None)  # and the input box the card's sample


def _input_images(gallery: Gallery, index: GalleryIndex, sample: SampleView) -> None:
    """Lay out a multimodal sample's input images, or say why they are not shown."""
    images = []
    if sample.n_reference_images:
        images = gallery.input_images(index.benchmark, index.setting, sample.id)
    if images:
        st.image(images, caption=[f"input image {i}" for i in range(1, len(images) + 1)], width=120)
    note = input_images_note(sample.input_type, sample.n_reference_images, len(images))
    if note:
        st.text(note)


def _side_by_side(
    gallery: Gallery, names: list[str], demo: set[str] | frozenset[str] = frozenset()
) -> None:
    chosen = st.multiselect(
        f"Submissions (2 to {MAX_COMPARED})",
        names,
        default=[n for n in st.session_state.get("sbs_names", names[:2]) if n in names][:4]
        or names[:2],
        max_selections=MAX_COMPARED,
        key="sbs_chosen",
    )
    if not chosen:
        st.info("Choose submissions to compare.")
        return
    if demo & set(chosen):  # said before any image is looked at
        st.warning(demo_weights_warning([name for name in chosen if name in demo]))
    index = gallery.index(chosen[0])
    ids = [s.id for s in index.samples] if index is not None else []
    if not ids:
        st.info("The first submission has no samples.")
        return
    wanted = st.session_state.get("sbs_sample")
    sample_id = st.selectbox(
        "Input", ids, index=ids.index(wanted) if wanted in ids else 0, key="sbs_input"
    )
    sample = index.by_id[sample_id]
    if sample.history:
        st.text("\n".join(f"{t['role']}: {t['content']}" for t in sample.history))
    else:
        st.text(f"user: {sample.freestyle_input}")
    _input_images(gallery, index, sample)
    panels = gallery.side_by_side(chosen, sample_id)
    reference = gallery.reference_image(index.benchmark, index.setting, sample_id)
    columns = st.columns(len(panels) + 1)
    with columns[0]:
        st.text("Reference")
        if reference is not None:
            st.image(reference, caption="human-validated reference", width="stretch")
        else:
            st.text("(the benchmark has no reference image here)")
        st.text(str(sample.reference.get("prompt")))
        st.text(f"model: {sample.reference.get('model')}")
    for column, panel in zip(columns[1:], panels):
        with column:
            st.text(panel["method"])
            data = _image_bytes(panel["image"]) if panel["image"] is not None else None
            if data is not None:
                caption = panel["name"]
                if panel["name"] in demo:
                    caption += f" ({DEMO_WEIGHTS_LABEL})"
                st.image(data, caption=caption, width="stretch")
            elif panel.get("image_problem"):
                st.text(f"no image shown: {panel['image_problem']}")
            else:
                st.text(f"no image: {panel['status']}")
            found = panel["sample"]
            if found is not None and found.predicted:
                st.text(as_text(found.predicted.get("prompt")))
                model = as_text(found.predicted.get("model"))
                st.text(f"model: {model} {match_mark(found.model_correct)}")
            if found is not None:
                st.text(sample_scores_text(found))  # the ranking's labels and scale


def _cached_gallery(store: SubmissionStore) -> Gallery:
    @st.cache_resource(show_spinner=False)
    def build(root: str) -> Gallery:
        return Gallery(store)

    return build(str(store.root))


def render_details(store: SubmissionStore, name: str) -> None:
    """Lay out, in the Details tab, a render folder's summary: statuses, models without weights."""
    render_dir = store.render_dir(name)
    counts = render_status_counts(render_dir)
    if counts is None:
        return
    st.subheader("Rendering")
    st.text(" · ".join(f"{status}: {n}" for status, n in sorted(counts.items())))
    missing = weights_missing_by_model(render_dir)
    if missing:
        st.text("Models without weights (no image, never a stand-in):")
        st.dataframe(
            pd.DataFrame(list(missing.items()), columns=["Model", "Samples"]),
            hide_index=True,
            key="detail-weights-missing",
        )
