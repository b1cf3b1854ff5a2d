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


def _bare_model(**overrides) -> CostModel:
    return CostModel.from_overrides(
        {"startup_s": {"local": 0.0}, "dispatch_s": {"local": 0.0}, **overrides}
    )


def test_a_check_is_priced_by_its_digest_the_file_size_and_the_read_bandwidth():
    size = 4_000_000_000
    sha = _bare_model(check_digest="sha256", cold_read_mb_s=4000.0)
    b3 = _bare_model(check_digest="blake3", cold_read_mb_s=4000.0)
    assert sha.check_s(size, cold=True) == pytest.approx(size / 1e6 / 1500.0)
    assert b3.check_s(size, cold=True) == pytest.approx(size / 1e6 / 4000.0)  # the disk's pace
    slow_disk = _bare_model(check_digest="blake3", cold_read_mb_s=200.0)
    assert slow_disk.check_s(size, cold=True) == pytest.approx(size / 1e6 / 200.0)


def test_a_first_run_pays_each_files_check_once_per_machine_before_its_load():
    model = _bare_model()
    groups = _groups()
    warm = simulate(groups, model, 1, "local")
    first = simulate(groups, model, 1, "local", run="first")
    checks = sum(model.check_s(g.size_bytes, True) for g in (groups[0], groups[2], groups[3]))
    checks += model.check_s(groups[4].size_bytes, True)
    assert first["files_checked"] == 4 and warm["files_checked"] == 0
    assert first["makespan_s"] == pytest.approx(warm["makespan_s"] + checks, abs=0.2)
    with pytest.raises(ValueError, match="unknown run 'cold'"):
        simulate(groups, model, 1, "local", run="cold")


def test_read_ahead_hides_a_load_behind_the_previous_groups_render_within_its_budget():
    size = 2_000_000_000
    long_render = [GroupCost(f"c{i}", "sd15", size, False, 60.0, 40) for i in range(4)]
    model = _bare_model()
    before = simulate(long_render, model, 1, "local", run="first")
    after = simulate(long_render, model, 1, "local", run="first", overlap=True)
    # only the first load cannot be hidden: each later file is read and checked in 60 s
    assert after["loads_not_hidden"] == 1 and before["loads_not_hidden"] == 4
    warm_load = model.checkpoint_load_s("sd15", size, False)
    cold_pass = max(size / 1e6 / model.cold_read_mb_s, model.check_s(size, True))
    expected = 4 * 60.0 + 4 * warm_load + (cold_pass - size / 1e6 / model.warm_read_mb_s)
    assert after["makespan_s"] == pytest.approx(expected, abs=0.2)
    assert after["makespan_s"] < before["makespan_s"]
    assert after["over_bound"] >= 1.0  # never better than its own lower bound
    # no budget: nothing is read ahead, and a load costs what a cold load costs
    none = simulate(long_render, _bare_model(readahead_bytes=0), 1, "local", overlap=True)
    assert none["loads_not_hidden"] == 4
    assert none["makespan_s"] == pytest.approx(
        simulate(long_render, model, 1, "local")["makespan_s"], abs=0.2
    )


def test_without_read_ahead_a_check_runs_beside_its_load_and_render_only():
    size = 2_000_000_000
    groups = [GroupCost(f"c{i}", "sd15", size, False, 1.0, 2) for i in range(3)]
    model = _bare_model(check_digest="sha256", check_mb_s={"sha256": 100.0})  # a slow check
    cold = model.checkpoint_load_s("sd15", size, True)
    check = model.check_s(size, True)
    assert check > cold + 1.0
    beside = simulate(groups, model, 1, "local", run="first", overlap=True, read_ahead=False)
    assert beside["makespan_s"] == pytest.approx(3 * check, abs=0.2)  # the check sets the pace
    assert beside["loads_not_hidden"] == 3
    serial = simulate(groups, model, 1, "local", run="first")
    assert serial["makespan_s"] == pytest.approx(3 * (check + cold + 1.0), abs=0.2)
