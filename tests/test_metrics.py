"""Metrics agree with independent computations on the same strings."""
from __future__ import annotations

import pytest
import sacrebleu

from harness.metrics import make_metric
from harness.metrics.sacre import TOKENIZERS
from harness.metrics.sandbox import runner as sandbox
from harness.suitedef.suite import load_suite

from .conftest import SHIPPED

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
    assert bad.value == 0.0 and bad.reason == "extraction (auto): no JSON object in the output"


def test_tool_metrics_separate_name_and_arguments():
    ref = '{"name":"get_weather","arguments":{"city":"Oslo","day":"Monday"}}'
    wrong_args = '{"name":"get_weather","arguments":{"city":"Rome","day":"Monday"}}'
    wrong_tool = '{"arguments":{"day":"Monday","city":"Oslo"},"name":"book_train_ticket"}'
    name, args = make_metric("tool_name", "en", {}), make_metric("tool_arguments", "en", {})
    assert (name.score(wrong_args, ref).value, args.score(wrong_args, ref).value) == (1.0, 0.0)
    assert (name.score(wrong_tool, ref).value, args.score(wrong_tool, ref).value) == (0.0, 1.0)
    assert name.score("not json", ref).reason == "extraction (auto): no JSON object in the output"
    assert name.score("[1, 2]", ref).reason == "output is not a JSON object"
    assert name.score("The list [1, 2]", ref).reason == "extraction (auto): no JSON object in the output"
    assert name.aggregate([], [], [1.0, 0.0, 1.0, 1.0]) == 0.75


