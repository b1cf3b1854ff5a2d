"""The adapter contract that every baseline implements, and running an adapter over a benchmark.

An adapter takes a batch of benchmark rows (dicts of :mod:`chatgenbench.benchmark.schema`) and returns one
prediction dict per row (the prediction-file format of :mod:`chatgenbench.predictions.validation`).
This stage takes an adapter (:func:`run_adapter`) or a factory and its options
(:func:`instantiate_adapter`), never a name: the table of named baselines, with those that other
installed packages declare, belongs to the baselines and the command line resolves a name there.

Two optional hooks extend the contract without burdening simple adapters:

- ``prepare(benchmark)``: called once by :func:`run_adapter` with the benchmark source before the
  first batch (an adapter that needs the train split or the catalogue loads it here);
- ``describe() -> dict``: the adapter's settings, written into the run record.

A prediction dict may carry a ``"_notes"`` dict (e.g. an unparsed answer's raw text): it is removed
from the prediction and written, with the id, to the notes file next to the predictions.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from chatgenbench.core.errors import AdapterOptionError

NOTES_KEY = "_notes"
#: The largest adapter options file read (YAML or JSON; nested aliases and depth bounded too).
OPTIONS_MAX_BYTES = 1024 * 1024


@runtime_checkable
class Adapter(Protocol):
    """A system under test: benchmark rows in, predictions out."""

    name: str

    def predict(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return one prediction dict (``id, prompt, negative_prompt, model, arguments``) per row."""
        ...


def parse_option_assignments(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings into options; values are read as YAML scalars or lists.

    ``k=30`` gives an int, ``device=cpu`` a string, ``arguments.steps=20`` a nested dict. Raises
    :class:`AdapterOptionError` for an item without ``=`` or with an empty key.

    >>> parse_option_assignments(["k=5", "arguments.sampler=Euler a"])
    {'k': 5, 'arguments': {'sampler': 'Euler a'}}
    """
    from chatgenbench.core.yaml_files import bounded_repr, parse_yaml

    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise AdapterOptionError(f"option {bounded_repr(item)} is not of the form key=value")
        try:
            value = (
                parse_yaml(text, source=f"option {key}", error=AdapterOptionError)
                if text.strip()
                else ""
            )
        except AdapterOptionError:
            value = text  # not YAML (or past its limits): the text itself
        target = options
        *parents, leaf = key.split(".")
        for parent in parents:
            node = target.setdefault(parent, {})
            if not isinstance(node, dict):
                raise AdapterOptionError(
                    f"option {key!r} conflicts with {parent}={bounded_repr(node)}"
                )
            target = node
        target[leaf] = value
    return options


def load_options_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read adapter options from a YAML or JSON file holding one mapping."""
    from chatgenbench.core.yaml_files import read_yaml_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"options file not found: {path}")
    options = read_yaml_file(path, max_bytes=OPTIONS_MAX_BYTES, error=AdapterOptionError)
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise AdapterOptionError(
            f"{path}: expected a mapping of options, got {type(options).__name__}"
        )
    return options


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def instantiate_adapter(
    factory: Callable[..., Adapter],
    options: dict[str, Any] | None = None,
    *,
    options_file: str | os.PathLike | None = None,
    name: str | None = None,
) -> Adapter:
    """Call an adapter factory (an adapter class, or a function returning one) with keyword options.

    Options from ``options_file`` come first; ``options`` override them key by key. ``name`` is
    what errors call the baseline (default: the factory's ``name`` attribute or its own name).
    Raises :class:`AdapterOptionError` naming the accepted options when one is unknown, or when the
    factory rejects a value.
    """
    name = name or getattr(factory, "name", None) or getattr(factory, "__name__", "adapter")
    merged = _merge(load_options_file(options_file) if options_file else {}, options or {})
    parameters = inspect.signature(factory).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [key for key in parameters if key not in ("self", "name")]
    unknown = sorted(set(merged) - set(accepted))
    if unknown and not accepts_any:
        import difflib

        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise AdapterOptionError(
            f"baseline {name!r} has no option {', '.join(hints)}; accepted: {', '.join(accepted)}"
        )
    try:
        return factory(**merged)
    except AdapterOptionError:
        raise
    except (TypeError, ValueError) as error:
        raise AdapterOptionError(f"baseline {name!r}: bad options ({error})") from None


def sidecar_paths(out: str | os.PathLike) -> dict[str, Path]:
    """Return the files written next to a prediction file ``PRED.jsonl``.

    ``notes``: ``PRED.notes.jsonl`` (per-row notes such as unparsed answers); ``run``:
    ``PRED.run.json`` (how the predictions were made).
    """
    out = Path(out)
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return {
        "notes": out.with_name(f"{stem}.notes.jsonl"),
        "run": out.with_name(f"{stem}.run.json"),
    }


