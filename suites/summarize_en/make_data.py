"""Generate the summarize_en suite: short news-like paragraphs, each summarised in one sentence.

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

Run: python suites/summarize_en/make_data.py
"""
from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20240615
HERE = Path(__file__).resolve().parent
TRAIN_PER_EVENT = 75  # 8 seen events -> 600
TEST_SEEN_EVENTS, TEST_HELD_OUT_EVENT = 100, 20
HELD_OUT_VALUE_EVERY = 3

# Value pools: (seen in training, test only).
CITIES = (["Bristol", "Leeds", "Austin", "Calgary", "Perth", "Hamburg", "Turin", "Osaka", "Auckland", "Valencia",
           "Krakow", "Quebec"], ["Tampere", "Durban"])
WHO = {
    "company": (["Norda Motors", "Brightline Foods", "Kestrel Tech", "Alder Steel", "Solvent Labs", "Harbor Paper",
                 "Vantage Tools", "Maple Textiles"], ["Quill Robotics", "Orion Glass"]),
    "foundation": (["the Hope Foundation", "the Green Future Trust", "the Helping Hands Fund", "the Open Doors Society",
                    "the Bright Minds Trust", "the Care Circle Foundation"],
                   ["the Kind Steps Trust", "the New Leaf Fund"]),
    "university": (["Westfield University", "Lakeside University", "the Northern Institute", "Riverside College",
                    "Stonebridge University", "the Coastal Institute"], ["Highmoor University", "Elmstead College"]),
    "team": (["the Falcons", "the Rovers", "the Tigers", "the Wolves", "the Comets", "the Hawks"],
             ["the Pilots", "the Lynx"]),
    "utility": (["City Power", "Northgrid", "Volta Energy", "Sunridge Power"], ["Peak Electric", "Bluewire"]),
    "mayor": (["Mayor Ellis", "Mayor Brooks", "Mayor Patel", "Mayor Novak", "Mayor Grant", "Mayor Silva"],
              ["Mayor Okafor", "Mayor Lindqvist"]),
}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]

# Per event: who's kind, the key number's range, lead sentences, key-number sentences, an optional
# sentence about who (for events whose lead does not name them), and the summary.
# Placeholders: {who} {Who} (sentence start) {city} {date} {n}.
EVENTS = {
    "factory": ("company", (120, 2400), [
        "{Who} opened a new factory in {city} on {date}.",
        "On {date}, {who} opened a new factory in {city}.",
    ], ["The plant will employ {n} workers.", "It is expected to create {n} jobs."], None,
        "{Who} opened a factory in {city} on {date} that will employ {n} workers."),
    "festival": ("foundation", (1500, 40000), [
        "{Who} opened the annual food festival in {city} on {date}.",
        "The annual food festival run by {who} opened in {city} on {date}.",
    ], ["Organisers counted {n} visitors on the first day.", "About {n} people came on the first day."], None,
        "The food festival run by {who} opened in {city} on {date} and drew {n} visitors on its first day."),
    "discovery": ("university", (40, 900), [
        "Researchers from {who} reported a new species of frog near {city} on {date}.",
        "On {date}, researchers from {who} said they had found a new frog species near {city}.",
    ], ["The team studied {n} samples over two years.", "They examined {n} samples before making the claim."], None,
        "Researchers from {who} reported a new frog species near {city} on {date} after studying {n} samples."),
    "budget": ("mayor", (12, 480), [
        "The {city} city council approved a new budget on {date}.",
        "On {date}, the city council of {city} voted for a new budget.",
    ], ["It sets aside {n} million dollars for schools and roads.",
        "The plan includes {n} million dollars for schools and roads."], "{Who} called it a fair plan.",
        "The {city} city council approved a budget on {date} with {n} million dollars for schools and roads."),
    "cup_final": ("team", (5000, 60000), [
        "{Who} won the national cup final in {city} on {date}.",
        "On {date}, {who} won the national cup final in {city}.",
    ], ["The match was watched by {n} fans in the stadium.", "A crowd of {n} fans saw the game."], None,
        "{Who} won the national cup final in {city} on {date} in front of {n} fans."),
    "storm": ("utility", (800, 45000), [
        "A strong storm hit {city} on {date}.",
        "On {date}, a strong storm swept through {city}.",
    ], ["It left {n} homes without power.", "About {n} homes lost power."],
        "{Who} said its crews were working to restore power.",
        "A storm hit {city} on {date} and left {n} homes without power, {who} said."),
    "charity_run": ("foundation", (2000, 95000), [
        "{Who} held a charity run in {city} on {date}.",
        "On {date}, {who} held a charity run in {city}.",
    ], ["The event raised {n} dollars for the local hospital.", "Runners raised {n} dollars for the local hospital."],
        None, "{Who} held a charity run in {city} on {date} that raised {n} dollars for the local hospital."),
    "school": ("company", (150, 1800), [
        "A new school opened in {city} on {date}.",
        "On {date}, {city} opened a new school.",
    ], ["It has room for {n} students.", "The school will teach {n} students."], "It was built by {who}.",
        "A new school for {n} students, built by {who}, opened in {city} on {date}."),
    # Only in test.
    "exhibition": ("foundation", (900, 30000), [
        "{Who} opened an exhibition of old maps in {city} on {date}.",
        "On {date}, {who} opened an exhibition of old maps in {city}.",
    ], ["It drew {n} visitors in its first week.", "More than {n} people visited in the first week."], None,
        "{Who} opened an exhibition of old maps in {city} on {date} that drew {n} visitors in its first week."),
}
HELD_OUT_EVENT = "exhibition"
# Background sentences; their numbers are not the key number and stay out of the summary.
BACKGROUND = [
    "Local residents welcomed the news.",
    "Officials said more details would follow.",
    "It was the first event of its kind since {year}.",
    "Preparations took {months} months.",
    "The weather was mild for the time of year.",
    "A spokesperson called the day a success.",
    "Similar plans were discussed {years} years ago.",
    "Further updates are expected next week.",
]


