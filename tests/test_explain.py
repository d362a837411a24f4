"""Explanations: teacher-forced log-probabilities and top tokens against a direct forward pass per token,
divergence positions, the attention view, and what a run stores beside its predictions."""
from __future__ import annotations

import pytest
import torch

from harness.evaluation.explanations import chosen, judge
from harness.models.explain import Item, divergence, explain
from harness.models.loading import load_model, resolve_model_path
from harness.record import BASE, change_letter, load_explanations, load_predictions, load_record
from harness.suitedef.suite import load_suite


@pytest.fixture(scope="module")
def tiny(small_suites):
    suites = [load_suite(small_suites / "agent_tools"), load_suite(small_suites / "translate_en_zh")]
    return load_model(resolve_model_path("tiny", suites)), suites


def direct(model, prompt: str, reference: str):
    """Per reference token: log-probability and the full next-token distribution, each from its own forward
    pass over the prompt and the reference tokens before it (no batching, no padding)."""
    tok = model.tokenizer
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    target = tok(prompt + reference + tok.eos_token, add_special_tokens=False)["input_ids"][len(prompt_ids):]
    out = []
    for i, t in enumerate(target):
        with torch.no_grad():
            logits = model.model(input_ids=torch.tensor([prompt_ids + target[:i]])).logits[0, -1]
        dist = torch.log_softmax(logits.double(), dim=-1)
        out.append((float(dist[t]), dist))
    return target, out


def test_log_probabilities_and_top_tokens_match_a_direct_forward_pass(tiny):
    model, suites = tiny
    examples = suites[0].test[:3] + suites[1].test[:2]
    items = []
    for n, ex in enumerate(examples):
        wrong = ex.reference[: len(ex.reference) // 2] + "Oslo" if n % 2 else ""
        items.append(Item(id=ex.id, prompt=model.render(ex.messages), reference=ex.reference, output=wrong))
    explained = explain(model, items, "base", "s", batch_size=2)  # batches of unequal lengths: padding
    for item, e in zip(items, explained):
        target, steps = direct(model, item.prompt, item.reference)
        assert e.tokens == [model.tokenizer.decode([t]) for t in target]
        assert e.logprobs == pytest.approx([lp for lp, _ in steps], abs=2e-3)
        assert e.divergence is not None and e.top
        for top in e.top:
            probs, ids = torch.topk(steps[top.position][1].exp(), 5)
            assert top.tokens == [model.tokenizer.decode([int(i)]) for i in ids]
            assert top.probs == pytest.approx([float(p) for p in probs], abs=2e-4)


def test_divergence_positions():
    eos = 0
    assert divergence([5, 6, 7, eos], [5, 6, 7], eos) == (None, None)
    assert divergence([5, 6, 7, eos], [5, 9, 7], eos) == (1, 9)
    assert divergence([5, 6, 7, eos], [5, 6], eos) == (2, None)  # stopped early
    assert divergence([5, 6, 7, eos], [5, 6, 7, 8], eos) == (3, 8)  # went on past the end
    assert divergence([5, eos], [], eos) == (0, None)


def test_attention_view_is_eager_for_one_pass_only(tiny):
    model, suites = tiny
    ex = suites[0].test[0]
    before = model.model.config._attn_implementation
    (e,) = explain(model, [Item(id=ex.id, prompt=model.render(ex.messages), reference=ex.reference,
                                output=ex.reference, attention=True)], "base", "s")
    assert model.model.config._attn_implementation == before
    a = e.attention
    assert a is not None and a.rows == e.tokens[:len(a.rows)] and 0 < len(a.rows) <= 24
    assert len(a.columns) <= 48 and all(len(row) == len(a.columns) for row in a.weights)
    assert all(0 < sum(row) <= 1000 + len(row) for row in a.weights)  # each row is a share of one


def test_a_run_explains_flipped_examples_in_every_state(small_run):
    record = load_record(small_run)
    info = record.explanations
    assert info is not None and set(info.counts) == {"base", "full", "lora"}
    assert all(s >= 0 for s in info.seconds.values()) and BASE in info.seconds
    for suite in record.suites:
        base_rows = load_predictions(small_run, BASE, suite.name)
        union = set()
        for state in ("full", "lora"):
            rows = load_predictions(small_run, state, suite.name)
            metric = suite.metric(suite.passfail_metric) if suite.passfail_metric else suite.metrics[0]
            base = {r.id: r for r in base_rows}
            flipped = {r.id for r in rows if change_letter(base[r.id], r, metric) in "IR"}
            ids = {e.id for e in load_explanations(small_run, state, suite.name)}
            assert flipped <= ids and len(ids) <= len(flipped) + 20
            union |= ids
        base_explained = load_explanations(small_run, BASE, suite.name)
        assert {e.id for e in base_explained} == union and len(union) == info.counts[BASE][suite.name]
        chosen_one = info.attention[suite.name]
        assert chosen_one in union and any(e.attention for e in base_explained if e.id == chosen_one)


def test_flipped_examples_are_chosen_first_then_a_seeded_sample(tiny, small_suites):
    from harness.record import Prediction

    _, suites = tiny
    suite = suites[0]
    metric = judge(suite)
    assert metric is not None and metric.name == "exact_match"

    def row(i, state, passed):
        return Prediction(id=f"test-{i:05d}", state=state, suite=suite.name, prompt="", model_input="", reference="",
                          output="", scores={"exact_match": float(passed)})

    base = [row(i, BASE, False) for i in range(400)]
    tuned = [row(i, "lora", i % 2 == 0) for i in range(400)]
    ids, flipped = chosen(suite, base, tuned, seed=0)
    assert len(flipped) == 200 and flipped == [f"test-{i:05d}" for i in range(0, 400, 2)][:200]
    assert set(flipped) <= set(ids) and len(ids) <= 220
    assert chosen(suite, base, tuned, seed=0) == (ids, flipped) and chosen(suite, base, tuned, seed=1)[0] != ids


def test_a_tokenizer_that_closes_every_text_keeps_the_reference_whole(tmp_path):
    """ByT5's tokenizer appends </s> to every text: the reference must still start at its first byte, and a
    causal LM without a chat template (GPT-2) gives attentions once switched to eager attention."""
    from transformers import ByT5Tokenizer, GPT2Config, GPT2LMHeadModel

    tok = ByT5Tokenizer()
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=256,
                               eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model = load_model(str(tmp_path))
    (e,) = explain(model, [Item(id="1", prompt="hello ", reference="abc", output="abd", attention=True)], "base", "s")
    assert e.tokens == ["a", "b", "c", "</s>"]
    assert (e.divergence, e.generated) == (2, "d")
    assert e.attention is not None and e.attention.rows == ["a", "b", "d"] and e.attention.columns[-1] == " "
    assert model.model.config._attn_implementation == "sdpa"
