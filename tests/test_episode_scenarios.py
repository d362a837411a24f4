"""The episode suites (order food, book tickets, queries; English and Chinese): they load with the engine, the
scripted policy solves every test task and one that skips the required call solves none, the training
transcripts replay exactly through the environment, the generator is deterministic, and the longest training
transcript fits `tiny`'s 512 positions with the tool schemas in the prompt."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from harness.episodes import episode_results, episode_rows, run_episodes
from harness.suitedef.episodes import load_environment, load_tasks, task_from
from harness.suitedef.suite import load_suite

from .conftest import ROOT

STAGING = ROOT / "episode_suites"
SUITES = [f"{s}_{lang}" for s in ("order_food", "book_tickets", "queries") for lang in ("en", "zh")]
FILES = ("environment.yaml", "tasks.jsonl", "train.jsonl", "suite.yaml", "README.md")


def _load_generator():
    """episode_suites/generate.py as a module (it is a script, beside its sibling modules)."""
    spec = importlib.util.spec_from_file_location("episode_suites_generate", STAGING / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


GENERATOR = _load_generator()
home = GENERATOR.home  # suites/ for the shipped ones, episode_suites/ for the staged


@pytest.fixture(scope="module")
def generator():
    return GENERATOR


def loaded(name: str):
    env = load_environment(home(name) / "environment.yaml")
    return env, load_tasks(home(name) / "tasks.jsonl", env)


def train_rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (home(name) / "train.jsonl").read_text(encoding="utf-8").splitlines()]


def plans(generator, name: str, split: str) -> dict[str, list[str]]:
    """The scripted policy's turns per task id, as the generator draws them."""
    scenario_name, lang = name.rsplit("_", 1)
    test, train = generator.splits(generator.SCENARIOS[scenario_name], lang)
    return {c.row["id"]: c.plan for c in (test if split == "test" else train)}


def following(turns_by_opening: dict[str, list[str]]):
    """A stub model: its n-th turn in an episode is the n-th turn of the plan for the episode's opening."""
    def turns(histories: list[list[dict]]) -> list[str]:
        out = []
        for history in histories:
            plan = turns_by_opening[next(m["content"] for m in history if m["role"] == "user")]
            out.append(plan[sum(m["role"] == "assistant" for m in history)])
        return out
    return turns


@pytest.mark.parametrize("name", SUITES)
def test_every_suite_loads_with_the_engine_and_mixes_its_variants(name):
    env, tasks = loaded(name)
    assert len(tasks) == 48 and len({t.id for t in tasks}) == 48
    variants = Counter(t.fields["variant"] for t in tasks)
    assert len(variants) == 4 and set(variants.values()) == {12}
    assert {t.fields["language"] for t in tasks} == {name[-2:]}
    declared = yaml.safe_load((home(name) / "suite.yaml").read_text(encoding="utf-8"))
    assert declared["name"] == name and declared["environment"] == "environment.yaml"
    assert declared["data"] == {"format": "messages", "train": "train.jsonl", "test": "tasks.jsonl"}
    suite = load_suite(home(name))  # and the harness reads it as an episode suite
    assert suite.environment is not None and len(suite.test) == 48 and len(suite.train) == 240
    assert all((home(name) / f).is_file() for f in FILES)
    assert bool(declared.get("gates")) == (name in GENERATOR.SHIPPED) == (home(name).parent.name == "suites")
    assert len(train_rows(name)) == 240


@pytest.mark.parametrize("name", SUITES)
def test_the_scripted_policy_succeeds_on_every_test_task(generator, name):
    env, tasks = loaded(name)
    by_id = plans(generator, name, "test")
    stub = following({t.user.opening: by_id[t.id] for t in tasks})
    rows = episode_rows(name, "policy", run_episodes(stub, env, tasks), str)
    failed = {r.id: r.reasons for r in rows if r.scores["task_success"] != 1.0 or r.scores["answer_facts"] != 1.0}
    assert not failed
    assert all(r.scores["calls_valid"] == 1.0 and r.scores["invalid_calls"] == 0.0 and r.episode_end == "answer"
               for r in rows)
    assert [r.scores["turns_used"] for r in rows] == [float(len(by_id[r.id])) for r in rows]
    results = {r.metric: r.value for r in episode_results(name, "policy", rows)}
    assert results["task_success"] == 1.0 and results["calls_valid"] == 1.0
    # Every failure the suite is built around is met on the way (and handled).
    statuses = Counter(t.status for r in rows for t in r.transcript if t.role == "tool")
    expected_failure = {"order_food": "sold_out", "book_tickets": "no_seats", "queries": "no_order"}[name[:-3]]
    assert statuses[expected_failure] == 12 and set(statuses) == {"ok", expected_failure}


