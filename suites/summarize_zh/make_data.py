"""Generate the summarize_zh suite: short Chinese news-like paragraphs, each summarised in one sentence.

Writes train.jsonl (600 examples) and test.jsonl (120 examples) next to this script, in the
"prompt-completion" format (prompt: the paragraph; completion: the summary).

Each paragraph reports one templated event (a factory opening, a festival, a discovery, a city
budget, a cup final, a storm, a charity run, a new school) with its slots: who, where, when and
one key number. It has 3 or 4 sentences: the lead (who, what, where, when), a sentence with the
key number, and one or two background sentences, some with numbers of their own that the summary
must leave out. The summary has one wording per event and carries who (where the event has one),
what, where, when and the key number.

The test split measures generalisation, not recall:
  * one event (an exhibition opening) appears only in test (20 of its 120 examples);
  * two cities and two names of each kind (companies, foundations, universities, teams,
    utilities, mayors) appear only in test (every third test example uses them);
  * numbers and dates are drawn at random, so most test values are new.
No paragraph occurs twice, within a split or across splits.

Run: python suites/summarize_zh/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240616
HERE = Path(__file__).resolve().parent
TRAIN_PER_EVENT = 75  # 8 seen events -> 600
TEST_SEEN_EVENTS, TEST_HELD_OUT_EVENT = 100, 20
HELD_OUT_VALUE_EVERY = 3

# Value pools: (seen in training, test only).
CITIES = (["成都", "杭州", "武汉", "西安", "南京", "青岛", "大连", "厦门", "昆明", "长春", "合肥", "贵阳"],
          ["珠海", "洛阳"])
WHO = {
    "company": (["华远汽车", "新禾食品", "天工科技", "北辰钢铁", "蓝海化工", "明光纸业", "恒力机械", "锦绣纺织"],
                ["云帆机器人", "晶石玻璃"]),
    "foundation": (["希望基金会", "绿色未来协会", "爱心互助会", "阳光公益基金", "晨光慈善会", "春苗基金会"],
                   ["善行基金会", "新叶公益会"]),
    "university": (["西江大学", "湖滨大学", "北方研究院", "江城学院", "石桥大学", "海岸研究所"],
                   ["高原大学", "松山学院"]),
    "team": (["猎鹰队", "流星队", "猛虎队", "雄狼队", "彗星队", "雄鹰队"], ["飞鱼队", "山猫队"]),
    "utility": (["城市电力", "北网能源", "伏特电力", "日升电力"], ["峰电公司", "蓝线电力"]),
    "mayor": (["李市长", "王市长", "张市长", "刘市长", "陈市长", "赵市长"], ["欧阳市长", "司马市长"]),
}

# Per event: who's kind, the key number's range, lead sentences, key-number sentences, an optional
# sentence about who (for events whose lead does not name them), and the summary.
# Placeholders: {who} {city} {date} {n}.
EVENTS = {
    "factory": ("company", (120, 2400), [
        "{date}，{who}在{city}开设了一座新工厂。",
        "{who}于{date}在{city}新建的工厂正式投产。",
    ], ["该工厂将雇用{n}名工人。", "预计将创造{n}个就业岗位。"], None,
        "{who}于{date}在{city}开设新工厂，将雇用{n}名工人。"),
    "festival": ("foundation", (1500, 40000), [
        "{date}，由{who}主办的年度美食节在{city}开幕。",
        "{who}主办的年度美食节于{date}在{city}开幕。",
    ], ["主办方统计首日共有{n}名游客到场。", "首日约有{n}人参加。"], None,
        "{who}主办的美食节于{date}在{city}开幕，首日吸引{n}名游客。"),
    "discovery": ("university", (40, 900), [
        "{date}，{who}的研究人员宣布在{city}附近发现了一种新的青蛙。",
        "{who}的研究人员于{date}报告，在{city}附近发现一个蛙类新物种。",
    ], ["研究团队在两年内研究了{n}份样本。", "他们检查了{n}份样本后才得出结论。"], None,
        "{who}的研究人员于{date}报告在{city}附近发现蛙类新物种，共研究{n}份样本。"),
    "budget": ("mayor", (2, 95), [
        "{date}，{city}市议会通过了新的预算。",
        "{city}市议会于{date}投票通过新预算。",
    ], ["预算中有{n}亿元用于学校和道路。", "其中{n}亿元将投入学校和道路建设。"], "{who}称这是一份公平的方案。",
        "{city}市议会于{date}通过预算，其中{n}亿元用于学校和道路。"),
    "cup_final": ("team", (5000, 60000), [
        "{date}，{who}在{city}赢得了全国杯决赛。",
        "{who}于{date}在{city}夺得全国杯决赛冠军。",
    ], ["现场有{n}名球迷观看了比赛。", "共有{n}名球迷到场观战。"], None,
        "{who}于{date}在{city}赢得全国杯决赛，现场有{n}名球迷观战。"),
    "storm": ("utility", (800, 45000), [
        "{date}，一场强风暴袭击了{city}。",
        "{city}于{date}遭遇强风暴。",
    ], ["风暴导致{n}户家庭停电。", "约有{n}户居民失去电力供应。"], "{who}表示抢修人员正在恢复供电。",
        "{date}强风暴袭击{city}，导致{n}户家庭停电，{who}正在抢修。"),
    "charity_run": ("foundation", (2000, 95000), [
        "{date}，{who}在{city}举办了一场慈善跑。",
        "{who}于{date}在{city}举办慈善跑活动。",
    ], ["活动为当地医院筹得{n}元善款。", "参赛者共为当地医院募集{n}元。"], None,
        "{who}于{date}在{city}举办慈善跑，为当地医院筹得{n}元。"),
    "school": ("company", (150, 1800), [
        "{date}，{city}一所新学校正式开学。",
        "{city}的一所新学校于{date}开学。",
    ], ["学校可容纳{n}名学生。", "该校将招收{n}名学生。"], "学校由{who}承建。",
        "由{who}承建、可容纳{n}名学生的新学校于{date}在{city}开学。"),
    # Only in test.
    "exhibition": ("foundation", (900, 30000), [
        "{date}，{who}在{city}举办了一场古地图展览。",
        "{who}主办的古地图展于{date}在{city}开幕。",
    ], ["展览首周吸引了{n}名参观者。", "首周有超过{n}人前来参观。"], None,
        "{who}于{date}在{city}举办古地图展，首周吸引{n}名参观者。"),
}
HELD_OUT_EVENT = "exhibition"
# Background sentences; their numbers are not the key number and stay out of the summary.
BACKGROUND = [
    "当地居民对此表示欢迎。",
    "官方表示将公布更多细节。",
    "这是自{year}年以来的首次同类活动。",
    "筹备工作历时{months}个月。",
    "当天天气温和。",
    "发言人称活动十分成功。",
    "类似计划曾在{years}年前讨论过。",
    "后续进展预计下周公布。",
]


def paragraph(event: str, rng: random.Random, held_out_values: bool) -> tuple[str, str, list[str]]:
    """A paragraph about one `event`, its summary and the slot values the summary carries."""
    kind, (low, high), leads, numbers, about_who, summary = EVENTS[event]
    pool = 1 if held_out_values else 0
    who = rng.choice(WHO[kind][pool])
    n = rng.randint(low, high)
    if n >= 1000:
        n = n // 10 * 10  # big counts are rounded in reports
    slots = {"who": who, "city": rng.choice(CITIES[pool]), "date": f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
             "n": str(n), "year": rng.randint(1990, 2015), "months": rng.randint(2, 18), "years": rng.randint(2, 12)}
    # The lead comes first; the key number, who and background follow in any order.
    rest = [rng.choice(numbers)] + ([about_who] if about_who else [])
    rest += rng.sample(BACKGROUND, rng.choice([3, 4]) - 1 - len(rest))
    rng.shuffle(rest)
    sentences = [rng.choice(leads)] + rest
    text = "".join(s.format(**slots) for s in sentences)
    facts = [str(slots[k]) for k in ("city", "date", "n")] + ([who] if "{who}" in summary else [])
    return text, summary.format(**slots), facts


def make_example(event: str, rng: random.Random, held_out_values: bool, taken: set[str]) -> dict:
    """An example whose paragraph is not in `taken`; the paragraph is added to it."""
    for _ in range(1000):
        text, summary, facts = paragraph(event, rng, held_out_values)
        if text not in taken:
            taken.add(text)
            return {"event": event, "prompt": text, "completion": summary, "slots": facts,
                    "held_out_values": held_out_values}
    raise RuntimeError(f"could not find a new paragraph for {event}")


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Train and test examples, each shuffled."""
    taken: set[str] = set()
    seen_events = [e for e in EVENTS if e != HELD_OUT_EVENT]
    train = [make_example(e, rng, False, taken) for e in seen_events for _ in range(TRAIN_PER_EVENT)]
    test_events = [seen_events[i % len(seen_events)] for i in range(TEST_SEEN_EVENTS)]
    test_events += [HELD_OUT_EVENT] * TEST_HELD_OUT_EVENT
    test = [make_example(e, rng, j % HELD_OUT_VALUE_EVERY == 0, taken) for j, e in enumerate(test_events)]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def check(train: list[dict], test: list[dict]) -> None:
    """Assert sizes, uniqueness, the held-out design and the shape of every paragraph and summary."""
    assert (len(train), len(test)) == (TRAIN_PER_EVENT * (len(EVENTS) - 1), TEST_SEEN_EVENTS + TEST_HELD_OUT_EVENT)
    prompts = [r["prompt"] for r in train + test]
    assert len(set(prompts)) == len(prompts), "a paragraph occurs twice"
    test_only = CITIES[1] + [v for pools in WHO.values() for v in pools[1]]
    for r in train:
        assert r["event"] != HELD_OUT_EVENT, "the test-only event is in train"
        assert not any(v in r["prompt"] for v in test_only), f"test-only value in train: {r['prompt']}"
    assert sum(r["event"] == HELD_OUT_EVENT for r in test) == TEST_HELD_OUT_EVENT
    for r in train + test:
        assert 3 <= r["prompt"].count("。") <= 4 and r["prompt"].endswith("。"), r["prompt"]
        assert r["completion"].count("。") == 1 and r["completion"].endswith("。"), r["completion"]
        assert not any(c in r["prompt"] + r["completion"] for c in ",.;"), "half-width punctuation"
        for value in r["slots"]:
            assert value in r["prompt"] and value in r["completion"], f"{value!r} not carried: {r}"
        assert len(r["prompt"] + r["completion"]) <= 200, r["prompt"]


def write(path: Path, split: str, rows: list[dict]) -> None:
    """One JSON object per line: id, event, prompt, completion."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "event": r["event"], "prompt": r["prompt"], "completion": r["completion"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits."""
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    n_values = sum(r["held_out_values"] for r in test)
    print(f"summarize_zh: {len(train)} train, {len(test)} test "
          f"({TEST_HELD_OUT_EVENT} of a test-only event, {n_values} with test-only names and places)")


if __name__ == "__main__":
    main()