def capitalise(text: str) -> str:
    """`text` with its first letter in upper case ("the Falcons" -> "The Falcons")."""
    return text[0].upper() + text[1:]


def paragraph(event: str, rng: random.Random, held_out_values: bool) -> tuple[str, str, list[str]]:
    """A paragraph about one `event`, its summary and the slot values the summary carries."""
    kind, (low, high), leads, numbers, about_who, summary = EVENTS[event]
    pool = 1 if held_out_values else 0
    who = rng.choice(WHO[kind][pool])
    n = rng.randint(low, high)
    if n >= 1000:
        n = n // 10 * 10  # big counts are rounded in reports
    slots = {"who": who, "Who": capitalise(who), "city": rng.choice(CITIES[pool]),
             "date": f"{rng.choice(MONTHS)} {rng.randint(1, 28)}", "n": f"{n:,}",
             "year": rng.randint(1990, 2015), "months": rng.randint(2, 18), "years": rng.randint(2, 12)}
    # The lead comes first; the key number, who and background follow in any order.
    rest = [rng.choice(numbers)] + ([about_who] if about_who else [])
    rest += rng.sample(BACKGROUND, rng.choice([3, 4]) - 1 - len(rest))
    rng.shuffle(rest)
    sentences = [rng.choice(leads)] + rest
    text = " ".join(s.format(**slots) for s in sentences)
    facts = [str(slots[k]) for k in ("city", "date", "n")] + ([who] if "who}" in summary.lower() else [])
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
        n_sentences = r["prompt"].count(". ") + 1
        assert 3 <= n_sentences <= 4, r["prompt"]
        assert r["completion"].count(". ") == 0 and r["completion"].endswith("."), r["completion"]
        for value in r["slots"]:
            # Case-insensitive: a name starting a sentence is capitalised ("the Falcons" -> "The Falcons").
            assert value.lower() in r["prompt"].lower() and value.lower() in r["completion"].lower(), r
        assert len((r["prompt"] + " " + r["completion"]).split()) <= 110, r["prompt"]


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
    print(f"summarize_en: {len(train)} train, {len(test)} test "
          f"({TEST_HELD_OUT_EVENT} of a test-only event, {n_values} with test-only names and places)")


if __name__ == "__main__":
    main()