@pytest.mark.parametrize("name", SUITES)
def test_a_policy_that_skips_the_required_call_fails_every_task(generator, name):
    env, tasks = loaded(name)
    required = generator.SCENARIOS[name[:-3]].commits
    by_id = plans(generator, name, "test")
    skipping = {t.user.opening: [turn for turn in by_id[t.id] if not any(f'"name":"{tool}"' in turn
                                                                         for tool in required)] for t in tasks}
    assert all(len(skipping[t.user.opening]) < len(by_id[t.id]) for t in tasks)  # each skipped something
    rows = episode_rows(name, "skip", run_episodes(following(skipping), env, tasks), str)
    assert [r.scores["task_success"] for r in rows] == [0.0] * len(tasks)
    assert all(r.reasons["task_success"] for r in rows)


def test_end_states_and_totals_agree_with_a_hand_computation():
    """Independently of the engine's arithmetic: totals are price × count, read from the declarations."""
    env, tasks = loaded("order_food_en")
    for t in tasks:
        item, = t.expected["order"]["items"]
        price = t.state["menu"][item["dish"]]["price"]
        assert t.answer_facts == (item["dish"], str(price * item["quantity"]))
        sold_out = [d for d, v in t.state["menu"].items() if v["stock"] == 0]
        if t.fields["variant"] == "sold_out":
            assert len(sold_out) == 1 and sold_out[0] != item["dish"] and sold_out[0] in t.user.opening
        else:
            assert sold_out == [] and item["dish"] in t.user.opening
    env, tasks = loaded("book_tickets_zh")
    for t in tasks:
        booking, = t.expected["bookings"]
        train = t.state["trains"][booking["train"]]
        assert t.answer_facts == (booking["train"], str(train["price"] * booking["seats"]))
        assert t.expected["trains"][booking["train"]]["seats"] == train["seats"] - booking["seats"]
    # One hand-worked case: test-008 of order_food_zh orders 9 x 面条 (sold out) and takes 饺子 at 9 yuan.
    env, tasks = loaded("order_food_zh")
    case = next(t for t in tasks if t.id == "test-008")
    assert case.state["menu"]["面条"]["stock"] == 0 and case.answer_facts == ("饺子", "81")


@pytest.mark.parametrize("name", SUITES)
def test_training_transcripts_replay_exactly_through_the_environment(generator, name):
    env, _ = loaded(name)
    scenario_name, lang = name.rsplit("_", 1)
    scenario = generator.SCENARIOS[scenario_name]
    _, train = generator.splits(scenario, lang)
    rows = train_rows(name)
    assert [r["id"] for r in rows] == [c.row["id"] for c in train]
    tasks = [task_from(generator.task_line(c.row), env, f"train:{c.row['id']}") for c in train]
    # The model's turns are taken from the committed transcripts themselves, not from the policy.
    said = {r["messages"][0]["content"]: [m["content"] for m in r["messages"] if m["role"] == "assistant"]
            for r in rows}
    episodes = run_episodes(following(said), env, tasks)
    assert [e.messages() for e in episodes] == [r["messages"] for r in rows]
    scored = episode_rows(name, "train", episodes, str)
    assert all(r.scores["task_success"] == 1.0 and r.scores["calls_valid"] == 1.0 for r in scored)


@pytest.mark.parametrize("name", SUITES)
def test_no_test_task_opens_like_a_training_one(name):
    _, tasks = loaded(name)
    rows = train_rows(name)
    assert all(r["messages"][0]["role"] == "user" for r in rows)  # no system turn: the schemas say it all
    train_openings = [r["messages"][0]["content"] for r in rows]
    assert len(set(train_openings)) == len(train_openings)
    assert not {t.user.opening for t in tasks} & set(train_openings)


def test_the_generator_is_deterministic_and_the_committed_files_are_its_output(generator, tmp_path):
    assert generator.main([str(tmp_path)]) == 0

    def digest(place) -> dict[str, str]:
        # a shipped suite's README holds the demo's numbers, written there after generation
        def text(path: Path) -> str:
            return path.read_text(encoding="utf-8").replace(generator.demo_numbers(path), "")
        return {f"{n}/{f}": hashlib.sha256(text(place(n) / f).encode()).hexdigest() for n in SUITES for f in FILES}

    assert digest(lambda n: tmp_path / n) == digest(home)


def test_the_data_report_finds_nothing_to_warn_about():
    """No duplicates, near duplicates or conflicts in either split of any suite: with every value drawn from a small
    set, two wordings of one task would be near duplicates, and the generator draws none."""
    from harness.dataquality.report import split_findings

    for name in SUITES:
        suite = load_suite(home(name))
        assert not split_findings(suite, "test", suite.test) and not split_findings(suite, "train", suite.train)


