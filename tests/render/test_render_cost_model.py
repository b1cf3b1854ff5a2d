"""The render cost model and the schedule simulation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chatgenbench.render.cost_model import (
    CostModel,
    GroupCost,
    lower_bound,
    price_groups,
    simulate,
)


def test_default_figures_are_the_documented_ones():
    model = CostModel()
    cold = model.checkpoint_load_s("sd15", 2_132_856_622, cold=True)
    warm = model.checkpoint_load_s("sd15", 2_132_856_622, cold=False)
    assert 5.0 <= cold <= 10.0 and 1.5 <= warm <= 2.5  # about 2 s warm, 5 to 10 s cold
    assert model.checkpoint_load_s("sdxl", 6_938_078_334, cold=True) > cold  # SDXL: more
    assert model.lora_load_s == 1.5
    # 25 steps of SD 1.5 at 512x512: about half a second per image, less per image in a batch
    one = model.batch_s("sd15", 512, 512, 25, 1)
    assert 0.3 < one < 0.8
    assert model.batch_s("sd15", 512, 512, 25, 8) / 8 < one
    assert model.batch_s("sd15", 768, 768, 25, 1) > one
    assert "not measured" in model.source


def test_overrides_merge_and_unknown_fields_are_refused():
    model = CostModel.from_overrides({"load_fixed_s": {"sd15": 0.5}, "lora_load_s": 0.9})
    assert model.load_fixed_s == {"sd15": 0.5, "sdxl": CostModel().load_fixed_s["sdxl"]}
    assert model.lora_load_s == 0.9
    with pytest.raises(ValueError, match="unknown cost field 'lora_s'"):
        CostModel.from_overrides({"lora_s": 1})


def _groups() -> list[GroupCost]:
    sizes = [2_000_000_000, 2_000_000_000, 7_000_000_000, 2_000_000_000]
    return [
        GroupCost("base", "sd15", sizes[0], True, 3.0, 6),
        GroupCost("base", "sd15", sizes[0], True, 1.0, 2),
        GroupCost("xl", "sdxl", sizes[2], False, 10.0, 4),
        GroupCost("c1", "sd15", sizes[3], False, 0.5, 1),
        GroupCost("c2", "sd15", sizes[3], False, 0.5, 1),
    ]


def test_one_gpu_makespan_is_the_work_done_in_order():
    model = CostModel.from_overrides({"startup_s": {"local": 0.0}, "dispatch_s": {"local": 0.0}})
    groups = _groups()
    result = simulate(groups, model, 1, "local")
    expected = sum(g.render_s for g in groups) + 2 * model.lora_load_s
    expected += model.checkpoint_load_s("sd15", groups[0].size_bytes, True)  # base once (LRU)
    expected += model.checkpoint_load_s("sdxl", groups[2].size_bytes, True)
    expected += 2 * model.checkpoint_load_s("sd15", groups[3].size_bytes, True)
    assert result["makespan_s"] == pytest.approx(expected, abs=0.1)
    assert result["checkpoint_loads"] == 4
    # one GPU and every checkpoint loaded once: the schedule meets the bound
    assert result["over_bound"] == pytest.approx(1.0, abs=1e-3)


def test_schedules_never_beat_the_lower_bound_and_local_stays_on_one_machine():
    model = CostModel()
    groups = _groups() * 20
    for gpus in (1, 2, 4, 8):
        bound = lower_bound(groups, model, gpus)["bound_s"]
        shard_of = [i % gpus for i in range(len(groups))]
        for schedule in ("local", "shard", "ray"):
            result = simulate(groups, model, gpus, schedule, shard_of=shard_of)
            assert result["makespan_s"] >= bound - 0.1
    beyond = simulate(groups, model, 16, "local")
    assert beyond["applicable"] is False and "gpus_per_machine" in beyond["reason"]
    assert simulate(groups, model, 16, "ray")["machines"] == 2
    with pytest.raises(ValueError, match="shard_of"):
        simulate(groups, model, 2, "shard")


def test_a_second_load_on_the_same_machine_is_warm():
    model = CostModel.from_overrides({"startup_s": {"ray": 0.0}, "dispatch_s": {"ray": 0.0}})
    groups = [GroupCost("a", "sd15", 2_000_000_000, False, 1.0, 1)] * 2
    # capacity 1 on two workers of one machine: the second worker reads the file from the cache
    two = simulate(groups, model, 2, "ray", capacity=1)
    assert two["checkpoint_loads"] == 2
    cold = model.checkpoint_load_s("sd15", 2_000_000_000, True)
    warm = model.checkpoint_load_s("sd15", 2_000_000_000, False)
    assert two["busiest_worker_s"] == pytest.approx(1.0 + cold, abs=0.1)
    assert two["idlest_worker_s"] == pytest.approx(1.0 + warm, abs=0.1)


def test_groups_are_priced_by_shape_and_batch():
    model = CostModel()

    def request(width, steps, key):
        arguments = SimpleNamespace(width=width, height=width, steps=steps)
        checkpoint = SimpleNamespace(identity="sha256:x", size_bytes=10)
        return SimpleNamespace(batch_key=key, arguments=arguments, checkpoint=checkpoint,
                               lora=None, architecture="sd15")  # fmt: skip

    group = [request(512, 25, "a")] * 5 + [request(768, 30, "b")]
    (priced,) = price_groups([group], model, batch_size=4)
    expected = (
        model.batch_s("sd15", 512, 512, 25, 4)
        + model.batch_s("sd15", 512, 512, 25, 1)
        + model.batch_s("sd15", 768, 768, 30, 1)
    )
    assert priced.render_s == pytest.approx(expected)
    assert priced.images == 6 and not priced.lora and priced.size_bytes == 10


def test_shards_by_cost_balance_predicted_seconds():
    from chatgenbench.render.cost_model import shards_by_cost

    model = CostModel()
    groups = _groups() * 7
    shards = shards_by_cost(groups, model, 3)
    assert shards == shards_by_cost(groups, model, 3) and set(shards) == {0, 1, 2}

    def cost(g):
        load = model.lora_load_s if g.lora else model.checkpoint_load_s(g.architecture,
                                                                        g.size_bytes, True)  # fmt: skip
        return g.render_s + load

    totals = [sum(cost(g) for g, s in zip(groups, shards) if s == i) for i in range(3)]
    assert max(totals) - min(totals) <= max(cost(g) for g in groups)
