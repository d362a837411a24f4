"""Generate the dialogue_zh suite: short Chinese customer-service dialogues and the agent's next reply.

Writes train.jsonl (600 examples) and test.jsonl (120 examples) next to this script, in the
"messages" format: an optional one-line system message with what the agent knows (an order's
shipping record, the return policy, shop hours, the compensation for complaints), then 3 or 5
alternating user/assistant turns ending with the user's, then the reference reply.

Five intents (order status, returns, address change, opening hours, complaints), each a fixed
script of three exchanges; an example stops after the first or the second user answer, so its
reference is the second or the third assistant turn. Every reply has one wording per intent and
step and copies its values (order numbers, dates, addresses, hours, amounts, phone numbers) from
the system message or the user's turns. Each line lists those values under "facts": what the
reply must mention.

The test split measures generalisation, not recall:
  * each user turn that varies has one phrasing that appears only in test (about a third of
    test examples use at least one);
  * shops, products, couriers, cities, roads, names and shop branches each have test-only
    values (every third test example uses them);
  * order numbers, phone numbers and dates are drawn at random, so nearly every test value is new.
No prompt (the messages before the reference) occurs twice, within a split or across splits.

Run: python suites/dialogue_zh/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240613
HERE = Path(__file__).resolve().parent
TRAIN_PER_INTENT, TEST_PER_INTENT = 120, 24
HELD_OUT_PHRASING_PER_INTENT = 8  # of TEST_PER_INTENT: their user turns use the test-only phrasings
HELD_OUT_VALUE_EVERY = 3  # every 3rd test example uses the test-only values

# Value pools: (seen in training, test only).
SHOPS = (["星河商城", "优品网", "乐购商城", "青禾超市", "云朵书店", "小熊家居"], ["蓝鲸电器", "橙子生活馆"])
COURIERS = (["顺丰", "圆通", "中通", "韵达", "申通"], ["极兔"])
PRODUCTS = (["运动鞋", "电饭煲", "蓝牙耳机", "保温杯", "台灯", "背包", "毛衣", "雨伞", "充电宝", "水杯"],
            ["吹风机", "行李箱"])
CITIES = (["北京市", "上海市", "广州市", "深圳市", "杭州市", "成都市", "武汉市", "南京市", "西安市", "重庆市"],
          ["苏州市", "长沙市"])
ROADS = (["人民路", "中山路", "解放路", "建设路", "和平路", "长江路", "文化路", "花园路"], ["青年路", "友谊路"])
NAMES = (["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "孙强", "马丽", "郭涛"], ["周婷", "吴昊"])
STORES = (["人民广场", "西湖", "万达", "火车站", "大学城", "东门"], ["滨江", "高新区"])
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
OPEN_TIMES = ["8:00", "8:30", "9:00", "9:30", "10:00"]
CLOSE_TIMES = ["20:00", "20:30", "21:00", "21:30", "22:00"]
RETURN_DAYS = [7, 15, 30]
REFUND_DAYS = [3, 5, 7]
COUPONS = [10, 20, 30, 50, 100]
# Complaint: the user's wording (seen, test only) and the issue the reply names.
PROBLEMS: list[tuple[list[str], list[str], str]] = [
    (["订单{order}收到的{product}是坏的。", "订单{order}的{product}坏了。"],
     ["订单{order}的{product}一打开就坏了。"], "商品损坏"),
    (["订单{order}的快递员态度很差。", "订单{order}送货的人很不礼貌。"],
     ["订单{order}的快递员说话很凶。"], "服务态度"),
    (["订单{order}晚到了{late}天。", "订单{order}迟了{late}天才到。"],
     ["订单{order}比说好的晚了{late}天。"], "配送延迟"),
]

# Per intent: the system message (or None), then the script: (user phrasings seen in training,
# test-only phrasing, assistant turn). The first assistant turn is a fixed question; the second
# and third are the references. Placeholders are filled from the slots drawn for the dialogue.
Turn = tuple[list[str] | None, str | None, str | None]
INTENTS: dict[str, tuple[str | None, list[Turn]]] = {
    "order_status": ("你是{shop}的客服。订单{order}：已发货，{courier}配送，预计{date}送达。", [
        (["你好，我的快递到哪了？", "我买的东西怎么还没到？", "帮我查一下物流。"], "请问我的包裹发货了吗？",
         "您好，请提供一下订单号。"),
        (["订单号是{order}。", "{order}", "我的订单号：{order}。"], "单号{order}，麻烦了。",
         "您的订单{order}已发货，由{courier}配送，预计{date}送达。"),
        (["能快一点吗？", "还要等多久？"], "可以早点送到吗？",
         "抱歉，配送由{courier}安排，订单{order}预计{date}送达，请留意电话。"),
    ]),
    "returns": ("你是{shop}的客服。退货政策：签收{days}天内可退，退款{refund}个工作日到账。", [
        (["我想退货。", "这个东西我不想要了，能退吗？", "怎么申请退货？"], "买的东西不合适，想退掉。",
         "可以的，请告诉我订单号和商品名称。"),
        (["订单{order}，{product}。", "订单号{order}，买的是{product}。"], "{product}，订单号是{order}。",
         "已为订单{order}的{product}申请退货，签收{days}天内可退，退款{refund}个工作日到账。"),
        (["我{date}在家，能上门取件吗？", "{date}可以来取件吗？"], "能不能{date}来拿？",
         "可以，快递员会在{date}上门取件，请提前把{product}包装好。"),
    ]),
    "address_change": (None, [
        (["我想改一下收货地址。", "地址填错了，能改吗？", "帮我修改收货地址。"], "收货地址写错了，怎么办？",
         "可以的，请提供订单号和新地址。"),
        (["订单{order}，新地址是{address}。", "订单号{order}，改成{address}。"], "改到{address}，订单{order}。",
         "好的，订单{order}的收货地址已改为{address}。"),
        (["收件人也改成{name}，电话{phone}。", "收件人换成{name}吧，手机{phone}。"],
         "另外收件人改为{name}，号码{phone}。",
         "已更新，订单{order}的收件人是{name}，电话{phone}。"),
    ]),
    "opening_hours": ("你是{shop}的客服。{store}店{open}-{close}，{closed}休息；"
                      "{other}店{open2}-{close2}，{closed2}休息。", [
        (["请问你们几点开门？", "门店营业时间是多少？", "你们店几点关门？"], "想去门店看看，几点营业？",
         "请问您要去哪家门店？"),
        (["{store}店。", "{store}那家。"], "去{store}店。",
         "{store}店的营业时间是{open}到{close}，{closed}休息。"),
        (["{day}开门吗？", "{day}去可以吗？"], "{day}营业吗？",
         None),  # depends on whether {day} is the closing day: see OPENING_REPLIES
    ]),
    "complaint": ("你是{shop}的客服。投诉补偿：{coupon}元优惠券。", [
        (["我要投诉！", "你们的服务太差了。", "我很不满意，要投诉。"], "我想反映一个问题。",
         "非常抱歉给您带来不便，请说一下具体情况。"),
        (None, None,  # the user's wording comes from PROBLEMS
         "非常抱歉！订单{order}的{issue}问题已记录，我们补偿您{coupon}元优惠券。"),
        (["优惠券发到{phone}吧。", "请把优惠券发到我手机{phone}。"], "发到{phone}就行。",
         "好的，{coupon}元优惠券已发送到{phone}，再次向您道歉。"),
    ]),
}
OPENING_REPLIES = {"closed": "抱歉，{store}店{day}休息，其他时间{open}到{close}营业。",
                   "open": "{day}正常营业，{store}店{open}到{close}欢迎光临。"}
# The slots each reference must mention, by intent and reference step (1 or 2).
FACTS = {
    ("order_status", 1): ["order", "courier", "date"], ("order_status", 2): ["courier", "date"],
    ("returns", 1): ["order", "product", "days_text", "refund_text"], ("returns", 2): ["date", "product"],
    ("address_change", 1): ["order", "address"], ("address_change", 2): ["order", "name", "phone"],
    ("opening_hours", 1): ["store", "open", "close", "closed"], ("opening_hours", 2): ["day", "open", "close"],
    ("complaint", 1): ["order", "issue", "coupon_text"], ("complaint", 2): ["coupon_text", "phone"],
}
# Fixed words a reply must mention that come from the intent, not from the prompt's text.
FIXED_FACTS = {"休息", "商品损坏", "服务态度", "配送延迟"}


def pick(pool: tuple[list, list], rng: random.Random, held_out: bool):
    """A value from the training pool, or from the test-only pool when `held_out`."""
    return rng.choice(pool[1] if held_out else pool[0])


def draw_slots(rng: random.Random, held_out_values: bool) -> dict:
    """Random values for every placeholder any script uses."""
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    store, other = rng.sample(STORES[1] if held_out_values else STORES[0], 2)
    days, refund, coupon = rng.choice(RETURN_DAYS), rng.choice(REFUND_DAYS), rng.choice(COUPONS)
    closed, closed2 = rng.choice(WEEKDAYS), rng.choice(WEEKDAYS)
    return {
        "shop": pick(SHOPS, rng, held_out_values), "courier": pick(COURIERS, rng, held_out_values),
        "product": pick(PRODUCTS, rng, held_out_values), "name": pick(NAMES, rng, held_out_values),
        "address": f"{pick(CITIES, rng, held_out_values)}{pick(ROADS, rng, held_out_values)}{rng.randint(1, 300)}号",
        "order": str(rng.randint(100000, 999999)), "date": f"{month}月{day}日",
        "phone": "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9)),
        "store": store, "other": other, "closed": closed, "closed2": closed2,
        "open": rng.choice(OPEN_TIMES), "close": rng.choice(CLOSE_TIMES),
        "open2": rng.choice(OPEN_TIMES), "close2": rng.choice(CLOSE_TIMES),
        # Half the time the user asks about the closing day.
        "day": closed if rng.random() < 0.5 else rng.choice([d for d in WEEKDAYS if d != closed]),
        "days": days, "refund": refund, "coupon": coupon, "late": rng.randint(2, 9),
        "days_text": f"{days}天", "refund_text": f"{refund}个工作日", "coupon_text": f"{coupon}元",
    }


def dialogue(intent: str, steps: int, rng: random.Random, held_out_phrasing: bool,
             held_out_values: bool) -> tuple[list[dict], list[str]]:
    """The messages of one dialogue whose reference is assistant turn `steps` (1 or 2), and its facts."""
    system, script = INTENTS[intent]
    slots = draw_slots(rng, held_out_values)
    messages = [{"role": "system", "content": system.format(**slots)}] if system else []
    for step, (seen, held_out, reply) in enumerate(script[: steps + 1]):
        if intent == "complaint" and step == 1:
            seen_wordings, held_out_wording, issue = rng.choice(PROBLEMS)
            slots["issue"] = issue
            user = held_out_wording[0] if held_out_phrasing else rng.choice(seen_wordings)
        else:
            assert seen is not None and held_out is not None
            user = held_out if held_out_phrasing else rng.choice(seen)
        if intent == "opening_hours" and step == 2:
            reply = OPENING_REPLIES["closed" if slots["day"] == slots["closed"] else "open"]
        assert reply is not None
        messages.append({"role": "user", "content": user.format(**slots)})
        messages.append({"role": "assistant", "content": reply.format(**slots)})
    facts = [str(slots[k]) for k in FACTS[(intent, steps)]]
    if intent == "opening_hours" and steps == 2 and slots["day"] == slots["closed"]:
        facts.append("休息")
    return messages, facts


def prompt_key(messages: list[dict]) -> str:
    """The prompt of an example (every message before the reference) as one comparable string."""
    return json.dumps(messages[:-1], ensure_ascii=False)


def make_example(intent: str, steps: int, rng: random.Random, held_out_phrasing: bool,
                 held_out_values: bool, taken: set[str]) -> dict:
    """A dialogue whose prompt is not in `taken`; its prompt is added to it."""
    for _ in range(1000):
        messages, facts = dialogue(intent, steps, rng, held_out_phrasing, held_out_values)
        key = prompt_key(messages)
        if key not in taken:
            taken.add(key)
            return {"intent": intent, "messages": messages, "facts": facts,
                    "held_out_phrasing": held_out_phrasing, "held_out_values": held_out_values}
    raise RuntimeError(f"could not find a new dialogue for {intent}")


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Train and test examples, each shuffled."""
    taken: set[str] = set()
    train, test = [], []
    for intent in INTENTS:
        for i in range(TRAIN_PER_INTENT):
            train.append(make_example(intent, 1 + i % 2, rng, False, False, taken))
    for intent in INTENTS:
        for j in range(TEST_PER_INTENT):
            test.append(make_example(intent, 1 + j % 2, rng, j < HELD_OUT_PHRASING_PER_INTENT,
                                     j % HELD_OUT_VALUE_EVERY == 0, taken))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def held_out_phrasings() -> list[str]:
    """Every test-only user wording, with its placeholders cut off (the fixed text before, between, after)."""
    wordings = [held_out for _, script in INTENTS.values() for _, held_out, _ in script if held_out]
    wordings += [held_out[0] for _, held_out, _ in PROBLEMS]
    return wordings


