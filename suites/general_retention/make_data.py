"""Generate the general_retention suite: general instructions with short exact answers, never trained on.

Writes test.jsonl (160 examples) next to this script, in the "prompt-completion" format; there is
no training split. The suite checks that tuning on the other suites does not make a model worse
at things it was not tuned for. Four kinds, 40 each:
  * arithmetic word problems (addition, subtraction, multiplication, division with whole results);
  * unit conversions between metric and time units (a whole-number answer);
  * capital cities of well-known countries (one city name, ASCII spelling);
  * simple rewrites of a word or phrase (capital letters, spelled backwards, spaces removed,
    a number 1 to 20 in words).
Every prompt says what form the answer takes ("Answer with a number only." and so on), so the
reference is the only right answer. No prompt occurs twice.

Run: python suites/general_retention/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240619
HERE = Path(__file__).resolve().parent
PER_KIND = 40

NAMES = ["Alice", "Bruno", "Chen", "Dara", "Elena", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena"]
ITEMS = ["apples", "pencils", "marbles", "stickers", "cards", "books", "shells", "coins", "stamps", "cups"]
NUMBER = "Answer with a number only."

# (question, answer) for a, b, name, items.
WORD_PROBLEMS = [
    ("{name} has {a} {items} and buys {b} more. How many {items} does {name} have now? " + NUMBER,
     lambda a, b: a + b),
    ("{name} had {a} {items} and gave {b} of them away. How many {items} are left? " + NUMBER,
     lambda a, b: a - b),
    ("A box holds {a} {items}. How many {items} are in {b} boxes? " + NUMBER,
     lambda a, b: a * b),
    ("{name} shares {ab} {items} equally among {b} friends. How many {items} does each friend get? " + NUMBER,
     lambda a, b: a),
]
# (larger unit, smaller unit, how many smaller in one larger).
CONVERSIONS = [("meters", "centimeters", 100), ("kilometers", "meters", 1000), ("kilograms", "grams", 1000),
               ("hours", "minutes", 60), ("minutes", "seconds", 60), ("days", "hours", 24), ("weeks", "days", 7),
               ("years", "months", 12), ("centimeters", "millimeters", 10), ("liters", "milliliters", 1000)]
CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("Japan", "Tokyo"), ("China", "Beijing"), ("Egypt", "Cairo"), ("Canada", "Ottawa"), ("Australia", "Canberra"),
    ("Russia", "Moscow"), ("Greece", "Athens"), ("Norway", "Oslo"), ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"), ("Denmark", "Copenhagen"), ("Poland", "Warsaw"), ("Austria", "Vienna"),
    ("Ireland", "Dublin"), ("Belgium", "Brussels"), ("Hungary", "Budapest"), ("the Czech Republic", "Prague"),
    ("Kenya", "Nairobi"), ("Argentina", "Buenos Aires"), ("Peru", "Lima"), ("Chile", "Santiago"),
    ("India", "New Delhi"), ("South Korea", "Seoul"), ("Thailand", "Bangkok"), ("Turkey", "Ankara"),
    ("Iran", "Tehran"), ("Cuba", "Havana"), ("Vietnam", "Hanoi"), ("the Philippines", "Manila"),
    ("New Zealand", "Wellington"), ("Morocco", "Rabat"), ("Nigeria", "Abuja"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Saudi Arabia", "Riyadh"),
]
CAPITAL_QUESTIONS = ["What is the capital of {country}? Answer with the city name only.",
                     "Name the capital city of {country}. Answer with the city name only."]
WORDS = ["garden", "window", "planet", "silver", "bridge", "candle", "forest", "rocket", "pepper", "castle",
         "river", "summer", "tiger", "pillow", "orange", "ladder", "marble", "jacket", "violin", "harbor"]
NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
# (instruction, answer) for a word w, a two-word phrase p, or a number n.
REWRITES = [
    ("Write the word '{w}' in capital letters. Answer with the word only.", lambda w, p, n: w.upper()),
    ("Spell the word '{w}' backwards. Answer with the result only.", lambda w, p, n: w[::-1]),
    ("Remove the spaces from '{p}'. Answer with the result only.", lambda w, p, n: p.replace(" ", "")),
    ("Write the number {n} in words, in lower case. Answer with the words only.", lambda w, p, n: NUMBER_WORDS[n - 1]),
]


def draw_unique(draw, rng: random.Random, taken: set[str]) -> dict:
    """`draw(rng)` repeated until its prompt is not in `taken`; the prompt is added to it."""
    for _ in range(1000):
        row = draw(rng)
        if row["prompt"] not in taken:
            taken.add(row["prompt"])
            return row
    raise RuntimeError("could not draw a new prompt")


def word_problem(i: int):
    """A drawer of arithmetic word problems of operation `i` (mod the number of operations)."""
    question, answer = WORD_PROBLEMS[i % len(WORD_PROBLEMS)]

    def draw(rng: random.Random) -> dict:
        a, b = rng.randint(3, 25), rng.randint(2, 9)
        if i % len(WORD_PROBLEMS) == 1:
            a += b  # enough to give away
        prompt = question.format(name=rng.choice(NAMES), a=a, b=b, ab=a * b, items=rng.choice(ITEMS))
        return {"category": "arithmetic", "prompt": prompt, "completion": str(answer(a, b))}
    return draw


def conversion(i: int):
    """A drawer of conversions for unit pair `i` (mod the number of pairs)."""
    large, small, factor = CONVERSIONS[i % len(CONVERSIONS)]

    def draw(rng: random.Random) -> dict:
        n = rng.randint(2, 12)
        return {"category": "conversion", "prompt": f"How many {small} are in {n} {large}? {NUMBER}",
                "completion": str(n * factor)}
    return draw


def rewrite(i: int):
    """A drawer of rewrites of kind `i` (mod the number of kinds)."""
    instruction, answer = REWRITES[i % len(REWRITES)]

    def draw(rng: random.Random) -> dict:
        w, p, n = rng.choice(WORDS), " ".join(rng.sample(WORDS, 2)), rng.randint(1, 20)
        return {"category": "rewrite", "prompt": instruction.format(w=w, p=p, n=n), "completion": answer(w, p, n)}
    return draw


def build(rng: random.Random) -> list[dict]:
    """All examples, shuffled: PER_KIND of each kind, an equal share of each operation, unit pair or rewrite."""
    taken: set[str] = set()
    rows = [draw_unique(make(i), rng, taken) for make in (word_problem, conversion, rewrite) for i in range(PER_KIND)]
    rows += [draw_unique(lambda r, c=country, city=city: {
        "category": "capital", "prompt": r.choice(CAPITAL_QUESTIONS).format(country=c), "completion": city},
        rng, taken) for country, city in CAPITALS]
    rng.shuffle(rows)
    return rows


def check(rows: list[dict]) -> None:
    """Assert the size, uniqueness and that every answer is short and recomputes from its prompt."""
    assert len(rows) == 4 * PER_KIND and len(CAPITALS) == PER_KIND
    assert len({r["prompt"] for r in rows}) == len(rows), "a prompt occurs twice"
    assert len({c for c, _ in CAPITALS}) == len(CAPITALS)
    for r in rows:
        assert r["completion"] and len(r["completion"]) <= 20 and r["completion"].isascii(), r
        assert r["prompt"].endswith("only."), r["prompt"]
        if r["category"] in ("arithmetic", "conversion"):
            assert r["completion"].isdigit() and int(r["completion"]) > 0, r
        if r["category"] == "conversion":  # recompute from the prompt's text
            words = r["prompt"].split()
            n, small, large = int(words[5]), words[2], words[6].rstrip("?")
            factor = next(f for lg, sm, f in CONVERSIONS if (lg, sm) == (large, small))
            assert int(r["completion"]) == n * factor, r


def write(path: Path, rows: list[dict]) -> None:
    """One JSON object per line: id, category, prompt, completion."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"test-{i:05d}", "category": r["category"], "prompt": r["prompt"],
                   "completion": r["completion"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write the test split."""
    rows = build(random.Random(SEED))
    check(rows)
    write(HERE / "test.jsonl", rows)
    print(f"general_retention: {len(rows)} test examples, {PER_KIND} per kind")


if __name__ == "__main__":
    main()
