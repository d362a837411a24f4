"""Generate the translate_en_zh suite: short English sentences and their Simplified Chinese translations.

Writes train.jsonl (600 examples) and test.jsonl (240 examples) next to this script, in the
"prompt-completion" format (prompt: English, completion: Chinese). Test lines carry "split":
"compositional" (the first 120) or "held_out_pattern" (the last 120).

Sentences come from a small hand-written bilingual grammar: subjects, verbs, objects and time
words, combined in seven sentence patterns (statement, negation, yes/no question, habit, plan,
and the question and negation of a plan), plus fixed phrases and greetings addressed to a name.
Chinese uses full-width punctuation (。！？，) throughout.

The test split has two parts. The compositional part: every sentence in it is new, and
  * about half of its sentences use a verb-object pair that never occurs in training
    ("drink juice", "eat dumplings", ...), though both words do, with other partners;
  * the rest are new combinations of subject, pattern, time word and a seen verb-object pair;
  * a few are greetings to a name that training greets only with other greetings.
Every lexical item, and every Chinese character, in this part also occurs in training.

The held-out-pattern part uses four grammar patterns that training never shows, 30 sentences
each, built only from subjects, verbs, objects and adjectives that training does show:
  * comparatives:          Tom is hungrier than Mary.            汤姆比玛丽饿。
  * past tense with 了/没:  She bought flowers today.             她今天买了花。
  * because ... so ...:    Because I am tired, I drink coffee.   因为我累了，所以我喝咖啡。
  * numbers with measure words: Tom has three cats.              汤姆有三只猫。
Their grammatical words (比, 了 after a verb, 因为, 所以, numbers, measure words; "than", past
forms, "because") are what is new. This part is drawn with its own seed after the rest, so the
training split and the compositional part are the same as before it was added.

Run: python suites/translate_en_zh/make_data.py
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20240612
HELD_OUT_PATTERN_SEED = 20240620
HERE = Path(__file__).resolve().parent
N_TRAIN, N_TEST = 600, 120
N_PER_HELD_OUT_PATTERN = 30

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
    """`text` with its first letter in upper case."""
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
    """The training split and the compositional test part, each shuffled."""
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
    """Assert sizes, uniqueness and the compositional design of the test part."""
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


# Held-out patterns. Subjects: English, Chinese, form of "to be", pronoun (English, Chinese).
BE = {"I": "am", "you": "are", "we": "are", "they": "are"}
PRONOUNS = {"I": ("I", "我"), "you": ("you", "你"), "he": ("he", "他"), "she": ("she", "她"), "we": ("we", "我们"),
            "they": ("they", "他们"), "my mother": ("she", "她"), "my father": ("he", "他"), "Tom": ("he", "他"),
            "Mary": ("she", "她")}
# Adjectives training shows (I'm hungry. 我饿了。 / I'm tired. 我累了。): English, comparative, Chinese.
ADJECTIVES = [("hungry", "hungrier", "饿"), ("tired", "more tired", "累")]
# Past forms of the verbs that combine with time words, and what each adjective makes one do.
PAST = {"eat": "ate", "drink": "drank", "buy": "bought"}
BECAUSE = {"hungry": [("eat", o) for kind in ("food", "meal") for o in OBJECTS[kind]],
           "tired": [("drink", o) for o in OBJECTS["drink"] if o[0] in ("tea", "coffee")]}
NUMBERS = [("two", "两"), ("three", "三"), ("four", "四"), ("five", "五")]
MEASURE_WORDS = {"apples": "个", "eggs": "个", "bananas": "根", "fish": "条", "books": "本", "flowers": "朵",
                 "cats": "只", "dogs": "只"}
COUNTING_VERBS = ["have", "buy", "want"]
# Words of the held-out patterns that training must never show.
HELD_OUT_ENGLISH = [" than ", "Because ", "didn't", " ate ", " drank ", " bought ", " two ", " three ", " four ",
                    " five "]
HELD_OUT_CHINESE = ["比", "因为", "所以", "两", "三", "四", "五", "根", "本", "朵", "只"]


def verb_by_name(name: str) -> tuple:
    """The VERBS entry of an English base form."""
    return next(v for v in VERBS if v[0] == name)


def comparatives() -> list[dict]:
    """X is hungrier / more tired than Y, for every subject X and every noun (not pronoun) subject Y."""
    others = [s for s in SUBJECTS if s[0] in THIRD_SINGULAR - {"he", "she"}]
    out = []
    for a_en, a_zh in SUBJECTS:
        for b_en, b_zh in others:
            if a_en == b_en:
                continue
            for adj, comparative, adj_zh in ADJECTIVES:
                en = f"{a_en} {BE.get(a_en, 'is')} {comparative} than {b_en}."
                out.append({"pattern": "comparative", "en": sentence_case(en), "zh": f"{a_zh}比{b_zh}{adj_zh}。",
                            "items": [a_zh, b_zh, adj_zh], "words": [a_en, b_en, adj]})
    return out


def past_tense() -> list[dict]:
    """S ate/drank/bought O [today]. S 今天吃了O。 and its negation S didn't eat O. S 没吃O。"""
    out = []
    for s_en, s_zh in SUBJECTS:
        for base, past in PAST.items():
            verb = verb_by_name(base)
            for o_en, o_zh in (o for kind in verb[4] for o in OBJECTS[kind]):
                for t_en, t_zh in (("", ""), (" today", "今天")):
                    items, words = [s_zh, verb[2], o_zh] + ([t_zh] if t_zh else []), [s_en, base, o_en]
                    out.append({"pattern": "past", "en": sentence_case(f"{s_en} {past} {o_en}{t_en}."),
                                "zh": f"{s_zh}{t_zh}{verb[2]}了{o_zh}。", "items": items, "words": words})
                    out.append({"pattern": "past", "en": sentence_case(f"{s_en} didn't {base} {o_en}{t_en}."),
                                "zh": f"{s_zh}{t_zh}没{verb[2]}{o_zh}。", "items": items + ["没"], "words": words})
    return out