def uses_wording(text: str, wording: str) -> bool:
    """Whether `text` was made from `wording`: all its fixed pieces occur in order."""
    pieces = [p.split("}")[-1] for p in ("}" + wording).split("{")]
    position = 0
    for piece in filter(None, pieces):
        position = text.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    return True


def check(train: list[dict], test: list[dict]) -> None:
    """Assert sizes, uniqueness, the held-out design and that every fact is in its reply."""
    assert (len(train), len(test)) == (len(INTENTS) * TRAIN_PER_INTENT, len(INTENTS) * TEST_PER_INTENT)
    keys = [prompt_key(r["messages"]) for r in train + test]
    assert len(set(keys)) == len(keys), "a prompt occurs twice"
    test_only = [v for pool in (SHOPS, COURIERS, PRODUCTS, CITIES, ROADS, NAMES, STORES) for v in pool[1]]
    wordings = held_out_phrasings()
    for r in train:
        text = "".join(m["content"] for m in r["messages"])
        assert not any(v in text for v in test_only), f"test-only value in train: {text}"
        users = [m["content"] for m in r["messages"] if m["role"] == "user"]
        assert not any(uses_wording(u, w) for u in users for w in wordings), f"test-only phrasing in train: {users}"
    for r in train + test:
        messages = r["messages"]
        prior = [m for m in messages[:-1] if m["role"] != "system"]
        assert len(prior) in (3, 5) and prior[-1]["role"] == "user" and messages[-1]["role"] == "assistant"
        assert len(messages[:-1]) <= 6
        prompt = "".join(m["content"] for m in messages[:-1])
        assert r["facts"], f"no facts: {messages[-1]['content']}"
        for fact in r["facts"]:
            assert fact in messages[-1]["content"], f"fact {fact!r} not in the reply {messages[-1]['content']!r}"
            assert fact in prompt or fact in FIXED_FACTS, f"fact {fact!r} not given by the prompt"
        assert sum(len(m["content"]) for m in messages) < 250, f"dialogue too long: {messages}"
    n_phrasing = sum(r["held_out_phrasing"] for r in test)
    n_values = sum(r["held_out_values"] for r in test)
    assert n_phrasing >= len(test) // 4 and n_values >= len(test) // 4


def write(path: Path, split: str, rows: list[dict]) -> None:
    """One JSON object per line: id, intent, messages, facts."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "intent": r["intent"], "messages": r["messages"], "facts": r["facts"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits."""
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    n_phrasing = sum(r["held_out_phrasing"] for r in test)
    n_values = sum(r["held_out_values"] for r in test)
    print(f"dialogue_zh: {len(train)} train, {len(test)} test "
          f"({n_phrasing} with test-only phrasings, {n_values} with test-only values)")


if __name__ == "__main__":
    main()
