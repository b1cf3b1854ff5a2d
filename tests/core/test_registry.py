from __future__ import annotations

import pytest

from baselines.registry import BASELINES
from chatgenbench.core.registry import Registry, UnknownNameError
from chatgenbench.metrics import METRICS
from chatgenbench.predictions.adapters import Adapter


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
        BASELINES.get("no-finetun")
    assert "Did you mean: no-finetune?" in str(caught.value)


def test_metric_directions_are_declared():
    assert METRICS.metadata("fid")["higher_is_better"] is False
    assert METRICS.metadata("selection_accuracy")["higher_is_better"] is True


def test_no_finetune_adapter_follows_the_contract(sample_rows):
    adapter = BASELINES.get("no-finetune")()
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


def _plugin_distribution(root, group: str, entries: dict[str, str], name: str = "cgb-plugin"):
    """Write an installed distribution's metadata (a ``dist-info`` folder) under ``root``."""
    info = root / f"{name.replace('-', '_')}-0.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")


def test_a_registry_finds_the_entry_points_of_installed_packages(tmp_path, monkeypatch):
    import sys
    import warnings

    from chatgenbench.core.registry import plugin_entry_points

    (tmp_path / "cgb_plugin_mod.py").write_text("def answer():\n    return 42\n")
    _plugin_distribution(
        tmp_path, "chatgenbench.test_group", {"answer": "cgb_plugin_mod:answer", "taken": "x:y"}
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert [ep.name for ep in plugin_entry_points("chatgenbench.test_group")] == ["answer", "taken"]

    reg = Registry("thing", plugin_group="chatgenbench.test_group")
    reg.register("taken", 7)
    assert "cgb_plugin_mod" not in sys.modules
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reg.names() == ["answer", "taken"]
    assert any("already registered" in str(w.message) for w in caught)
    assert reg.get("taken") == 7  # a plugin never replaces a registered entry
    assert reg.metadata("answer") == {"plugin": "cgb-plugin 0.3"}
    assert "cgb_plugin_mod" not in sys.modules  # found, not imported until used
    assert reg.get("answer")() == 42
    sys.modules.pop("cgb_plugin_mod", None)
