"""Function schemas reach every model's prompt: through a chat template that renders `tools`, or written
into a system turn when the template ignores them (SmolLM2-135M-Instruct's); data check and suites validate
say which, and count the schemas in token lengths."""
import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.dataquality.report import data_report, tools_dropped
from harness.dataquality.tokenlengths import token_counts
from harness.models.loading import load_text_side, resolve_model_path
from harness.models.toolprompt import SYSTEM_TURN_HEAD
from harness.suitedef.suite import load_suite
from harness.tuning.contract import TrainExample
from harness.tuning.registry import get_backend
from harness.tuning.settings import resolve

TEMPLATES = Path(__file__).parent / "data" / "chat_templates"
# smollm2.jinja: SmolLM2-135M-Instruct's chat template as its GGUF metadata holds it (`tokenizer.chat_template`)
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
SCHEMA = json.dumps(TOOLS[0], separators=(",", ":"))
ASK = [{"role": "user", "content": "Weather in Oslo?"}]
# renders tools only when the conversation starts with the user: a system message skips its tools branch
USER_FIRST_ONLY = ("{% if tools and messages[0]['role'] == 'user' %}<|system|>{{ tools | tojson }}<|end|>{% endif %}"
                   "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
                   "{% if add_generation_prompt %}<|assistant|>{% endif %}")


@pytest.fixture(scope="module")
def tiny_dir(small_suites) -> str:
    return resolve_model_path("tiny", [load_suite(small_suites / "agent_tools")])


def with_template(tiny_dir: str, folder: Path, template: str) -> str:
    """A model folder with tiny's tokenizer and configuration and another chat template (no weights: the text
    side is all that renders prompts)."""
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(tiny_dir) / name, folder / name)
    (folder / "chat_template.jinja").write_text(template, encoding="utf-8")
    return str(folder)


def smollm2(tiny_dir: str, tmp_path: Path) -> str:
    return with_template(tiny_dir, tmp_path / "smollm2", (TEMPLATES / "smollm2.jinja").read_text(encoding="utf-8"))


def test_tiny_renders_the_schemas_through_its_own_template(tiny_dir):
    model = load_text_side(tiny_dir, "tiny")
    assert model.tool_rendering == "template"
    assert model.render(ASK, TOOLS) == ("<|system|>get_weather(city: string) The weather in a city.<|end|>"
                                        "<|user|>Weather in Oslo?<|end|><|assistant|>")


def test_tinys_signature_lines_mark_optional_arguments_and_enums(tiny_dir):
    tools = [*TOOLS, {"type": "function", "function": {
        "name": "convert", "parameters": {"type": "object", "required": ["value"], "properties": {
            "value": {"type": "number"}, "unit": {"type": "string", "enum": ["c", "f"]}, "note": {}}}}},
        {"name": "ping"}]  # a bare function, as some data sets write them
    head = load_text_side(tiny_dir, "tiny").render(ASK, tools).split("<|end|>")[0]
    assert head == ('<|system|>get_weather(city: string) The weather in a city.\n'
                    'convert(value: number, unit?: "c"|"f", note?: any)\nping()')


def test_smollm2s_template_drops_tools_so_they_go_into_a_system_turn(tiny_dir, tmp_path):
    model = load_text_side(smollm2(tiny_dir, tmp_path), "smollm2")
    tok = model.tokenizer
    # what happened before: apply_chat_template(tools=…) returns the prompt without the schemas
    assert tok.apply_chat_template(ASK, tools=TOOLS, tokenize=False) == tok.apply_chat_template(ASK, tokenize=False)
    assert model.tool_rendering == "system turn"
    assert model.render(ASK, TOOLS) == (f"<|im_start|>system\n{SYSTEM_TURN_HEAD}\n{SCHEMA}<|im_end|>\n"
                                        "<|im_start|>user\nWeather in Oslo?<|im_end|>\n<|im_start|>assistant\n")
    brief = [{"role": "system", "content": "Be brief."}, *ASK]
    assert model.render(brief, TOOLS).startswith(
        f"<|im_start|>system\n{SYSTEM_TURN_HEAD}\n{SCHEMA}\n\nBe brief.<|im_end|>\n<|im_start|>user\n")
    # without tools the prompt is the template's own, default system prompt included
    assert model.render(ASK) == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
                                 "Face<|im_end|>\n<|im_start|>user\nWeather in Oslo?<|im_end|>\n<|im_start|>assistant\n")


def test_a_template_with_a_tools_branch_renders_them_itself(tiny_dir, tmp_path):
    folder = with_template(tiny_dir, tmp_path / "hermes", (TEMPLATES / "tools_branch.jinja").read_text("utf-8"))
    model = load_text_side(folder, "hermes")
    assert model.tool_rendering == "template"
    rendered = model.render(ASK, TOOLS)
    assert f"<tools>{json.dumps(TOOLS[0], ensure_ascii=False)}</tools>" in rendered
    assert SYSTEM_TURN_HEAD not in rendered and rendered.endswith("<|user|>Weather in Oslo?<|end|><|assistant|>")


