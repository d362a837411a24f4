"""Generate the agent_tools suite: short task requests, each answered by exactly one JSON tool call.

Writes train.jsonl (1,200 examples) and test.jsonl (240 examples) next to this script, in the
"messages" format: a user request and the assistant's reference tool call, compact JSON with
the arguments in a fixed order per tool.

The reference is fully determined by the request. Slot values are copied from it, with a small,
regular set of normalisations: days are capitalised ("friday" -> "Friday") and counts written as
words become integers ("three" -> 3, "3" -> 3).

Train and test differ in two ways, so the test measures generalisation rather than recall:
  * each tool has one phrasing template that appears only in test (about 12% of test examples);
  * two cities, two foods and two contacts appear only in test (about 12% of test examples).
No request text occurs in both splits, nor twice within one split.

Run: python suites/agent_tools/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent
TRAIN_PER_TOOL, TEST_PER_TOOL = 200, 40
HELD_OUT_TEMPLATE_PER_TOOL = 5  # of TEST_PER_TOOL: phrased with the test-only template
HELD_OUT_VALUE_EVERY = 6  # every 6th test example of a tool with test-only values uses one

CITIES = ["Athens", "Berlin", "Boston", "Cairo", "Chicago", "Denver", "Dublin", "Geneva",
          "Lima", "Lisbon", "London", "Lyon", "Madrid", "Munich", "Oslo", "Paris",
          "Porto", "Prague", "Rome", "Seattle", "Seoul", "Sydney", "Tokyo", "Vienna"]
TEST_CITIES = ["Milan", "Zurich"]
FOODS = ["bagels", "burgers", "burritos", "cookies", "donuts",
         "muffins", "pizzas", "salads", "sandwiches", "tacos"]
TEST_FOODS = ["pancakes", "waffles"]
CONTACTS = ["Anna", "Ben", "Carlos", "Diana", "Emma", "Frank",
            "Grace", "Henry", "Lucy", "Maria", "Omar", "Sam"]
TEST_CONTACTS = ["Nora", "Victor"]
TEXTS = ["running late", "call me back", "see you soon", "happy birthday", "on my way",
         "dinner at eight", "good luck today", "meeting moved", "bring the keys", "thanks for lunch"]
RESTAURANTS = ["Bella Vista", "Blue Fin", "Casa Rosa", "Golden Dragon",
               "Green Leaf", "Luigi's", "Sakura", "The Olive"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}
TIMES = [f"{h:02d}:{m:02d}" for h in range(5, 23) for m in range(0, 60, 5)]
TABLE_TIMES = [f"{h:02d}:{m:02d}" for h in range(11, 23) for m in (0, 15, 30, 45)]

# Per tool: the argument keys in output order, the training templates, and the test-only
# template (the last one). Placeholders: {city} {day} (lower case) {Day} (capitalised)
# {n} (a count, as a word or digits) {food} {time} (24-hour HH:MM) {contact} {text}
# {restaurant}.
TOOLS = {
    "get_weather": (["city", "day"], [
        "What's the weather in {city} on {Day}?",
        "weather {city} {day}",
        "Could you tell me the weather in {city} on {Day}, please?",
        "Will it rain in {city} on {Day}?",
        "Forecast for {city} on {day} please.",
        "How warm will {city} be on {Day}?",
        "I need the {city} weather forecast for {Day}.",
    ]),
    "book_train_ticket": (["destination", "day"], [
        "Book a train ticket to {city} on {Day}.",
        "train to {city} {day}",
        "Please get me a train to {city} for {Day}.",
        "Can you book me a train to {city} on {Day}?",
        "I need to travel to {city} by train on {Day}.",
        "One train ticket to {city}, {day}, thanks.",
        "Reserve a seat on the {Day} train to {city}.",
    ]),
    "order_food": (["item", "quantity"], [
        "Order {n} {food}.",
        "{n} {food} please",
        "Could you order {n} {food} for me?",
        "I'd like {n} {food}, please.",
        "Get me {n} {food}.",
        "Can I get {n} {food} delivered?",
        "Order me {n} {food}, thanks.",
    ]),
    "set_alarm": (["time"], [
        "Set an alarm for {time}.",
        "alarm {time}",
        "Wake me up at {time}, please.",
        "Can you set an alarm at {time}?",
        "I need an alarm for {time}.",
        "Please set my alarm to {time}.",
        "Set my alarm for {time}, thanks.",
    ]),
    "send_message": (["contact", "text"], [
        "Send a message to {contact}: {text}",
        "text {contact} {text}",
        "Please tell {contact} \"{text}\".",
        "Can you message {contact} saying {text}?",
        "Message {contact}: {text}",
        "Let {contact} know: {text}",
        "Write to {contact}: {text}",
    ]),
    "book_table": (["restaurant", "people", "time"], [
        "Book a table at {restaurant} for {n} at {time}.",
        "table {restaurant} {n} people {time}",
        "Can you reserve {restaurant} for {n} people at {time}?",
        "I'd like a table for {n} at {restaurant} at {time}, please.",
        "Please book {restaurant}, {n} people, {time}.",
        "Reserve a table for {n} at {restaurant}, {time}.",
        "Get us a table for {n} at {restaurant} at {time}.",
    ]),
}

# Tools whose test split also draws on test-only values, and the slot those values fill.
HELD_OUT_VALUES = {"get_weather": ("city", TEST_CITIES), "book_train_ticket": ("city", TEST_CITIES),
                   "order_food": ("food", TEST_FOODS), "send_message": ("contact", TEST_CONTACTS)}


def draw_slots(tool: str, rng: random.Random, held_out_value: bool) -> tuple[dict, dict]:
    """Random slot values for `tool`: the text filled into the template and the call's arguments."""
    day = rng.choice(DAYS)
    n = rng.choice(sorted(NUMBER_WORDS))
    slots = {
        "city": rng.choice(CITIES), "day": day, "Day": day.capitalize(),
        "n": rng.choice([NUMBER_WORDS[n], str(n)]), "food": rng.choice(FOODS),
        "time": rng.choice(TABLE_TIMES if tool == "book_table" else TIMES),
        "contact": rng.choice(CONTACTS), "text": rng.choice(TEXTS),
        "restaurant": rng.choice(RESTAURANTS),
    }
    if held_out_value:
        slot, values = HELD_OUT_VALUES[tool]
        slots[slot] = rng.choice(values)
    values = {"city": slots["city"], "destination": slots["city"], "day": slots["Day"],
              "item": slots["food"], "quantity": n, "people": n, "time": slots["time"],
              "contact": slots["contact"], "text": slots["text"], "restaurant": slots["restaurant"]}
    keys = TOOLS[tool][0]
    return slots, {k: values[k] for k in keys}


