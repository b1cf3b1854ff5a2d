from __future__ import annotations

import pytest

from chatgenbench.adapters import ADAPTERS, Adapter
from chatgenbench.metrics import METRICS
from chatgenbench.registry import Registry, UnknownNameError


def test_lazy_entries_and_metadata():
    registry = Registry("thing")
    registry.register("path", "os.path:join", kind="function")
    import os

    assert registry.get("path") is os.path.join
    assert registry.metadata("path") == {"kind": "function"}
    with pytest.raises(ValueError, match="already registered"):
        registry.register("path", len)


def test_unregister_removes_an_entry_and_frees_its_name():
    registry = Registry("thing")
    registry.register("answer", 42, kind="number")
    entry = registry.unregister("answer")
    assert entry.target == 42 and entry.metadata == {"kind": "number"}
    assert "answer" not in registry and registry.names() == []
    with pytest.raises(UnknownNameError, match="Unknown thing 'answer'"):
        registry.unregister("answer")
    registry.register("answer", 43)
    assert registry.get("answer") == 43


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UnknownNameError) as caught:
        ADAPTERS.get("no-finetun")
    assert "Did you mean: no-finetune?" in str(caught.value)


def test_metric_directions_are_declared():
    assert METRICS.metadata("fid")["higher_is_better"] is False
    assert METRICS.metadata("selection_accuracy")["higher_is_better"] is True


def test_no_finetune_adapter_follows_the_contract(sample_rows):
    adapter = ADAPTERS.get("no-finetune")()
    assert isinstance(adapter, Adapter)
    predictions = adapter.predict(sample_rows[:2])
    assert [p["id"] for p in predictions] == ["sample-0001", "sample-0002"]
    assert predictions[0]["prompt"] == sample_rows[0]["freestyle_input"]
    history_row = {
        "id": "h",
        "history": [
            {"role": "user", "content": "A possum."},
            {"role": "user", "content": "Holding fruit"},
        ],
    }
    assert adapter.predict([history_row])[0]["prompt"] == "A possum. Holding fruit"
