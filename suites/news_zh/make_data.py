"""Generate the news_zh suite: short Chinese news reports written from a topic and three details.

Writes train.jsonl (600 examples) and test.jsonl (120 examples) next to this script, in the
"prompt-completion" format. The prompt is the instruction 写一篇关于<topic>的新闻报道 followed
by the details to use, in any order:

    写一篇关于人工智能的新闻报道，地点：上海，时间：三月五日，机构：星火研究院

and the completion a title line and a body of 2 to 4 sentences that use every detail:

    星火研究院在上海发布人工智能新成果
    三月五日，星火研究院在上海发布了一项人工智能研究成果。……

Ten topics, each with one title and one body template, so the report is determined by the
prompt. Dates are written in Chinese numerals (三月五日). Each line lists under "facts" the
details the report must mention.

The test split measures generalisation, not recall:
  * one wording of the instruction appears only in test (以<topic>为题写一篇新闻报道, a quarter
    of test examples);
  * two places and one institution of each kind appear only in test (every third test example);
  * dates and detail orders are drawn at random, so most combinations are new.
No prompt occurs twice, within a split or across splits.

Run: python suites/news_zh/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240618
HERE = Path(__file__).resolve().parent
TRAIN_PER_TOPIC, TEST_PER_TOPIC = 60, 12
HELD_OUT_PHRASING_EVERY, HELD_OUT_VALUE_EVERY = 4, 3

# Instruction wordings: (seen in training, test only). The details follow, joined by "，".
INSTRUCTIONS = (["写一篇关于{topic}的新闻报道", "请写一篇关于{topic}的新闻报道", "帮我写一篇关于{topic}的新闻报道"],
                ["以{topic}为题写一篇新闻报道"])
PLACES = (["上海", "北京", "深圳", "广州", "杭州", "成都", "武汉", "西安", "南京", "天津", "重庆", "青岛"],
          ["宁波", "兰州"])
INSTITUTIONS = {
    "research": (["星火研究院", "东方科学院", "华夏大学", "明德研究所"], ["启明研究院"]),
    "company": (["未来科技公司", "长风汽车集团", "远航集团", "恒通实业公司"], ["新程科技公司"]),
    "association": (["绿洲环保协会", "青年志愿者协会", "市文化协会", "市体育协会"], ["白鹭公益协会"]),
    "hospital": (["市第一医院", "仁和医院", "协和医疗中心", "人民医院"], ["同济康复中心"]),
}

# Per topic: the kind of institution, the title, and the body (2 to 4 sentences).
# Placeholders: {org} {place} {date}.
TOPICS = {
    "人工智能": ("research", "{org}在{place}发布人工智能新成果",
             "{date}，{org}在{place}发布了一项人工智能研究成果。该成果可以帮助医生更快地分析病历。"
             "{org}表示，相关技术将在年内投入试用。"),
    "新能源汽车": ("company", "{place}新能源汽车展开幕",
              "{date}，由{org}主办的新能源汽车展在{place}开幕。展会吸引了众多车企参展。"
              "{org}表示，新能源汽车越来越受欢迎。"),
    "环境保护": ("association", "{org}在{place}启动环保行动",
             "{date}，{org}在{place}启动了一项环境保护行动。活动号召市民少用塑料袋。"),
    "教育": ("research", "{place}举办教育创新论坛",
           "{date}，{org}在{place}举办了教育创新论坛。与会专家讨论了课堂教学的新方法。"
           "论坛为期两天。{org}表示，明年将继续举办。"),
    "航天": ("research", "{org}成功发射气象卫星",
           "{date}，{org}在{place}成功发射了一颗气象卫星。这颗卫星将用于天气预报。"
           "{org}表示，发射任务取得圆满成功。"),
    "体育赛事": ("association", "{place}马拉松比赛顺利举行",
             "{date}，由{org}主办的马拉松比赛在{place}举行。数千名跑者参加了比赛。"),
    "文化节": ("association", "{place}文化节隆重开幕",
            "{date}，由{org}主办的文化节在{place}开幕。活动包括音乐、美食和手工艺展示。"
            "文化节将持续一周。"),
    "医疗": ("hospital", "{org}在{place}开展义诊活动",
           "{date}，{org}在{place}开展了义诊活动。医生们为居民免费检查身体。"
           "{org}表示，今后将定期举办此类活动。"),
    "农业": ("research", "{org}在{place}推广水稻新品种",
           "{date}，{org}在{place}推广了一种水稻新品种。新品种产量更高，也更耐旱。"
           "当地农民对此表示欢迎。"),
    "旅游": ("company", "{place}旅游节吸引大批游客",
           "{date}，由{org}主办的旅游节在{place}开幕。首日便吸引了大批游客。"
           "{org}表示，将推出更多优惠活动。"),
}
DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 to 31 in Chinese numerals (5 -> 五, 12 -> 十二, 20 -> 二十, 28 -> 二十八)."""
    tens, ones = divmod(n, 10)
    return ("" if tens == 0 else ("十" if tens == 1 else DIGITS[tens] + "十")) + (DIGITS[ones] if ones else "")


