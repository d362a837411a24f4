"""Metrics agree with independent computations on the same strings."""
from __future__ import annotations

import sacrebleu

from harness.metrics import make_metric

HYPS = ["我喜欢茶。", "你好，世界！", "他们明天想买苹果。", "我不喝咖啡"]
REFS = ["我喜欢茶。", "你好，世界！", "他们今天想买鸡蛋。", "我不喜欢咖啡。"]


def test_bleu_equals_sacrebleu_with_zh_tokenizer():
    bleu = make_metric("bleu", "zh", {})
    expected = sacrebleu.corpus_bleu(HYPS, [REFS], tokenize="zh").score
    assert bleu.aggregate(HYPS, REFS, []) == round(expected, 4)
    assert 0 < expected < 100
    assert "tok:zh" in bleu.signature


def test_bleu_tokenizer_follows_language_and_option():
    en = ["the cat sat on the mat", "a dog"]
    refs = ["the cat sat on a mat", "a dog barked"]
    assert make_metric("bleu", "en", {}).aggregate(en, refs, []) == round(sacrebleu.corpus_bleu(en, [refs]).score, 4)
    assert "tok:char" in make_metric("bleu", "en", {"tokenize": "char"}).signature


def test_chrf_equals_sacrebleu():
    assert make_metric("chrf", "zh", {}).aggregate(HYPS, REFS, []) == round(sacrebleu.corpus_chrf(HYPS, [REFS]).score, 4)
    assert make_metric("chrf", "zh", {}).score("你好", "你好").value == 100.0


def test_exact_match_text_and_json():
    text = make_metric("exact_match", "en", {})
    assert text.score(" 4 ", "4").value == 1.0 and text.score("5", "4").value == 0.0
    js = make_metric("exact_match", "en", {"parse": "json"})
    assert js.score('{"b": 1, "a": [2]}', '{"a":[2],"b":1}').value == 1.0
    assert js.score('{"a": 1}', '{"a": 2}') .value == 0.0
    bad = js.score('{"a": ', '{"a": 2}')
    assert bad.value == 0.0 and "not valid JSON" in bad.reason


def test_tool_metrics_separate_name_and_arguments():
    ref = '{"name":"get_weather","arguments":{"city":"Oslo","day":"Monday"}}'
    wrong_args = '{"name":"get_weather","arguments":{"city":"Rome","day":"Monday"}}'
    wrong_tool = '{"arguments":{"day":"Monday","city":"Oslo"},"name":"book_train_ticket"}'
    name, args = make_metric("tool_name", "en", {}), make_metric("tool_arguments", "en", {})
    assert (name.score(wrong_args, ref).value, args.score(wrong_args, ref).value) == (1.0, 0.0)
    assert (name.score(wrong_tool, ref).value, args.score(wrong_tool, ref).value) == (0.0, 1.0)
    assert name.score("not json", ref).reason == "output is not a JSON object"
    assert name.aggregate([], [], [1.0, 0.0, 1.0, 1.0]) == 0.75