def tools_suite(folder: Path, system: bool = False) -> Path:
    """A `chat` suite whose examples offer one tool (and, with `system`, open with a system message)."""
    folder.mkdir()
    head = [{"role": "system", "content": "Be brief."}] if system else []
    call = {"role": "assistant", "tool_calls": [{"type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Oslo"}}}]}
    rows = [{"id": f"ex-{i}", "tools": TOOLS, "messages": [*head, {"role": "user", "content": f"Weather in Oslo, {i}?"},
                                                          call]} for i in range(3)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    spec = {"name": folder.name, "version": "1", "data": {"format": "chat", "test": "test.jsonl"},
            "metrics": ["tool_name"]}
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return folder


def test_token_lengths_count_the_schemas_and_data_check_says_how_they_arrive(tiny_dir, tmp_path, capsys):
    model_dir = smollm2(tiny_dir, tmp_path)
    suite = load_suite(tools_suite(tmp_path / "weather"))
    model = load_text_side(model_dir, "smollm2")
    expected = (f"<|im_start|>system\n{SYSTEM_TURN_HEAD}\n{SCHEMA}<|im_end|>\n<|im_start|>user\nWeather in Oslo, 0?"
                "<|im_end|>\n<|im_start|>assistant\n")
    counts = token_counts(model, suite.test)
    assert counts[0].prompt == len(model.tokenizer(expected, add_special_tokens=False)["input_ids"])
    assert counts[0].completion == len(model.tokenizer(suite.test[0].reference + "<|im_end|>\n",
                                                       add_special_tokens=False)["input_ids"])
    data = data_report([suite], "smollm2", model_dir, {}).suites[0]
    assert data.tool_rendering == "system turn" and "tools_dropped" not in [f.kind for f in data.findings]
    assert data.tools_note.startswith("smollm2's chat template ignores `tools`")
    assert main(["data", "check", "--suite", str(suite.path), "--model", model_dir]) == 0
    assert f"  tools: {Path(model_dir)}'s chat template ignores `tools`" in capsys.readouterr().out
    assert main(["suites", "validate", str(suite.path), "--model", model_dir]) == 0
    assert f"tools    weather: {model_dir}'s chat template ignores `tools` (a probe rendered the same with and " \
           "without a schema): the function schemas are written into a system turn" in capsys.readouterr().out


def test_prompts_whose_template_skips_the_tools_are_warned_about(tiny_dir, tmp_path, capsys):
    model_dir = with_template(tiny_dir, tmp_path / "user_first", USER_FIRST_ONLY)
    model = load_text_side(model_dir, "user_first")
    assert model.tool_rendering == "template"  # the probe opens with the user: the branch renders
    with_system = load_suite(tools_suite(tmp_path / "briefed", system=True))
    plain = load_suite(tools_suite(tmp_path / "plain"))
    assert [ex.id for ex in tools_dropped(model, with_system.test)] == ["ex-0", "ex-1", "ex-2"]
    assert tools_dropped(model, plain.test) == []
    data = data_report([with_system, plain], "user_first", model_dir, {})
    (finding,) = data.suites[0].findings
    assert (finding.kind, finding.count, finding.message) == (
        "tools_dropped", 3, "test: 3 prompts render the same with and without their function schemas: the model "
                            "never sees them")
    assert data.suites[1].findings == []
    main(["suites", "validate", str(with_system.path), str(plain.path), "--model", model_dir])
    out = capsys.readouterr().out
    assert "WARNING  briefed: 3 prompts render the same with and without their function schemas" in out
    assert "plain: 3 prompts" not in out


def test_training_sees_the_schemas_as_evaluation_does(tiny_dir, tmp_path):
    """TRL renders the training prompts itself: for a template that ignores tools they carry the system turn too,
    token for token the prompt `Model.render` gives evaluation."""
    folder = tmp_path / "smollm2_weights"
    shutil.copytree(tiny_dir, folder)
    (folder / "chat_template.jinja").write_text((TEMPLATES / "smollm2.jinja").read_text("utf-8"), encoding="utf-8")
    examples = [TrainExample(ASK, '{"name":"get_weather","arguments":{"city":"Oslo"}}', TOOLS),
                TrainExample([{"role": "user", "content": "Hello"}], "Hi")]
    backend = get_backend("full")()
    backend.setup(str(folder), examples, resolve("full", str(folder), {"full": {"max_steps": 1}}), seed=0)
    model = load_text_side(str(folder))
    for row, ex in zip(backend.trainer.train_dataset, examples):
        first = next(i for i, label in enumerate(row["labels"]) if label != -100)  # loss starts after the prompt
        prompt_ids = row["input_ids"][:first]
        assert prompt_ids == model.tokenizer(model.render(ex.messages, ex.tools), add_special_tokens=False)["input_ids"]
    with_tools = model.tokenizer.decode(backend.trainer.train_dataset[0]["input_ids"])
    assert f"{SYSTEM_TURN_HEAD}\n{SCHEMA}" in with_tools
