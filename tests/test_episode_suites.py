"""Episode suites wired into the harness: `environment:` in suite.yaml, load-time errors, each transcript trained
as one sequence on every assistant turn (and only those tokens), and `harness run` end to end on tiny."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.common.errors import HarnessError
from harness.evaluation.checks import first_turn, model_changed
from harness.models.loading import load_text_side, resolve_model_path
from harness.record import EpisodeTurn, Prediction, load_predictions, load_record
from harness.suitedef.suite import load_suite, results_hash, with_fewshot
from harness.tuning.registry import get_backend
from harness.tuning.settings import resolve
from harness.tuning.tune import training_examples
from reports.sheets.build import shown_output

RESTAURANT = Path(__file__).parent / "data" / "episodes" / "restaurant"
METRICS = ["task_success", "calls_valid", "invalid_calls", "turns_used", "answer_facts"]


def restaurant_suite(folder: Path, **spec) -> Path:
    shutil.copytree(RESTAURANT, folder)
    base = {"name": "restaurant", "version": "1", "environment": "environment.yaml",
            "data": {"format": "messages", "test": "tasks.jsonl", "train": "train.jsonl"},
            "generation": {"max_new_tokens": 24}, "metrics": METRICS,
            "gates": [{"metric": "task_success", "significant_gain": True}]}
    (folder / "suite.yaml").write_text(yaml.safe_dump({**base, **spec}), encoding="utf-8")
    return folder


def test_an_episode_suite_loads_its_environment_and_tasks(tmp_path):
    suite = load_suite(restaurant_suite(tmp_path / "rest"))
    assert suite.environment is not None and set(suite.environment.tools) == {"check_menu", "order_food",
                                                                              "book_table"}
    first = suite.test[0]
    assert first.task.id == first.id == "order-noodles"
    assert first.messages == [{"role": "system", "content": suite.environment.system},
                              {"role": "user", "content": "I'd like to order some food."}]
    assert json.loads(first.reference) == first.task.expected and first.tools == suite.environment.schemas()
    assert all(ex.tools == suite.environment.schemas() for ex in suite.train)  # trained with the tools offered
    assert [name for name, (metric, _) in suite.metrics.items() if metric.episodic] == METRICS
    # the environment is part of what the suite is: changing it changes the suite's hash
    env = tmp_path / "rest" / "environment.yaml"
    env.write_text(env.read_text().replace("price: 12", "price: 13"))
    changed = load_suite(tmp_path / "rest")
    assert changed.content_hash != suite.content_hash and results_hash(changed) != results_hash(suite)
    assert with_fewshot(suite, 3) is suite  # --fewshot leaves an episode suite's conversations as they are
    assert changed.sources["environment"] == {"file": "environment.yaml",
                                              "sha256": hashlib.sha256(env.read_bytes()).hexdigest()}


@pytest.mark.parametrize("change, message", [
    ({"environment": "../environment.yaml"}, "must be a path inside the suite folder"),
    ({"environment": "nowhere.yaml"}, "field 'environment': no file 'nowhere.yaml'"),
    ({"metrics": ["task_success", "exact_match"]}, "'exact_match' scores single outputs"),
    ({"template": "{{ x }}"}, "an episode suite (`environment:`) has no `template`"),
    ({"data": {"format": "messages", "file": "train.jsonl"}}, "gives `data.test` (its tasks)"),
])
def test_episode_suite_mistakes_name_the_field(tmp_path, change, message):
    with pytest.raises(HarnessError) as err:
        load_suite(restaurant_suite(tmp_path / "rest", **change))
    assert message in str(err.value)


def test_a_bad_task_or_environment_names_file_and_line(tmp_path):
    folder = restaurant_suite(tmp_path / "rest")
    lines = (folder / "tasks.jsonl").read_text().splitlines()
    lines[1] = lines[1].replace('"expected"', '"expectd"')
    (folder / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(HarnessError, match=r"tasks.jsonl:2"):
        load_suite(folder)
    env = folder / "environment.yaml"
    env.write_text(env.read_text().replace("fail: sold_out", "fail: sold_outt"))
    with pytest.raises(HarnessError, match="environment.yaml"):
        load_suite(folder)


def test_episode_metrics_need_an_environment(tmp_path):
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "test.jsonl").write_text(json.dumps({"prompt": "a", "completion": "b"}) + "\n")
    (folder / "suite.yaml").write_text(yaml.safe_dump({
        "name": "plain", "version": "1", "data": {"format": "prompt-completion", "test": "test.jsonl"},
        "metrics": ["task_success"]}))
    with pytest.raises(HarnessError, match="'task_success' scores whole episodes and needs `environment:`"):
        load_suite(folder)


def counter_suite(folder: Path, turns: list[dict]) -> Path:
    """A short episode suite with one training transcript: tiny reads at most 512 tokens."""
    folder.mkdir()
    (folder / "environment.yaml").write_text(yaml.safe_dump({
        "state": {"n": 0}, "tools": [{"name": "add", "description": "Add to n.",
                                      "parameters": {"type": "object", "properties": {"k": {"type": "integer"}},
                                                     "required": ["k"]},
                                      "effects": [{"increment": "n", "by": {"arg": "k"}}], "result": "ok"}]}))
    (folder / "tasks.jsonl").write_text(json.dumps({"id": "t", "user": {"opening": "add two"},
                                                    "expected": {"n": 2}}) + "\n")
    (folder / "train.jsonl").write_text(json.dumps({"id": "tr", "messages": turns}) + "\n")
    (folder / "suite.yaml").write_text(yaml.safe_dump({
        "name": "counter", "version": "1", "environment": "environment.yaml",
        "data": {"format": "messages", "test": "tasks.jsonl", "train": "train.jsonl"}, "metrics": ["task_success"]}))
    return folder


COUNTER_TURNS = [{"role": "user", "content": "add two"}, {"role": "assistant", "content": "How much exactly?"},
                 {"role": "user", "content": "two"},
                 {"role": "assistant", "content": '{"name": "add", "arguments": {"k": 2}}'},
                 {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "Done: n is two."}]


def test_a_transcript_trains_as_one_sequence_on_every_assistant_turn_and_nothing_else(tmp_path):
    """The transcript is one training example; in the trainer's row the loss falls on exactly the assistant turns'
    tokens (each with its end of turn), each starting where the conversation before it, tokenised on its own with
    the generation prompt, ends; and the loss equals that of one sequence per turn, computed apart."""
    import torch

    suite = load_suite(counter_suite(tmp_path / "counter", COUNTER_TURNS))
    [example] = training_examples([suite])
    assert example.every_turn and example.messages == COUNTER_TURNS[:-1]
    assert example.completion == COUNTER_TURNS[-1]["content"] and example.tools == suite.environment.schemas()
    singles = example.single_turns()
    assert [ex.messages for ex in singles] == [COUNTER_TURNS[:1], COUNTER_TURNS[:3], COUNTER_TURNS[:5]]
    assert [ex.completion for ex in singles] == [m["content"] for m in COUNTER_TURNS if m["role"] == "assistant"]

    model_dir = resolve_model_path("tiny", [suite])
    backend = get_backend("full")()
    backend.setup(model_dir, [example], resolve("full", model_dir, {"full": {"max_steps": 1}}), seed=0)
    model = load_text_side(model_dir)
    tok = model.tokenizer
    [row] = list(backend.trainer.train_dataset)
    ids, labels = row["input_ids"], row["labels"]
    assert tok.decode(ids) == model.render(COUNTER_TURNS, example.tools)[:-len("<|assistant|>")]
    spans, start = [], None
    for i, label in enumerate([*labels, -100]):
        if label != -100 and start is None:
            start = i
        elif label == -100 and start is not None:
            spans.append((start, i))
            start = None
    assert [tok.decode(ids[a:b]) for a, b in spans] == [ex.completion + "<|end|>" for ex in singles]
    for (a, _), ex in zip(spans, singles):  # each turn starts right after its own prompt
        assert ids[:a] == tok(model.render(ex.messages, ex.tools), add_special_tokens=False)["input_ids"]

    # The same loss as one sequence per turn (the trainer's rows of the single-turn examples): a causal model's
    # token losses depend on the tokens before them only.
    per_turn = get_backend("full")()
    per_turn.setup(model_dir, singles, resolve("full", model_dir, {"full": {"max_steps": 1}}), seed=0)
    weights = backend.loaded.model.eval()

    def summed_loss(rows) -> tuple[float, int]:
        total, count = 0.0, 0
        for r in rows:
            logits = weights(torch.tensor([r["input_ids"]])).logits[0, :-1]
            target = torch.tensor(r["labels"][1:])
            kept = target != -100
            total += torch.nn.functional.cross_entropy(logits[kept], target[kept], reduction="sum").item()
            count += int(kept.sum())
        return total, count

    with torch.no_grad():
        whole, whole_n = summed_loss([row])
        apart, apart_n = summed_loss(list(per_turn.trainer.train_dataset))
    assert whole_n == apart_n == sum(b - a for a, b in spans) and whole == pytest.approx(apart, rel=1e-5)


def test_a_template_that_rewrites_earlier_turns_trains_one_sequence_per_turn(tmp_path):
    """Where the template renders a conversation's beginning differently once more follows (here, like templates
    that drop earlier turns' reasoning, it shortens every assistant turn but the last), the transcript cannot be
    one sequence; it trains as one sequence per assistant turn, each trained on that turn alone."""
    from harness.models.training_tokens import chat_rows

    suite = load_suite(counter_suite(tmp_path / "counter", COUNTER_TURNS))
    [example] = training_examples([suite])
    model = load_text_side(resolve_model_path("tiny", [suite]))
    model.tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{% if m['role'] == 'assistant' and not loop.last %}...{% else %}"
        "{{ m['content'] }}{% endif %}<|end|>{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
    rows = chat_rows(model, example.messages, example.completion, example.tools, every_turn=True)
    assert len(rows) == 3
    for (ids, mask), ex in zip(rows, example.single_turns()):
        first = mask.index(1)
        assert all(mask[first:]) and not any(mask[:first])
        assert model.tokenizer.decode(ids[first:]) == ex.completion + "<|end|>"
        assert model.tokenizer.decode(ids[:first]) == model.render(ex.messages, ex.tools)
    # one sequence where the template allows it
    model.tokenizer.chat_template = model.tokenizer.chat_template.replace("and not loop.last", "and false")
    assert len(chat_rows(model, example.messages, example.completion, example.tools, every_turn=True)) == 1


def test_smollm2s_template_trains_a_transcript_as_one_sequence(tmp_path):
    """SmolLM2-135M-Instruct's own template (from its GGUF metadata; the schemas go into a system turn) renders a
    conversation's beginning the same whatever follows, so a transcript is one sequence there too, trained on
    exactly its assistant turns."""
    from harness.models.training_tokens import chat_rows

    suite = load_suite(counter_suite(tmp_path / "counter", COUNTER_TURNS))
    [example] = training_examples([suite])
    model = load_text_side(resolve_model_path("tiny", [suite]))
    model.tokenizer.chat_template = (Path(__file__).parent / "data" / "chat_templates" / "smollm2.jinja").read_text(
        encoding="utf-8")
    [(ids, mask)] = chat_rows(model, example.messages, example.completion, example.tools, every_turn=True)
    trained = model.tokenizer.decode([i for i, m in zip(ids, mask) if m])
    assert model.tool_rendering == "system turn"
    assert trained == "".join(ex.completion + "<|im_end|>\n" for ex in example.single_turns())


def test_single_turn_rows_are_those_trl_makes_of_conversational_pairs(tmp_path):
    """An ordinary example's row (one completion) is token for token what TRL's SFTTrainer makes of the same
    prompt and completion given as a conversational pair with tools, labels included."""
    import datasets
    import trl

    suite = load_suite(counter_suite(tmp_path / "counter", COUNTER_TURNS))
    singles = training_examples([suite])[0].single_turns()
    model_dir = resolve_model_path("tiny", [suite])
    ours = get_backend("full")()
    ours.setup(model_dir, singles, resolve("full", model_dir, {"full": {"max_steps": 1}}), seed=0)
    pairs = datasets.Dataset.from_list([{"prompt": ex.messages, "tools": json.dumps(ex.tools),
                                         "completion": [{"role": "assistant", "content": ex.completion}]}
                                        for ex in singles])
    theirs = trl.SFTTrainer(model=ours.loaded.model, train_dataset=pairs, processing_class=ours.loaded.tokenizer,
                            args=trl.SFTConfig(output_dir=str(tmp_path / "trl"), max_length=512, report_to=[],
                                               completion_only_loss=True, use_cpu=True))
    mine = [(r["input_ids"], r["labels"]) for r in ours.trainer.train_dataset]
    assert mine == [(r["input_ids"], r["labels"]) for r in theirs.train_dataset] and len(mine) == 3


def test_harness_run_evaluates_trains_and_gates_an_episode_suite(tmp_path, capsys):
    suite = restaurant_suite(tmp_path / "suites" / "restaurant")
    out = tmp_path / "runs"
    code = main(["run", "--suite", str(suite), "--model", "tiny", "--backend", "lora", "--set", "lora.max_steps=2",
                 "--limit", "4", "--out", str(out)])
    assert code == 0  # a failing gate fails `pytest suites/`, not the run
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    record = load_record(run_dir)
    results = {(r.state, r.metric): r for r in record.results if r.suite == "restaurant"}
    for state in ("base", "lora"):
        for name in METRICS:
            r = results[(state, name)]
            assert r.n >= 1 and r.ci_low <= r.value <= r.ci_high
    (info,) = record.suites
    assert {m.name: m.kind for m in info.metrics} == {"task_success": "passfail", "calls_valid": "mean",
                                                       "invalid_calls": "mean", "turns_used": "mean",
                                                       "answer_facts": "mean"}
    rows = load_predictions(run_dir, "lora", "restaurant")
    assert len(rows) == 4
    for row in rows:
        assert row.transcript[0].role == "system" and row.transcript[1].content == row.prompt
        assert row.episode_end in ("answer", "turn_limit") and row.end_state is not None
        assert sum(t.role == "assistant" for t in row.transcript) == row.scores["turns_used"]
    (gate,) = [g for g in record.gates if g.gate.metric == "task_success"]
    assert gate.state == "lora" and gate.decision in ("pass", "fail") and "task_success" in gate.message
    assert "episode suites not checked" in record.checks.batch_invariance["base"].note
    # the model as trained and as reloaded agree on each sampled task's first turn (not its final answer)
    reload = record.checks.reload_equivalence["lora"]
    assert reload.ok is True and reload.checked >= 1, reload
    page = (run_dir / "report" / "suites" / "restaurant" / "examples-001.html").read_text(encoding="utf-8")
    assert "Transcript (" in page and "End state against the expected one" in page
    assert "I&#39;d like to order some food." in page or "I&#x27;d like to order some food." in page
    # raters judge the whole episode: the sheets show the transcript after the user's opening
    assert main(["sheets", "export", str(run_dir), "--per-suite", "2", "--format", "csv"]) == 0
    text = "".join(p.read_text(encoding="utf-8") for p in (run_dir / "sheets").rglob("*.csv"))
    assert text.count(",assistant: ") >= 4  # each output cell opens with the model's first turn


def test_rating_sheets_show_an_episode_transcript():
    row = Prediction(id="t", state="base", suite="s", prompt="hi", model_input="", reference="{}", output="Done.", scores={},
                     transcript=[EpisodeTurn(role="system", content="sys"), EpisodeTurn(role="user", content="hi"),
                                 EpisodeTurn(role="assistant", content='{"name": "a"}', status="calls"),
                                 EpisodeTurn(role="tool", content="Sold out.", tool="a", status="sold_out"),
                                 EpisodeTurn(role="assistant", content="Done.", status="answer")])
    assert shown_output(row) == 'assistant: {"name": "a"}\n\ntool a (sold_out): Sold out.\n\nassistant: Done.'
    assert shown_output(row.model_copy(update={"transcript": []})) == "Done."


def test_episode_metrics_keep_their_when_and_the_suites_list(tmp_path):
    """A metric left out of the suite's list is not recorded; `when:` limits one to the tasks whose fields match."""
    from harness.evaluation.evaluate import run_episode_suite

    folder = restaurant_suite(tmp_path / "rest", metrics=["task_success", {"name": "turns_used",
                                                                            "when": {"kind": "booking"}}])
    lines = (folder / "tasks.jsonl").read_text().splitlines()
    lines[2] = lines[2][:-1] + ', "fields": {"kind": "booking"}}'
    (folder / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    suite = load_suite(folder)

    class Silent:  # a model that always answers the same words: every episode ends after one turn
        def render(self, messages, tools=None):
            return json.dumps(messages)

        def generate(self, prompts, max_new_tokens, stop=(), batch_size=None, progress=None, again=()):
            return ["Goodbye." for _ in prompts]

    rows = run_episode_suite(Silent(), suite, "base")
    assert [sorted(r.scores) for r in rows] == [["task_success"], ["task_success"], ["task_success", "turns_used"],
                                                ["task_success"]]
    assert rows[2].scores["turns_used"] == 1.0 and rows[2].fields["kind"] == "booking"


def test_a_tuned_episode_that_took_other_turns_counts_as_changed():
    def row(state: str, middle: str) -> Prediction:
        return Prediction(id="t", state=state, suite="s", prompt="hi", model_input="", reference="{}", output="",
                          scores={}, transcript=[EpisodeTurn(role="user", content="hi"),
                                                 EpisodeTurn(role="assistant", content=middle, status="invalid")])
    assert model_changed([row("base", "x")], [row("lora", "y")]) == (1, 1)  # same (empty) final answer
    assert model_changed([row("base", "x")], [row("lora", "x")]) == (0, 1)


def test_the_reload_check_compares_an_episodes_first_turn():
    # the sample of the model as trained generates each task's first turn only, so that is what is compared
    turns = [EpisodeTurn(role="user", content="hi"), EpisodeTurn(role="assistant", content='{"name":"f"}', status="calls"),
             EpisodeTurn(role="tool", content="done", tool="f", status="ok"),
             EpisodeTurn(role="assistant", content="All done.", status="answer")]
    row = Prediction(id="t", state="lora", suite="s", prompt="hi", model_input="", reference="{}", output="All done.",
                     scores={}, transcript=turns)
    assert first_turn(row) == '{"name":"f"}'
    assert first_turn(row.model_copy(update={"transcript": []})) == "All done."  # not an episode: the output


def test_reward_training_refuses_an_episode_suite(tmp_path):
    from harness.tuning.reward import TrainReward

    with pytest.raises(HarnessError, match="'restaurant' is an episode suite: its metrics score whole episodes"):
        TrainReward([load_suite(restaurant_suite(tmp_path / "rest"))])