def because() -> list[dict]:
    """Because S is hungry/tired, S' eats/drinks O. 因为S饿了/累了，所以S'吃/喝O。"""
    out = []
    for s_en, s_zh in SUBJECTS:
        if s_en not in PRONOUNS:
            continue
        p_en, p_zh = PRONOUNS[s_en]
        for adj, _, adj_zh in ADJECTIVES:
            for base, (o_en, o_zh) in BECAUSE[adj]:
                verb = verb_by_name(base)
                verb_en = verb[1] if p_en in ("he", "she") else base
                en = f"Because {s_en} {BE.get(s_en, 'is')} {adj}, {p_en} {verb_en} {o_en}."
                out.append({"pattern": "because", "en": en, "zh": f"因为{s_zh}{adj_zh}了，所以{p_zh}{verb[2]}{o_zh}。",
                            "items": [s_zh, p_zh, adj_zh, verb[2], o_zh], "words": [s_en, p_en, adj, base, o_en]})
    return out


def measure_words() -> list[dict]:
    """S has/buys/wants N O. S有/买/想要N+measure word+O。"""
    out = []
    for s_en, s_zh in SUBJECTS:
        for base in COUNTING_VERBS:
            base, third_form, v_zh = verb_by_name(base)[:3]
            verb_en = third_form if s_en in THIRD_SINGULAR else base
            for o_en, o_zh in (o for kind in verb_by_name(base)[4] for o in OBJECTS[kind] if o[0] in MEASURE_WORDS):
                for n_en, n_zh in NUMBERS:
                    out.append({"pattern": "measure_word", "en": sentence_case(f"{s_en} {verb_en} {n_en} {o_en}."),
                                "zh": f"{s_zh}{v_zh}{n_zh}{MEASURE_WORDS[o_en]}{o_zh}。",
                                "items": [s_zh, v_zh, o_zh], "words": [s_en, base, o_en]})
    return out


def held_out_patterns(rng: random.Random) -> list[dict]:
    """N_PER_HELD_OUT_PATTERN sentences of each held-out pattern, shuffled together."""
    chosen = []
    for make in (comparatives, past_tense, because, measure_words):
        chosen += rng.sample(sorted(make(), key=lambda r: r["en"]), N_PER_HELD_OUT_PATTERN)
    rng.shuffle(chosen)
    return chosen


def check_held_out(train: list[dict], test: list[dict], hard: list[dict]) -> None:
    """The held-out patterns: never in train, built from words and items train shows, all text new."""
    assert len(hard) == 4 * N_PER_HELD_OUT_PATTERN
    for key in ("en", "zh"):
        values = [r[key] for r in train + test + hard]
        assert len(set(values)) == len(values), f"duplicate {key} text within or across splits"
    train_en = " ".join(" " + r["en"] + " " for r in train)
    train_zh = "".join(r["zh"] for r in train)
    train_words = set(re.findall(r"[a-z']+", train_en.lower()))
    for marker in HELD_OUT_ENGLISH:
        assert marker.lower() not in train_en.lower(), f"held-out pattern word {marker!r} in train"
    for marker in HELD_OUT_CHINESE:
        assert marker not in train_zh, f"held-out pattern character {marker!r} in train"
    for r in hard:
        unseen = [i for i in r["items"] if i not in train_zh]
        assert not unseen, f"words of {r['zh']} never in a training translation: {unseen}"
        unseen_en = [w for w in r["words"] if not set(w.lower().split()) <= train_words]
        assert not unseen_en, f"words of {r['en']} never in a training sentence: {unseen_en}"
        assert r["en"][0].isupper() and r["en"][-1] in ".!?", r["en"]
        assert r["zh"][-1] in "。！？" and not any(c in r["zh"] for c in ",.!?"), r["zh"]


def write(path: Path, split: str, rows: list[dict], parts: list[str] | None = None) -> None:
    """One JSON object per line: id, prompt, completion, and the test part when `parts` is given."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "prompt": r["en"], "completion": r["zh"]}
            if parts is not None:
                row["split"] = parts[i - 1]
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits; the held-out patterns follow the compositional test part."""
    train, test = build(random.Random(SEED))
    check(train, test)
    hard = held_out_patterns(random.Random(HELD_OUT_PATTERN_SEED))
    check_held_out(train, test, hard)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test + hard, ["compositional"] * len(test) + ["held_out_pattern"] * len(hard))
    n_pairs = sum(r.get("pair") in TEST_PAIRS for r in test)
    n_greet = sum(bool(r.get("held_out")) for r in test)
    print(f"translate_en_zh: {len(train)} train, {len(test) + len(hard)} test: {len(test)} compositional "
          f"({n_pairs} with test-only verb-object pairs, {n_greet} test-only greetings) and {len(hard)} in "
          f"{len(hard) // N_PER_HELD_OUT_PATTERN} held-out patterns")


if __name__ == "__main__":
    main()