def _partial(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def _done_ids(partial: Path) -> set[str]:
    done: set[str] = set()
    if not partial.is_file():
        return done
    good: list[str] = []
    for line in partial.read_text(encoding="utf-8").splitlines():
        try:
            done.add(json.loads(line)["id"])
            good.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            break  # a line cut by a crash: drop it and everything after
    partial.write_text("".join(f"{line}\n" for line in good), encoding="utf-8")
    return done


def run_adapter(
    adapter: Adapter,
    benchmark: str | os.PathLike = "sample",
    out: str | os.PathLike = "predictions.jsonl",
    *,
    setting: str = "all",
    batch_size: int = 32,
    progress: bool = True,
    resume: bool = True,
    options: dict[str, Any] | None = None,
) -> Path:
    """Run ``adapter`` over a benchmark and write its predictions as JSONL.

    Predictions are appended to ``OUT.partial`` batch by batch (flushed), so a crash loses at most
    one batch; with ``resume`` a rerun skips the ids already there. The finished file is moved into
    place atomically, beside it ``PRED.notes.jsonl`` (per-row notes, when an adapter gives any) and
    ``PRED.run.json`` (adapter, options, settings, benchmark revision, timing, ``efficiency``
    (:func:`chatgenbench.predictions.efficiency.run_efficiency`: seconds per sample, device, parameters), and the
    :func:`chatgenbench.core.provenance.provenance` record: versions, time, command).
    """
    from tqdm.auto import tqdm

    from chatgenbench.benchmark.loading import load_benchmark, resolve_source
    from chatgenbench.core.provenance import provenance
    from chatgenbench.core.storage import atomic_write_json
    from chatgenbench.predictions.efficiency import run_efficiency

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sidecars = sidecar_paths(out)
    partial, notes_partial = _partial(out), _partial(sidecars["notes"])
    if not resume:
        partial.unlink(missing_ok=True)
        notes_partial.unlink(missing_ok=True)
    done = _done_ids(partial)
    dataset = load_benchmark(setting, benchmark)
    todo = [i for i, row_id in enumerate(dataset["id"]) if row_id not in done]
    started = time.perf_counter()
    if hasattr(adapter, "prepare"):
        adapter.prepare(benchmark)
    prepare_seconds = time.perf_counter() - started
    started = time.perf_counter()
    bar = tqdm(
        total=len(dataset),
        initial=len(dataset) - len(todo),
        desc=f"baseline {adapter.name}",
        unit="row",
        disable=not progress,
    )
    n_notes = 0
    with (
        open(partial, "a", encoding="utf-8") as handle,
        open(notes_partial, "a", encoding="utf-8") as notes_handle,
    ):
        for start in range(0, len(todo), batch_size):
            batch = dataset.select(todo[start : start + batch_size]).to_list()
            predictions = adapter.predict(batch)
            if len(predictions) != len(batch):
                raise RuntimeError(
                    f"adapter {adapter.name!r} returned {len(predictions)} predictions "
                    f"for {len(batch)} rows"
                )
            for row, prediction in zip(batch, predictions):
                if prediction.get("id") != row["id"]:
                    raise RuntimeError(
                        f"adapter {adapter.name!r} answered id {prediction.get('id')!r} for "
                        f"row {row['id']!r}"
                    )
                notes = prediction.pop(NOTES_KEY, None)
                if notes:
                    notes_handle.write(json.dumps({"id": row["id"], **notes}, ensure_ascii=False))
                    notes_handle.write("\n")
                    n_notes += 1
                handle.write(json.dumps(prediction, ensure_ascii=False) + "\n")
            handle.flush()
            notes_handle.flush()
            bar.update(len(batch))
    bar.close()
    seconds = time.perf_counter() - started
    os.replace(partial, out)
    if notes_partial.stat().st_size or sidecars["notes"].exists():
        os.replace(notes_partial, sidecars["notes"])
    else:
        notes_partial.unlink()
    info = resolve_source(benchmark)
    describe = getattr(adapter, "describe", None)
    settings = describe() if callable(describe) else {}
    atomic_write_json(
        sidecars["run"],
        {
            "adapter": adapter.name,
            "options": options or {},
            "settings": settings,
            "benchmark": {
                "source": info.source,
                "revision": info.revision,
                "synthetic": info.synthetic,
            },
            "setting": setting,
            "n_rows": len(dataset),
            "n_resumed": len(dataset) - len(todo),
            "n_notes_this_run": n_notes,
            "prepare_seconds": round(prepare_seconds, 3),
            "seconds_this_run": round(seconds, 3),
            "rows_per_second_this_run": round(len(todo) / seconds, 3) if seconds > 0 else None,
            "efficiency": run_efficiency(adapter, seconds, len(todo), settings),
            "provenance": provenance(benchmark=info),
        },
    )
    return out
