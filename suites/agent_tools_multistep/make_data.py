"""Generate the agent_tools_multistep suite: both steps of a tool-using agent's loop.

Writes train.jsonl (600 examples) and test.jsonl (160 examples) next to this script, in the
"messages" format. Each example is one step of the loop
    user request -> assistant tool call (compact JSON) -> tool result (compact JSON) -> assistant answer
and is marked with "step":
  * "call": the messages end with the user's request; the reference is the tool call;
  * "answer": the messages end with the tool result; the reference is the answer to the user,
    which relays the result's values (times, prices, counts) or its failure (sold out, no table
    free, unknown city, out of stock, no trains).
Half the examples of each split and tool are calls, half answers; about a third of the answers
relay a failure. Every line lists under "facts" what the reference must mention: the call's
argument values, or the values and failure the answer must relay.

The call is determined by the request (values copied; days capitalised; counts as integers), the
answer by the request and the result (one wording per tool and outcome).

The test split measures generalisation, not recall:
  * each tool has one request phrasing that appears only in test (5 of its 32 test examples);
  * two cities, two unknown (fictional) cities, two foods and two restaurants appear only in
    test (every 4th test example of a tool that takes them);
No request occurs twice, within a split or across splits (so no test call is shown, as the
assistant turn of an answer example, in training).

Run: python suites/agent_tools_multistep/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240614
HERE = Path(__file__).resolve().parent
TRAIN_PER_TOOL, TEST_PER_TOOL = 120, 32
HELD_OUT_TEMPLATE_PER_TOOL = 5  # of TEST_PER_TOOL: phrased with the test-only template
HELD_OUT_VALUE_EVERY = 4  # every 4th test example of a tool with test-only values uses one
FAILURE_RATE = 0.35

# Value pools: (seen in training, test only).
CITIES = (["Athens", "Berlin", "Boston", "Cairo", "Chicago", "Denver", "Dublin", "Geneva",
           "Lima", "Lisbon", "London", "Lyon", "Madrid", "Munich", "Oslo", "Paris",
           "Porto", "Prague", "Rome", "Seattle", "Seoul", "Sydney", "Tokyo", "Vienna"], ["Helsinki", "Nairobi"])
UNKNOWN_CITIES = (["Atlantis", "Gotham", "Narnia", "Eldorado", "Utopia", "Oz"], ["Avalon", "Camelot"])
FOODS = (["bagels", "burgers", "burritos", "cookies", "donuts", "muffins", "pizzas", "salads", "sandwiches", "tacos"],
         ["pretzels", "crepes"])
RESTAURANTS = (["Bella Vista", "Blue Fin", "Casa Rosa", "Golden Dragon", "Green Leaf", "Luigi's", "Sakura",
                "The Olive"], ["Red Lantern", "Chez Marie"])
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}
CONDITIONS = ["sunny", "cloudy", "rain", "snow", "fog", "showers", "windy", "thunderstorms"]
TIMES = [f"{h:02d}:{m:02d}" for h in range(6, 23) for m in range(0, 60, 5)]
TABLE_TIMES = [f"{h:02d}:{m:02d}" for h in range(12, 22) for m in (0, 15, 30, 45)]

# Per tool: argument keys in output order, request templates (the last one only in test), and the
# answer for each outcome. Request placeholders: {city} {day} (lower case) {Day} (capitalised)
# {n} (a count, word or digits) {food} {restaurant} {time}. Answer placeholders: the call's
# arguments and the result's fields.
TOOLS = {
    "get_weather": (["city", "day"], [
        "Check the weather for {city} on {Day}.",
        "What will the weather be like in {city} on {Day}?",
        "Is it going to be cold in {city} on {Day}?",
        "weather forecast {city} {day}",
        "Tell me the {Day} forecast for {city}.",
        "Should I pack an umbrella for {city} on {Day}?",
    ], {
        "ok": "In {city} on {day} expect {condition}, with a high of {high_c}°C and a low of {low_c}°C.",
        "failure": "Sorry, I couldn't get a forecast: {city} is an unknown city.",
    }),
    "book_train_ticket": (["destination", "day"], [
        "Buy me a train ticket to {city} for {Day}.",
        "I want a train ticket to {city} on {Day}.",
        "Please book the train to {city} on {Day}.",
        "ticket to {city} {day} by train",
        "Get me on a train to {city} on {Day}.",
        "Could you sort out a train to {city} this {Day}?",
    ], {
        "ok": "Your train to {destination} on {day} is booked. It leaves at {departure} and costs {price_eur} euros.",
        "failure": "Sorry, the {day} train to {destination} is sold out. The next available day is {next_available}.",
    }),
    "list_trains": (["destination", "day"], [
        "What trains go to {city} on {Day}?",
        "Which trains run to {city} on {Day}?",
        "Show me the trains to {city} for {Day}.",
        "trains {city} {day} schedule",
        "Are there any trains to {city} on {Day}?",
        "How often do trains leave for {city} on {Day}?",
    ], {
        "ok": "There are {count} trains to {destination} on {day}, the first at {first} and the last at {last}.",
        "failure": "There are no trains to {destination} on {day}.",
    }),
    "order_food": (["item", "quantity"], [
        "Please order {n} {food} for me.",
        "I want to order {n} {food}.",
        "Could I have {n} {food} delivered?",
        "food order: {n} {food}",
        "Send {n} {food} to my place.",
        "We're hungry, get {n} {food} please.",
    ], {
        "ok": "Your order of {quantity} {item} is placed (order {order_id}): ${total_usd} in total, "
              "arriving in about {eta_minutes} minutes.",
        "failure": "Sorry, {item} are out of stock, so I couldn't place the order.",
    }),
    "book_table": (["restaurant", "people", "time"], [
        "Book {restaurant} for {n} people at {time}, please.",
        "I need a table for {n} at {restaurant} at {time}.",
        "Find us a table at {restaurant} at {time} for {n}.",
        "table for {n} {restaurant} {time}",
        "Could you get a table for {n} at {restaurant}, {time}?",
        "Dinner at {restaurant} for {n} at {time}, can you book it?",
    ], {
        "ok": "Your table for {people} at {restaurant} at {time} is confirmed: table {table}.",
        "failure": "Sorry, {restaurant} has no table free at {time}. The next free time is {next_free}.",
    }),
}
# What each answer must mention: result fields (formatted) by tool and outcome.
FACTS = {
    ("get_weather", "ok"): ["{condition}", "{high_c}°C", "{low_c}°C"],
    ("get_weather", "failure"): ["{city}", "unknown city"],
    ("book_train_ticket", "ok"): ["{departure}", "{price_eur} euros"],
    ("book_train_ticket", "failure"): ["sold out", "{next_available}"],
    ("list_trains", "ok"): ["{count} trains", "{first}", "{last}"],
    ("list_trains", "failure"): ["no trains"],
    ("order_food", "ok"): ["{order_id}", "${total_usd}", "{eta_minutes} minutes"],
    ("order_food", "failure"): ["{item}", "out of stock"],
    ("book_table", "ok"): ["table {table}", "{time}"],
    ("book_table", "failure"): ["no table free", "{next_free}"],
}
UNIT_PRICES = {"bagels": 2.25, "burgers": 7.5, "burritos": 8.25, "cookies": 1.75, "donuts": 1.5, "muffins": 2.5,
               "pizzas": 11.0, "salads": 6.75, "sandwiches": 5.5, "tacos": 3.25, "pretzels": 2.0, "crepes": 4.5}
# Tools whose test split also draws on test-only values, and the slot those values fill.
HELD_OUT_VALUES = {"get_weather": "city", "book_train_ticket": "city", "list_trains": "city",
                   "order_food": "food", "book_table": "restaurant"}


def compact(obj) -> str:
    """Compact JSON, the form of every call and tool result."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def draw_request(tool: str, rng: random.Random, failure: bool, held_out: bool) -> tuple[dict, dict]:
    """Random slots for a request to `tool`, and the call's arguments."""
    day = rng.choice(DAYS)
    n = rng.choice(sorted(NUMBER_WORDS))
    city_pool = UNKNOWN_CITIES if tool == "get_weather" and failure else CITIES
    pools = {"city": city_pool, "food": FOODS, "restaurant": RESTAURANTS}
    slots = {name: rng.choice(pool[0]) for name, pool in pools.items()}
    if held_out:
        slot = HELD_OUT_VALUES[tool]
        slots[slot] = rng.choice(pools[slot][1])
    slots |= {"day": day, "Day": day.capitalize(), "n": rng.choice([NUMBER_WORDS[n], str(n)]),
              "time": rng.choice(TABLE_TIMES)}
    values = {"city": slots["city"], "destination": slots["city"], "day": slots["Day"], "item": slots["food"],
              "quantity": n, "people": n, "restaurant": slots["restaurant"], "time": slots["time"]}
    return slots, {k: values[k] for k in TOOLS[tool][0]}