def test_the_longest_training_transcript_fits_tinys_positions():
    """With the schemas rendered into the prompt, as generation and training see it. `tiny`'s tokenizer is
    trained on the training text of the suites it is built for: here the shipped suites and these transcripts."""
    from types import SimpleNamespace

    import transformers

    from harness.models.tiny import ARCHITECTURE, tiny_model_dir
    from harness.suitedef.suite import find_suites, load_suite

    shipped = [load_suite(p) for p in find_suites([ROOT / "suites"])]
    episodes = [SimpleNamespace(train=[SimpleNamespace(messages=r["messages"], reference="") for r in train_rows(n)])
                for n in SUITES]
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model_dir([*shipped, *episodes]))
    limit = ARCHITECTURE["max_position_embeddings"]
    for name in SUITES:
        env, _ = loaded(name)
        max_new = yaml.safe_load((home(name) / "suite.yaml").read_text(encoding="utf-8"))["generation"][
            "max_new_tokens"]
        rows = train_rows(name)
        lengths = [len(tokenizer(tokenizer.apply_chat_template(r["messages"], tools=env.schemas(), tokenize=False),
                                 add_special_tokens=False)["input_ids"]) for r in rows]
        assert max(lengths) <= limit, (name, max(lengths))
        turns = [m["content"] for r in rows for m in r["messages"] if m["role"] == "assistant"]
        assert max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in turns) < max_new


@pytest.mark.parametrize("name, trace", [
    ("order_food_en", [("place_order", {"address": "1 Elm Street"}, "empty", "The order is empty."),
                       ("add_to_order", {"dish": "pizza", "quantity": 1}, "not_on_menu", "pizza is not on the menu."),
                       ("add_to_order", {"dish": "rice", "quantity": 0}, "bad_count", "The quantity must be 1 to 9."),
                       ("add_to_order", {"dish": "rice", "quantity": "2"}, "invalid", None),
                       ("add_to_order", {"dish": "rice", "quantity": 2}, "ok", "Added 2 x rice; total 10 yuan."),
                       ("add_to_order", {"dish": "soup", "quantity": 1}, "ok", "Added 1 x soup; total 18 yuan."),
                       ("place_order", {"address": "1 Elm Street"}, "ok", "Order placed to 1 Elm Street; total 18 yuan."),
                       ("place_order", {"address": "2 Oak Road"}, "placed", "The order is already placed.")]),
    ("book_tickets_zh", [("search_trains", {"from": "北京", "to": "上海", "date": "12-01"}, "no_trains",
                          "12-01没有从北京到上海的车次。"),
                         ("book_ticket", {"train": "G1", "seats": 10}, "bad_count", "座位数须为1到9。"),
                         ("book_ticket", {"train": "G1", "seats": 1}, "no_train", "没有G1这个车次。"),
                         ("book_ticket", {"train": "G1"}, "invalid", None)]),
    ("queries_en", [("order_status", {"order_id": "A1"}, "no_order", "No order A1 found."),
                    ("train_info", {"train": "G1"}, "no_train", "There is no train G1.")]),
])
def test_the_declared_failures_the_policy_never_meets_answer_as_declared(name, trace):
    """Hand-written traces on each environment's own initial state: every refusal changes nothing; the sums are
    worked by hand (rice 5 x 2 = 10, then soup 8 → 18)."""
    from harness.episodes import Environment

    env, _ = loaded(name)
    place = Environment(env, env.state)
    for tool, arguments, status, message in trace:
        before = json.dumps(place.state, sort_keys=True)
        got = place.call(tool, arguments)
        assert got.status == status and (message is None or got.message == message), (tool, arguments, got)
        if status != "ok":
            assert json.dumps(place.state, sort_keys=True) == before
    if name == "order_food_en":
        assert place.state["order"] == {"items": [{"dish": "rice", "quantity": 2}, {"dish": "soup", "quantity": 1}],
                                        "total": 18, "placed": True, "address": "1 Elm Street"}
        assert place.state["menu"]["rice"]["stock"] == 18 and place.state["menu"]["soup"]["stock"] == 19


def test_the_data_report_does_not_ask_an_end_state_for_chinese_characters():
    # a task's reference is the expected end state as JSON: no script to check (the transcripts' answers are)
    from harness.dataquality.report import split_findings

    suite = load_suite(home("queries_zh"))
    assert not [f for f in split_findings(suite, "test", suite.test) if f.kind == "wrong_script"]
    english = [replace(ex, reference="Order A1234 is shipped.") for ex in suite.train[:2]]
    (finding,) = [f for f in split_findings(suite, "train", english) if f.kind == "wrong_script"]
    assert "2 references contain no CJK character" in finding.message