def tool_call(tool: str, arguments: dict) -> str:
    return json.dumps({"name": tool, "arguments": arguments}, ensure_ascii=False, separators=(",", ":"))


def make_example(tool: str, template: str, rng: random.Random, held_out_value: bool,
                 taken: set[str]) -> tuple[str, str]:
    """A (request, tool call) pair whose request is not in `taken`; the request is added to it."""
    for _ in range(1000):
        slots, arguments = draw_slots(tool, rng, held_out_value)
        request = template.format(**slots)
        if request not in taken:
            taken.add(request)
            return request, tool_call(tool, arguments)
    raise RuntimeError(f"could not find a new request for {tool} with template {template!r}")


def build(rng: random.Random) -> tuple[list, list]:
    taken: set[str] = set()  # requests used so far, in either split
    train, test = [], []
    for tool, (_, templates) in TOOLS.items():
        seen_templates = templates[:-1]
        for _ in range(TRAIN_PER_TOOL):
            train.append(make_example(tool, rng.choice(seen_templates), rng, False, taken))
    for tool, (_, templates) in TOOLS.items():
        seen_templates, held_out_template = templates[:-1], templates[-1]
        for j in range(TEST_PER_TOOL):
            template = held_out_template if j < HELD_OUT_TEMPLATE_PER_TOOL else rng.choice(seen_templates)
            held_out_value = tool in HELD_OUT_VALUES and j % HELD_OUT_VALUE_EVERY == 0
            test.append(make_example(tool, template, rng, held_out_value, taken))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def check(train: list, test: list) -> None:
    train_requests = [r for r, _ in train]
    test_requests = [r for r, _ in test]
    assert len(set(train_requests)) == len(train_requests), "duplicate request in train"
    assert len(set(test_requests)) == len(test_requests), "duplicate request in test"
    assert not set(train_requests) & set(test_requests), "request shared by train and test"
    test_only = TEST_CITIES + TEST_FOODS + TEST_CONTACTS
    for request, _ in train:
        assert not any(v in request for v in test_only), f"test-only value in train: {request}"
        for _, templates in TOOLS.values():
            prefix = templates[-1].split("{")[0]
            assert not (prefix and request.startswith(prefix)), f"test-only template in train: {request}"


def write(path: Path, split: str, pairs: list) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, (request, call) in enumerate(pairs, 1):
            row = {"id": f"{split}-{i:05d}", "messages": [
                {"role": "user", "content": request}, {"role": "assistant", "content": call}]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    test_only_values = TEST_CITIES + TEST_FOODS + TEST_CONTACTS
    n_values = sum(any(v in request for v in test_only_values) for request, _ in test)
    n_templates = len(TOOLS) * HELD_OUT_TEMPLATE_PER_TOOL
    print(f"agent_tools: {len(train)} train, {len(test)} test "
          f"({n_templates} with test-only phrasings, {n_values} with test-only values)")


if __name__ == "__main__":
    main()