def later(time: str, rng: random.Random) -> str:
    """A time 30 to 90 minutes after `time` (HH:MM)."""
    hours, minutes = map(int, time.split(":"))
    total = hours * 60 + minutes + rng.choice([30, 45, 60, 90])
    return f"{total // 60:02d}:{total % 60:02d}"


def draw_result(tool: str, arguments: dict, rng: random.Random, failure: bool) -> dict:
    """What the tool returns for this call."""
    if tool == "get_weather":
        if failure:
            return {"error": "unknown city"}
        condition = rng.choice(CONDITIONS)
        high = rng.randint(-6, 3) if condition == "snow" else rng.randint(4, 34)
        return {"condition": condition, "high_c": high, "low_c": high - rng.randint(3, 10)}
    if tool == "book_train_ticket":
        if failure:
            other_days = [d.capitalize() for d in DAYS if d.capitalize() != arguments["day"]]
            return {"error": "sold out", "next_available": rng.choice(other_days)}
        return {"departure": rng.choice(TIMES), "price_eur": rng.randint(19, 149)}
    if tool == "list_trains":
        if failure:
            return {"count": 0}
        first = f"{rng.randint(5, 9):02d}:{rng.choice(range(0, 60, 5)):02d}"
        last = f"{rng.randint(19, 23):02d}:{rng.choice(range(0, 60, 5)):02d}"
        return {"count": rng.randint(2, 12), "first": first, "last": last}
    if tool == "order_food":
        if failure:
            return {"error": "out of stock"}
        total = UNIT_PRICES[arguments["item"]] * arguments["quantity"]
        return {"order_id": f"F{rng.randint(1000, 9999)}", "total_usd": f"{total:.2f}",
                "eta_minutes": rng.choice(range(20, 65, 5))}
    if failure:
        return {"confirmed": False, "reason": "no table free", "next_free": later(arguments["time"], rng)}
    return {"confirmed": True, "table": rng.randint(1, 30)}