def draw(topic: str, rng: random.Random, held_out_phrasing: bool, held_out_values: bool) -> dict:
    """One prompt about `topic` with its report and facts."""
    pool = 1 if held_out_values else 0
    kind, title, body = TOPICS[topic]
    slots = {"place": rng.choice(PLACES[pool]), "org": rng.choice(INSTITUTIONS[kind][pool]),
             "date": f"{chinese_number(rng.randint(1, 12))}月{chinese_number(rng.randint(1, 28))}日"}
    details = [f"地点：{slots['place']}", f"时间：{slots['date']}", f"机构：{slots['org']}"]
    rng.shuffle(details)
    instruction = rng.choice(INSTRUCTIONS[1] if held_out_phrasing else INSTRUCTIONS[0]).format(topic=topic)
    return {"topic": topic, "prompt": "，".join([instruction] + details),
            "completion": title.format(**slots) + "\n" + body.format(**slots),
            "facts": [slots["place"], slots["date"], slots["org"]],
            "held_out_phrasing": held_out_phrasing, "held_out_values": held_out_values}


def make_example(topic: str, rng: random.Random, held_out_phrasing: bool, held_out_values: bool,
                 taken: set[str]) -> dict:
    """An example whose prompt is not in `taken`, nor the same as one there but for its place (two
    reports that differ in one city are near duplicates); both are added to it."""
    for _ in range(1000):
        example = draw(topic, rng, held_out_phrasing, held_out_values)
        placeless = example["prompt"].replace(example["facts"][0], "")
        if example["prompt"] not in taken and placeless not in taken:
            taken.update((example["prompt"], placeless))
            return example
    raise RuntimeError(f"could not find a new prompt for {topic}")


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Train and test examples, each shuffled."""
    taken: set[str] = set()
    train = [make_example(t, rng, False, False, taken) for t in TOPICS for _ in range(TRAIN_PER_TOPIC)]
    test = [make_example(t, rng, j % HELD_OUT_PHRASING_EVERY == 0, j % HELD_OUT_VALUE_EVERY == 1, taken)
            for t in TOPICS for j in range(TEST_PER_TOPIC)]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def body_length(completion: str) -> int:
    """Characters after the title line."""
    return len(completion.split("\n", 1)[1])


def check(train: list[dict], test: list[dict]) -> None:
    """Assert sizes, uniqueness, the held-out design and the shape of every report."""
    assert (len(train), len(test)) == (len(TOPICS) * TRAIN_PER_TOPIC, len(TOPICS) * TEST_PER_TOPIC)
    prompts = [r["prompt"] for r in train + test]
    assert len(set(prompts)) == len(prompts), "a prompt occurs twice"
    test_only = PLACES[1] + [v for pools in INSTITUTIONS.values() for v in pools[1]]
    held_out_starts = [w.split("{")[0] for w in INSTRUCTIONS[1]]
    for r in train:
        assert not any(v in r["prompt"] + r["completion"] for v in test_only), f"test-only value in train: {r}"
        assert not any(r["prompt"].startswith(s) for s in held_out_starts), f"test-only wording in train: {r}"
    for r in train + test:
        title, body = r["completion"].split("\n")
        assert 6 <= len(title) <= 20 and not title.endswith("。"), title
        assert 2 <= body.count("。") <= 4 and body.endswith("。"), body
        assert not any(c in r["completion"] for c in ",.:;"), "half-width punctuation"
        for fact in r["facts"]:
            assert fact in r["prompt"] and fact in body, f"{fact!r} not used: {r}"
        assert len(r["completion"]) <= 125, r["completion"]
        assert r["topic"] in r["prompt"]


def write(path: Path, split: str, rows: list[dict]) -> None:
    """One JSON object per line: id, topic, prompt, completion, facts."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "topic": r["topic"], "prompt": r["prompt"],
                   "completion": r["completion"], "facts": r["facts"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits."""
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    lengths = [body_length(r["completion"]) for r in train + test]
    n_phrasing = sum(r["held_out_phrasing"] for r in test)
    n_values = sum(r["held_out_values"] for r in test)
    print(f"news_zh: {len(train)} train, {len(test)} test ({n_phrasing} with the test-only wording, "
          f"{n_values} with test-only places and institutions); bodies {min(lengths)}-{max(lengths)} characters")


if __name__ == "__main__":
    main()
