"""Tuned states: sweep and training-seed expansion, their names, and where those names are used."""
from __future__ import annotations

import pytest

from harness.common.errors import HarnessError
from harness.evaluation.gates import gate_states
from harness.record import GateSpec, predictions_path
from harness.record.strategies import (
    aliases,
    backend_of,
    expand,
    parse_sweeps,
    parse_train_seeds,
    point_overrides,
    strategy_of,
)
from reports.site import unique_slugs


def test_a_two_by_two_sweep_names_every_combination_in_the_order_given():
    sweeps = parse_sweeps(["lora.r=4,8", "lora.learning_rate=1e-4,3e-4"])
    tunings = expand(["full", "lora"], sweeps, None, run_seed=5)
    assert [t.state for t in tunings] == [
        "full", "lora[r=4,learning_rate=1e-4]", "lora[r=4,learning_rate=3e-4]", "lora[r=8,learning_rate=1e-4]",
        "lora[r=8,learning_rate=3e-4]"]
    assert {t.train_seed for t in tunings} == {5} and tunings[2].point == {"r": "4", "learning_rate": "3e-4"}
    assert all(t.strategy == t.state and t.backend in ("full", "lora") for t in tunings)
    # swept values are read like --set values and validated by the backend's settings
    overrides = point_overrides({"lora": {"epochs": 1}}, tunings[2])
    assert overrides["lora"] == {"epochs": 1, "r": 4, "learning_rate": "3e-4"}
    from backends.lora import LoraSettings

    assert LoraSettings(**overrides["lora"]).learning_rate == pytest.approx(3e-4)


def test_training_seeds_multiply_every_strategy():
    tunings = expand(["lora", "ia3"], parse_sweeps(["lora.r=4,8"]), parse_train_seeds("0,1,2"), run_seed=0)
    assert [t.state for t in tunings][:4] == ["lora[r=4]@seed0", "lora[r=4]@seed1", "lora[r=4]@seed2", "lora[r=8]@seed0"]
    assert [t.state for t in tunings][-3:] == ["ia3@seed0", "ia3@seed1", "ia3@seed2"]
    assert [t.train_seed for t in tunings[:3]] == [0, 1, 2] and {t.strategy for t in tunings[:3]} == {"lora[r=4]"}
    assert strategy_of("lora[r=8]@seed2") == "lora[r=8]" and backend_of("lora[r=8]@seed2") == "lora"
    assert strategy_of("ia3") == "ia3" and aliases("ia3@seed1") == {"ia3@seed1", "ia3"}


@pytest.mark.parametrize("args, message", [
    (["lora.r"], "expected BACKEND.FIELD=V1,V2"),
    (["r=4,8"], "expected BACKEND.FIELD=V1,V2"),
    (["lora.r=4,4"], "listed twice"),
    (["lora.r=4", "lora.r=8"], "swept twice"),
    (["lora.target_modules=q_proj/x"], "cannot name a state"),
    (["lora.r=4,"], "cannot name a state"),
    (["lora.r=[4]"], "cannot name a state"),
    (["lora.r=../../x"], "cannot name a state"),
])
def test_bad_sweeps_are_one_line(args, message):
    with pytest.raises(HarnessError, match=message) as e:
        parse_sweeps(args)
    assert str(e.value).startswith("--sweep:") and "\n" not in str(e.value)


def test_sweeps_and_seeds_are_checked_against_the_run():
    with pytest.raises(HarnessError, match="does not tune"):
        expand(["full"], parse_sweeps(["lora.r=4,8"]), None, 0)
    with pytest.raises(HarnessError, match="both set and swept"):
        expand(["lora"], parse_sweeps(["lora.r=4,8"]), None, 0, {"lora": {"r": 16}})
    with pytest.raises(HarnessError, match="at most 64"):
        expand(["lora"], parse_sweeps(["lora.r=1,2,3,4,5,6,7,8,9", "lora.alpha=1,2,3,4,5,6,7,8"]), None, 0)
    for bad in ("0,0", "-1", "a,b", "1,,2"):
        with pytest.raises(HarnessError, match="--train-seeds"):
            parse_train_seeds(bad)


def test_state_names_are_safe_as_paths_slugs_and_test_ids(tmp_path):
    names = [t.state for t in expand(["lora"], parse_sweeps(["lora.r=4,8", "lora.learning_rate=1e-4,3.5e+2"]),
                                     [0, 1], 0)]
    for name in names:
        path = predictions_path(tmp_path, name, "agent_tools")
        assert path.parent.parent == tmp_path / "predictions" and path.parent.name == name  # one folder, inside
        path.parent.mkdir(parents=True)
        path.write_text("{}\n")
        assert "/" not in name and "\\" not in name and "::" not in name and " " not in name and "#" not in name
    assert len(set(unique_slugs(names))) == len(names)
    assert all(slug.replace("_", "").replace("-", "").isalnum() for slug in unique_slugs(names))


def test_gates_name_a_backend_a_strategy_or_a_state():
    states = ["full", "lora[r=4]@seed0", "lora[r=4]@seed1", "lora[r=8]@seed0", "lora[r=8]@seed1"]
    every = GateSpec(metric="exact_match", min=0.5)
    by_backend = GateSpec(metric="exact_match", min=0.5, states=["lora"])
    by_strategy = GateSpec(metric="exact_match", min=0.5, states=["lora[r=8]"])
    by_state = GateSpec(metric="exact_match", min=0.5, states=["lora[r=4]@seed1", "full"])
    assert gate_states(every, states) == states
    assert gate_states(by_backend, states) == states[1:]
    assert gate_states(by_strategy, states) == ["lora[r=8]@seed0", "lora[r=8]@seed1"]
    assert gate_states(by_state, states) == ["full", "lora[r=4]@seed1"]