def lcs(a: list, b: list) -> int:
    """Longest common subsequence length, by the textbook dynamic programme."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def rouge_l_f1(hyp: list, ref: list) -> float:
    common = lcs(hyp, ref)
    if not common:
        return 0.0
    p, r = common / len(hyp), common / len(ref)
    return 2 * p * r / (p + r)


def test_rouge_l_equals_rouge_score_and_a_hand_lcs():
    from rouge_score import rouge_scorer

    en = make_metric("rouge_l", "en", {})
    pairs = [("the cat sat on the mat", "the cat is on the mat"), ("police said on monday", "on monday police said"),
             ("nothing in common", "entirely different words")]
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    for hyp, ref in pairs:
        assert en.score(hyp, ref).value == pytest.approx(scorer.score(ref, hyp)["rougeL"].fmeasure, abs=1e-6)
        assert en.score(hyp, ref).value == pytest.approx(rouge_l_f1(hyp.split(), ref.split()), abs=1e-6)
    zh = make_metric("rouge_l", "zh", {})
    assert "tokenizer:char" in zh.signature and en.info("rouge_l", {}).kind == "mean"
    # 上海今天下雨 vs 今天上海下大雨: LCS 今天下雨 = 4; p = 4/6, r = 4/7, F1 = 8/13
    assert zh.score("上海今天下雨。", "今天上海下大雨！").value == pytest.approx(8 / 13, abs=1e-6)
    assert scorer.score("今天上海下大雨", "上海今天下雨")["rougeL"].fmeasure == 0  # why zh needs characters


def test_facts_present_counts_folded_mentions():
    m = make_metric("facts_present", "zh", {})
    facts = {"facts": ["A1234", "三月五日", "Shanghai"]}
    assert m.score("您的订单ａ１２３４已于三月五日发货", "", facts).value == pytest.approx(2 / 3)
    assert m.score("您的订单ａ１２３４已于三月五日发货", "", facts).reason == "missing: Shanghai"
    assert m.score("nothing", "", {"facts": []}).value == 1.0
    assert make_metric("facts_present", "en", {"field": "slots"}).reads == ("slots",)


@pytest.mark.parametrize("output, reference, expected", [
    ("The capital of Iran is Tehran.", "Tehran", 1.0),  # a right answer in a sentence
    ("10 hours = 10 * 60 = 600", "600", 1.0),
    ("10 hours is equal to 10 * 60 = 6", "600", 0.0),  # cut off: not the number
    ("There are 6000 of them.", "600", 0.0),  # a whole number, not a part of one
    ("I think it's ＴＥＨＲＡＮ", "tehran", 1.0),  # width and case folded
    ('{"city":" Tehran"}', "Tehran", 1.0),  # lenient: anywhere in the output
    ("Tehrani food", "Tehran", 0.0),
    ("答案是北京。", "北京", 1.0),  # no word boundaries in Chinese
    ("Please  close   the door.", "Please close the door.", 1.0),  # spacing folded
    ("", "4", 0.0),
])
def test_contains_answer_finds_the_reference_as_a_whole_word(output, reference, expected):
    assert make_metric("contains_answer", "en", {}).score(output, reference).value == expected


RIVER = "Write the word 'river' in capital letters. Answer with the word only."


@pytest.mark.parametrize("output, reference, prompt, expected", [
    ('The word "river" is a noun.', "RIVER", RIVER, 0.0),  # test-00120: an echo of the prompt
    ("river", "RIVER", RIVER, 0.0),  # the prompt's own word, not the asked form
    ("RIVER", "RIVER", RIVER, 1.0),
    ("The answer: RIVER.", "RIVER", RIVER, 1.0),  # a form the prompt does not contain
    ("7 or 9", "9", "Which is larger, 7 or 9?", 0.0),  # both candidates repeated
    ("9", "9", "Which is larger, 7 or 9?", 1.0),  # the answer alone
    ("The capital of Iran is Tehran.", "Tehran", "What is the capital of Iran?", 1.0),
])
def test_contains_answer_does_not_credit_an_echo_of_the_prompt(output, reference, prompt, expected):
    s = make_metric("contains_answer", "en", {}).score(output, reference, {"prompt": prompt})
    assert s.value == expected
    if expected == 0.0 and "or" not in output:
        assert "prompt already contains" in s.reason or "not in the output" in s.reason


@pytest.mark.parametrize("output, reference, expected", [
    ("12 - 8 = 4.5 stickers", "4", 0.0),  # wrong arithmetic that contains the digit
    ("He has -4 left", "4", 0.0),
    ("It is 10,000 grams.", "10000", 1.0),  # a grouped number is the same number
    ("10000", "10,000", 1.0),
    ("12 - 8 = 4.", "4", 1.0),  # a full stop ends the number
    ("2.50 dollars", "2.5", 1.0),
    ("model A1234", "1234", 0.0),
    ("答案是4", "4", 1.0),
])
def test_contains_answer_matches_numbers_as_whole_numbers(output, reference, expected):
    assert make_metric("contains_answer", "en", {}).score(output, reference).value == expected


def test_evaluation_gives_contains_answer_the_prompt():
    from harness.metrics.match import ContainsAnswer

    assert ContainsAnswer.reads_prompt and not make_metric("exact_match", "en", {}).reads_prompt


@pytest.mark.skipif(not sandbox.available(), reason="no code sandbox: install the `bubblewrap` package")
def test_pass_at_1_runs_hidden_tests_in_the_sandbox():
    m = make_metric("pass_at_1", "en", {})
    tests = {"tests": "assert add(2, 3) == 5\nassert add(-1, 1) == 0"}
    table = [("def add(a, b):\n    return a + b", 1.0), ("```python\ndef add(a, b):\n    return a + b\n```", 1.0),
             ("def add(a, b):\n    return a - b", 0.0), ("def add(a, b) return a + b", 0.0), ("no code at all", 0.0)]
    for output, expected in table:
        assert m.score(output, "", tests).value == expected, output
    assert "assert add(2, 3) == 5" in m.score("def add(a, b):\n    return a - b", "", tests).reason


def test_format_checks_title_length_and_script():
    m = make_metric("format", "zh", {"min_chars": 10, "max_chars": 60, "script": "zh"})
    good = "上海举办人工智能大会\n三月五日，上海举办了人工智能大会。多家机构参加了会议。"
    assert m.score(good, "").value == 1.0
    assert "title" in m.score("上海举办了人工智能大会。多家机构参加了会议。", "").reason
    assert "characters" in m.score("标题\n太短了。", "").reason
    assert "script" in m.score("Title\nThis body is written entirely in English words.", "").reason


def test_bleu_checks_its_tokenizer_against_sacrebleus_list_when_a_suite_loads():
    assert sorted(TOKENIZERS) == sorted(sacrebleu.metrics.BLEU.TOKENIZERS)
    with pytest.raises(ValueError, match="bleu: tokenize must be one of none, zh, 13a"):
        make_metric("bleu", "en", {"tokenize": "13b"})


def test_a_loaded_suite_is_signed_when_a_run_records_it():
    suite = load_suite(SHIPPED / "translate_en_zh")
    assert all(info.signature is None for _, info in suite.metrics.values())  # loading signs nothing
    signed = {info.name: info.signature for info in suite.metric_infos()}
    # sacrebleu's own signature for the same metric, made independently of the harness
    bleu = sacrebleu.metrics.BLEU(tokenize="zh")
    bleu.corpus_score(["x"], [["x"]])
    assert signed["bleu"] == str(bleu.get_signature())