def make_example(tool: str, template: str, step: str, rng: random.Random, failure: bool, held_out: bool,
                 taken: set[str]) -> dict:
    """One example of `step` whose request is not in `taken`; the request is added to it."""
    for _ in range(1000):
        slots, arguments = draw_request(tool, rng, failure, held_out)
        request = template.format(**slots)
        if request not in taken:
            taken.add(request)
            break
    else:
        raise RuntimeError(f"could not find a new request for {tool} with template {template!r}")
    call = compact({"name": tool, "arguments": arguments})
    messages = [{"role": "user", "content": request}, {"role": "assistant", "content": call}]
    if step == "call":
        return {"tool": tool, "step": step, "outcome": None, "messages": messages,
                "facts": [str(v) for v in arguments.values()], "request": request}
    result = draw_result(tool, arguments, rng, failure)
    outcome = "failure" if failure else "ok"
    fields = arguments | result
    answer = TOOLS[tool][2][outcome].format(**fields)
    messages += [{"role": "tool", "content": compact(result)}, {"role": "assistant", "content": answer}]
    facts = [fact.format(**fields) for fact in FACTS[(tool, outcome)]]
    return {"tool": tool, "step": step, "outcome": outcome, "messages": messages, "facts": facts, "request": request}


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Train and test examples, each shuffled."""
    taken: set[str] = set()
    train, test = [], []
    for tool, (_, templates, _) in TOOLS.items():
        for i in range(TRAIN_PER_TOOL):
            step = "call" if i % 2 == 0 else "answer"
            train.append(make_example(tool, rng.choice(templates[:-1]), step, rng, rng.random() < FAILURE_RATE,
                                      False, taken))
    for tool, (_, templates, _) in TOOLS.items():
        for j in range(TEST_PER_TOOL):
            template = templates[-1] if j < HELD_OUT_TEMPLATE_PER_TOOL else rng.choice(templates[:-1])
            step = "call" if j % 2 == 0 else "answer"
            held_out = j % HELD_OUT_VALUE_EVERY == 1
            test.append(make_example(tool, template, step, rng, rng.random() < FAILURE_RATE, held_out, taken))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def check(train: list[dict], test: list[dict]) -> None:
    """Assert sizes, uniqueness, the held-out design, message shapes and that facts are in their references."""
    assert (len(train), len(test)) == (len(TOOLS) * TRAIN_PER_TOOL, len(TOOLS) * TEST_PER_TOOL)
    requests = [r["request"] for r in train + test]
    assert len(set(requests)) == len(requests), "a request occurs twice"
    test_only = [v for pool in (CITIES, UNKNOWN_CITIES, FOODS, RESTAURANTS) for v in pool[1]]
    held_out_prefixes = [templates[-1].split("{")[0] for _, templates, _ in TOOLS.values()]
    for r in train:
        text = " ".join(m["content"] for m in r["messages"])
        assert not any(v in text for v in test_only), f"test-only value in train: {text}"
        assert not any(p and r["request"].startswith(p) for p in held_out_prefixes), f"test-only phrasing: {text}"
    for split in (train, test):
        calls = sum(r["step"] == "call" for r in split)
        assert calls * 2 == len(split), "calls and answers are not balanced"
        failures = sum(r["outcome"] == "failure" for r in split)
        assert 0.2 * len(split) / 2 < failures < 0.5 * len(split) / 2, f"{failures} failures"
    for r in train + test:
        roles = [m["role"] for m in r["messages"]]
        assert roles == (["user", "assistant"] if r["step"] == "call" else ["user", "assistant", "tool", "assistant"])
        call = json.loads(r["messages"][1]["content"])
        assert compact(call) == r["messages"][1]["content"] and call["name"] == r["tool"]
        prompt = " ".join(m["content"] for m in r["messages"][:-1])
        for fact in r["facts"]:
            assert fact in r["messages"][-1]["content"], f"fact {fact!r} not in {r['messages'][-1]['content']!r}"
        if r["step"] == "answer":
            tool_result = json.loads(r["messages"][2]["content"])
            assert all(str(v) in prompt for v in tool_result.values() if not isinstance(v, bool))
        assert len(" ".join(m["content"] for m in r["messages"]).split()) < 60


def write(path: Path, split: str, rows: list[dict]) -> None:
    """One JSON object per line: id, tool, step, outcome (answers), messages, facts."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "tool": r["tool"], "step": r["step"]}
            if r["outcome"]:
                row["outcome"] = r["outcome"]
            row |= {"messages": r["messages"], "facts": r["facts"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits."""
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    test_only = [v for pool in (CITIES, UNKNOWN_CITIES, FOODS, RESTAURANTS) for v in pool[1]]
    n_values = sum(any(v in r["request"] for v in test_only) for r in test)
    n_failures = sum(r["outcome"] == "failure" for r in test)
    print(f"agent_tools_multistep: {len(train)} train, {len(test)} test ({n_failures} test answers relay a failure, "
          f"{len(TOOLS) * HELD_OUT_TEMPLATE_PER_TOOL} with test-only phrasings, {n_values} with test-only values)")


if __name__ == "__main__":
    main()
