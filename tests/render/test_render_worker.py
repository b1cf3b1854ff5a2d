from __future__ import annotations

from chatgenbench.render.worker import WorkerStats, truncation_changes


def test_stats_since_a_snapshot_count_only_what_came_after():
    stats = WorkerStats(checkpoint_loads=1, load_seconds=0.5, images=4, batches=1)
    before = stats.snapshot()
    stats.add(WorkerStats(checkpoint_loads=2, lora_loads=1, render_seconds=1.25, images=3))
    assert before == WorkerStats(checkpoint_loads=1, load_seconds=0.5, images=4, batches=1)
    assert stats.since(before) == WorkerStats(
        checkpoint_loads=2, lora_loads=1, render_seconds=1.25, images=3
    )
    assert stats.since(stats.snapshot()) == WorkerStats()


def test_truncation_is_recorded_only_past_the_encoder_limit():
    sidecar = {"tokens": {"prompt": 90, "negative_prompt": 77, "limit": 77}}
    assert truncation_changes(sidecar) == {
        "prompt": {"given": "90 tokens", "used": "77 tokens", "change": "truncated"}
    }
    assert truncation_changes({}) == {}
