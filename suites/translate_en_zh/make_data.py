"""Generate the translate_en_zh suite: short English sentences and their Simplified Chinese translations.

Writes train.jsonl (600 examples) and test.jsonl (120 examples) next to this script, in the
"prompt-completion" format (prompt: English, completion: Chinese).

Sentences come from a small hand-written bilingual grammar: subjects, verbs, objects and time
words, combined in seven sentence patterns (statement, negation, yes/no question, habit, plan,
and the question and negation of a plan), plus fixed phrases and greetings addressed to a name.
Chinese uses full-width punctuation (。！？，) throughout.

The test split is compositional. Every sentence in it is new, and
  * about half of its sentences use a verb-object pair that never occurs in training
    ("drink juice", "eat dumplings", ...), though both words do, with other partners;
  * the rest are new combinations of subject, pattern, time word and a seen verb-object pair;
  * a few are greetings to a name that training greets only with other greetings.
Every lexical item, and every Chinese character, in the test split also occurs in training.

Run: python suites/translate_en_zh/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240612
HERE = Path(__file__).resolve().parent
N_TRAIN, N_TEST = 600, 120

# English, Chinese; "3sg" marks subjects that take "likes", "does", ...
SUBJECTS = [("I", "我"), ("you", "你"), ("he", "他"), ("she", "她"), ("we", "我们"), ("they", "他们"),
            ("my friend", "我的朋友"), ("my mother", "我妈妈"), ("my father", "我爸爸"),
            ("the teacher", "老师"), ("Tom", "汤姆"), ("Mary", "玛丽")]
THIRD_SINGULAR = {"he", "she", "my friend", "my mother", "my father", "the teacher", "Tom", "Mary"}
QUESTION_SUBJECTS = {"you", "he", "she", "they", "the teacher", "Tom", "Mary"}

# Objects by kind; a verb takes the kinds listed in VERBS.
OBJECTS = {
    "food": [("apples", "苹果"), ("bananas", "香蕉"), ("bread", "面包"), ("fish", "鱼"),
             ("eggs", "鸡蛋"), ("dumplings", "饺子")],
    "meal": [("rice", "米饭"), ("noodles", "面条")],  # cooked: eaten, not bought
    "drink": [("tea", "茶"), ("coffee", "咖啡"), ("water", "水"), ("milk", "牛奶"), ("juice", "果汁")],
    "thing": [("books", "书"), ("flowers", "花"), ("shoes", "鞋")],
    "animal": [("cats", "猫"), ("dogs", "狗")],
}
# English base form, third person singular, Chinese, Chinese negation prefix, object kinds,
# and whether it combines with "want to" and habits ("every day").
VERBS = [
    ("like", "likes", "喜欢", "不", ("food", "meal", "drink", "thing", "animal"), False),
    ("want", "wants", "想要", "不", ("food", "meal", "drink", "thing"), False),
    ("eat", "eats", "吃", "不", ("food", "meal"), True),
    ("drink", "drinks", "喝", "不", ("drink",), True),
    ("buy", "buys", "买", "不", ("food", "drink", "thing"), True),
    ("have", "has", "有", "没", ("food", "drink", "thing", "animal"), False),
]
HABIT_TIMES = [("every day", "每天"), ("every morning", "每天早上"), ("every evening", "每天晚上"),
               ("on weekends", "周末")]
PLAN_TIMES = [("today", "今天"), ("tomorrow", "明天"), ("tonight", "今晚")]

# Verb-object pairs that occur only in the test split (each word occurs in training otherwise).
TEST_PAIRS = {("drink", "juice"), ("eat", "dumplings"), ("buy", "flowers"), ("like", "cats"),
              ("have", "books"), ("want", "milk"), ("eat", "eggs")}

NAMES = [("Tom", "汤姆"), ("Mary", "玛丽"), ("Anna", "安娜"), ("Jack", "杰克"), ("Lily", "莉莉"), ("David", "大卫")]
GREETINGS = [("Hello", "你好"), ("Goodbye", "再见"), ("Thank you", "谢谢"), ("Good morning", "早上好"),
             ("Good night", "晚安")]
TEST_GREETINGS = {("Goodbye", "Lily"), ("Thank you", "David"), ("Good morning", "Anna"),
                  ("Good night", "Tom"), ("Hello", "Jack"), ("Thank you", "Mary")}
FIXED = [
    ("Hello, world!", "你好，世界！"), ("Hello!", "你好！"), ("Good morning!", "早上好！"),
    ("Good afternoon!", "下午好！"), ("Good evening!", "晚上好！"), ("Good night!", "晚安！"),
    ("Goodbye!", "再见！"), ("See you tomorrow!", "明天见！"), ("See you later!", "待会儿见！"),
    ("Thank you!", "谢谢！"), ("Thank you very much.", "非常感谢。"), ("You're welcome.", "不客气。"),
    ("How are you?", "你好吗？"), ("I'm fine, thank you.", "我很好，谢谢。"),
    ("Nice to meet you.", "很高兴认识你。"), ("I'm sorry.", "对不起。"), ("No problem.", "没问题。"),
    ("I don't know.", "我不知道。"), ("Happy birthday!", "生日快乐！"), ("Happy New Year!", "新年快乐！"),
    ("Welcome!", "欢迎！"), ("Good luck!", "祝你好运！"), ("What is your name?", "你叫什么名字？"),
    ("My name is Tom.", "我叫汤姆。"), ("Where is the bathroom?", "洗手间在哪里？"),
    ("I love you.", "我爱你。"), ("Let's go!", "我们走吧！"), ("Wait a moment.", "等一下。"),
    ("Please sit down.", "请坐。"), ("Be careful!", "小心！"), ("I'm hungry.", "我饿了。"),
    ("I'm tired.", "我累了。"), ("It's very hot today.", "今天很热。"), ("It's cold today.", "今天很冷。"),
    ("How much is this?", "这个多少钱？"), ("Cheers!", "干杯！"),
]
# Share of each pattern among the compositional sentences of a split.
PATTERN_WEIGHTS = {"statement": 20, "negation": 18, "question": 18, "habit": 15, "plan": 15,
                   "plan_question": 7, "plan_negation": 7}


def sentence_case(text: str) -> str:
    return text[0].upper() + text[1:]


def patterns(subject: tuple, verb: tuple, obj: tuple):
    """(pattern, English, Chinese, extra lexical items) for every sentence about one subject, verb, object."""
    s_en, s_zh = subject
    base, third_form, v_zh, neg, _, combines = verb
    o_en, o_zh = obj
    third = s_en in THIRD_SINGULAR
    verb_en, do, want = (third_form, "does", "wants") if third else (base, "do", "want")
    asks = s_en in QUESTION_SUBJECTS
    yield "statement", f"{s_en} {verb_en} {o_en}.", f"{s_zh}{v_zh}{o_zh}。", []
    yield "negation", f"{s_en} {do}n't {base} {o_en}.", f"{s_zh}{neg}{v_zh}{o_zh}。", [neg]
    if asks:
        yield "question", f"{do} {s_en} {base} {o_en}?", f"{s_zh}{v_zh}{o_zh}吗？", ["吗"]
    if not combines:
        return
    for t_en, t_zh in HABIT_TIMES:
        yield "habit", f"{s_en} {verb_en} {o_en} {t_en}.", f"{s_zh}{t_zh}{v_zh}{o_zh}。", [t_zh]
    for t_en, t_zh in PLAN_TIMES:
        yield "plan", f"{s_en} {want} to {base} {o_en} {t_en}.", f"{s_zh}{t_zh}想{v_zh}{o_zh}。", [t_zh, "想"]
    yield "plan_negation", f"{s_en} {do}n't want to {base} {o_en}.", f"{s_zh}不想{v_zh}{o_zh}。", ["不", "想"]
    if asks:
        yield "plan_question", f"{do} {s_en} want to {base} {o_en}?", f"{s_zh}想{v_zh}{o_zh}吗？", ["想", "吗"]


def compositional() -> list[dict]:
    """Every sentence the grammar makes, each with its pattern, lexical items and verb-object pair."""
    out = []
    for subject in SUBJECTS:
        for verb in VERBS:
            for obj in (o for kind in verb[4] for o in OBJECTS[kind]):
                items = [subject[1], verb[2], obj[1]]
                for pattern, en, zh, extra in patterns(subject, verb, obj):
                    out.append({"pattern": pattern, "en": sentence_case(en), "zh": zh,
                                "items": items + extra, "pair": (verb[0], obj[0])})
    return sorted(out, key=lambda r: (r["pattern"], r["en"]))


def quotas(total: int) -> dict[str, int]:
    """Split `total` across patterns by PATTERN_WEIGHTS (largest remainder, ties by name)."""
    weight_sum = sum(PATTERN_WEIGHTS.values())
    exact = {p: total * w / weight_sum for p, w in PATTERN_WEIGHTS.items()}
    counts = {p: int(x) for p, x in exact.items()}
    for p in sorted(exact, key=lambda p: (counts[p] - exact[p], p))[: total - sum(counts.values())]:
        counts[p] += 1
    return counts


def take(pool: list[dict], total: int, rng: random.Random) -> list[dict]:
    """`total` sentences from `pool`, spread over patterns by PATTERN_WEIGHTS."""
    chosen = []
    for pattern, count in quotas(total).items():
        candidates = [r for r in pool if r["pattern"] == pattern]
        chosen += rng.sample(candidates, count)
    return chosen


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    greetings = [{"en": f"{g_en}, {n_en}!", "zh": f"{g_zh}，{n_zh}！", "items": [g_zh, n_zh],
                  "held_out": (g_en, n_en) in TEST_GREETINGS}
                 for g_en, g_zh in GREETINGS for n_en, n_zh in NAMES]
    fixed = [{"en": en, "zh": zh, "items": [zh]} for en, zh in FIXED]
    sentences = compositional()
    held_out = [r for r in sentences if r["pair"] in TEST_PAIRS]
    seen = [r for r in sentences if r["pair"] not in TEST_PAIRS]

    test = [g for g in greetings if g["held_out"]]
    n_held_out = (N_TEST - len(test)) * 56 // 100
    test += take(held_out, n_held_out, rng)
    test += take(seen, N_TEST - len(test), rng)

    test_en = {r["en"] for r in test}
    train = fixed + [g for g in greetings if not g["held_out"]]
    train += take([r for r in seen if r["en"] not in test_en], N_TRAIN - len(train), rng)
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def check(train: list[dict], test: list[dict]) -> None:
    assert (len(train), len(test)) == (N_TRAIN, N_TEST)
    assert any(r["en"] == "Hello, world!" and r["zh"] == "你好，世界！" for r in train), "seed example not in train"
    for key in ("en", "zh"):
        values = [r[key] for r in train + test]
        assert len(set(values)) == len(values), f"duplicate {key} text within or across splits"
    train_items = {i for r in train for i in r["items"]}
    missing = {i for r in test for i in r["items"]} - train_items
    assert not missing, f"test words never seen in train: {sorted(missing)}"
    train_chars = set("".join(r["zh"] for r in train))
    assert set("".join(r["zh"] for r in test)) <= train_chars, "test characters never seen in train"
    assert not any(r.get("pair") in TEST_PAIRS for r in train), "a test-only verb-object pair is in train"
    for r in train + test:
        assert r["en"][0].isupper() and r["en"][-1] in ".!?", r["en"]
        assert r["zh"][-1] in "。！？" and not any(c in r["zh"] for c in ",.!?"), r["zh"]


def write(path: Path, split: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            f.write(json.dumps({"id": f"{split}-{i:05d}", "prompt": r["en"], "completion": r["zh"]},
                               ensure_ascii=False) + "\n")


def main() -> None:
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    n_pairs = sum(r.get("pair") in TEST_PAIRS for r in test)
    n_greet = sum(bool(r.get("held_out")) for r in test)
    print(f"translate_en_zh: {len(train)} train, {len(test)} test "
          f"({n_pairs} with test-only verb-object pairs, {n_greet} test-only greetings)")


if __name__ == "__main__":
    main()
