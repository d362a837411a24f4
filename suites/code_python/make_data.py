"""Generate the code_python suite: a request in English for one small Python function, and the function.

Writes train.jsonl (608 examples) and test.jsonl (152 examples) next to this script, in the
"prompt-completion" format (prompt: the request; completion: a canonical solution, plain code
without markdown fences). Each line also has "tests": 4 `assert` lines that call the function;
the harness runs them against the model's output.

Requests come from 19 families of simple functions (arithmetic with a constant, string edits,
list filters and aggregates, predicates, unit conversions). Each family is parametrised by the
function's name, its argument's name and, for most, a constant, and has one code template, so
the solution is determined by the request. Every request names the function and its argument.

The test split measures generalisation, not recall:
  * each family has one request phrasing that appears only in test (2 of its 8 test examples);
  * constants (numbers, words, letters, unit pairs) and name stems have test-only values
    (3 and 2 of each family's 8 test examples use them, where the family has them);
No request occurs twice, within a split or across splits.

Before writing, every reference is executed with its tests, which must pass, and the tests must
fail for a neighbouring solution (another constant or variant of the family) and for a function
that returns its argument unchanged: they tell right from wrong.

Run: python suites/code_python/make_data.py
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

SEED = 20240617
HERE = Path(__file__).resolve().parent
TRAIN_PER_FAMILY, TEST_PER_FAMILY = 32, 8

# Argument names by kind, and the inputs tests call the function with.
ARGS = {"number": ["x", "n", "value", "num"], "text": ["s", "word", "txt", "phrase"],
        "list": ["numbers", "values", "nums", "items"]}
INPUTS: dict[str, list[Any]] = {
    "number": [-7, -3, 0, 1, 4, 5, 7, 9, 12, 16, 18, 24, 25, 27, 30, 33, 36, 40, 49, 100],
    "text": ["level", "hello", "abba", "Python", "banana", "racecar", "Data", "a", "moon", "kayak", "zebra",
             "xylophone", "dream", "pizza", "window", "noon", "hi", "cat", "elephant"],
    "list": [[1, 5, 9], [3, -2, 8, 8], [10], [4, 4, 4, 7], [0, 12, 6, 15, 2], [-5, 20, 3], [9, 2, 11, 2, 16],
             [5, 5, 1], [7, 7, 7, 0], [2, 12, 12, 3], [6, 9, 9, 9], [8, 0, 0, 4, 8], [11, 3, 4, 1, 1, 1]],
}

AGGREGATES: dict[str, Callable[[list[int]], int]] = {"sum": sum, "max": max, "min": min, "len": len}

# A family: argument kind; the parameter values (seen in training, test only); the name stems
# (seen, test only); the request phrasings (the last one only in test); the code template; and the
# expected result for an input, computed independently of the code. Placeholders: {name} {a}
# (the argument) and {p} (the parameter; for tuples {p0} {p1} {p2}).
Family = tuple[str, tuple[list[Any], list[Any]], tuple[list[str], list[str]], list[str], str, Callable[[Any, Any], Any]]
FAMILIES: dict[str, Family] = {
    "add": ("number", ([2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20], [11, 13, 17, 25]),
            (["add_{p}", "plus_{p}", "increment_by_{p}"], ["bump_by_{p}"]), [
        "Write a Python function {name}({a}) that returns {a} plus {p}.",
        "Define {name}({a}) so that it adds {p} to {a} and returns the result.",
        "Create a function called {name} that takes a number {a} and returns {a} + {p}.",
        "Implement {name}({a}): the result is {p} more than {a}.",
    ], "def {name}({a}):\n    return {a} + {p}", lambda p, x: x + p),
    "subtract": ("number", ([2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20], [11, 13, 17, 25]),
                 (["subtract_{p}", "minus_{p}", "decrease_by_{p}"], ["drop_by_{p}"]), [
        "Write a Python function {name}({a}) that returns {a} minus {p}.",
        "Define {name}({a}) so that it subtracts {p} from {a} and returns the result.",
        "Create a function called {name} that takes a number {a} and returns {a} - {p}.",
        "Implement {name}({a}): the result is {p} less than {a}.",
    ], "def {name}({a}):\n    return {a} - {p}", lambda p, x: x - p),
    "multiply": ("number", ([2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20], [11, 13, 17, 25]),
                 (["times_{p}", "multiply_by_{p}", "scale_by_{p}"], ["grow_{p}_fold"]), [
        "Write a Python function {name}({a}) that returns {a} multiplied by {p}.",
        "Define {name}({a}) so that it multiplies {a} by {p} and returns the result.",
        "Create a function called {name} that takes a number {a} and returns {a} * {p}.",
        "Implement {name}({a}): the result is {p} times {a}.",
    ], "def {name}({a}):\n    return {a} * {p}", lambda p, x: x * p),
    "remainder": ("number", ([2, 3, 4, 5, 6, 7, 8, 9, 10, 12], [11, 13, 14]),
                  (["mod_{p}", "remainder_{p}", "modulo_{p}"], ["leftover_{p}"]), [
        "Write a Python function {name}({a}) that returns the remainder of {a} divided by {p}.",
        "Define {name}({a}) so that it returns {a} modulo {p}.",
        "Create a function called {name} that takes an integer {a} and returns {a} % {p}.",
        "Implement {name}({a}): what is left over when {a} is divided by {p}?",
    ], "def {name}({a}):\n    return {a} % {p}", lambda p, x: x % p),
    "repeat": ("text", ([2, 3, 4, 5, 6], [7, 8, 9]), (["repeat_{p}", "times_{p}_text", "copy_{p}"], ["echo_{p}"]), [
        "Write a Python function {name}({a}) that returns the string {a} repeated {p} times.",
        "Define {name}({a}) so that it returns {p} copies of the string {a} joined together.",
        "Create a function called {name} that takes a string {a} and returns {a} * {p}.",
        "Implement {name}({a}): glue {p} copies of the text {a} one after another.",
    ], "def {name}({a}):\n    return {a} * {p}", lambda p, x: x * p),
    "prefix": ("text", (["re", "un", "pre", "super", "mini", "over", "sub", "co"], ["hyper", "anti"]),
               (["add_{p}", "prefix_{p}", "with_{p}"], ["start_with_{p}"]), [
        "Write a Python function {name}({a}) that returns the string {a} with '{p}' added in front.",
        "Define {name}({a}) so that it puts the prefix '{p}' before {a} and returns the result.",
        "Create a function called {name} that takes a string {a} and returns '{p}' + {a}.",
        "Implement {name}({a}): prepend '{p}' to the text {a}.",
    ], "def {name}({a}):\n    return '{p}' + {a}", lambda p, x: p + x),
    "count_char": ("text", (list("abcdelmnoy"), list("krt")),
                   (["count_{p}", "number_of_{p}", "how_many_{p}"], ["tally_{p}"]), [
        "Write a Python function {name}({a}) that returns how many times the letter '{p}' occurs in {a}.",
        "Define {name}({a}) so that it counts the letter '{p}' in the string {a}.",
        "Create a function called {name} that takes a string {a} and returns {a}.count('{p}').",
        "Implement {name}({a}): the number of '{p}' characters in the text {a}.",
    ], "def {name}({a}):\n    return {a}.count('{p}')", lambda p, x: x.count(p)),
    "change_case": ("text", (["upper", "lower"], []), (["to_{p}", "make_{p}", "{p}_case", "as_{p}"], ["all_{p}"]), [
        "Write a Python function {name}({a}) that returns the string {a} in {p} case.",
        "Define {name}({a}) so that it converts {a} to {p} case.",
        "Create a function called {name} that takes a string {a} and returns {a}.{p}().",
        "Implement {name}({a}): every letter of the text {a} in {p} case.",
    ], "def {name}({a}):\n    return {a}.{p}()", lambda p, x: x.upper() if p == "upper" else x.lower()),
    "reverse": ("text", ([None], []), (["reverse", "reversed_text", "flip", "backwards"], ["mirror"]), [
        "Write a Python function {name}({a}) that returns the string {a} reversed.",
        "Define {name}({a}) so that it returns the characters of {a} in reverse order.",
        "Create a function called {name} that takes a string {a} and returns {a}[::-1].",
        "Implement {name}({a}): the text {a} read from right to left.",
    ], "def {name}({a}):\n    return {a}[::-1]", lambda p, x: x[::-1]),
    "palindrome": ("text", ([None], []), (["is_palindrome", "palindrome", "reads_same", "check_palindrome"],
                                          ["symmetric"]), [
        "Write a Python function {name}({a}) that returns True if the string {a} is a palindrome.",
        "Define {name}({a}) so that it checks whether {a} reads the same backwards.",
        "Create a function called {name} that takes a string {a} and returns {a} == {a}[::-1].",
        "Implement {name}({a}): True when the text {a} equals its own reverse, else False.",
    ], "def {name}({a}):\n    return {a} == {a}[::-1]", lambda p, x: x == x[::-1]),
    "keep_above": ("list", ([0, 1, 2, 3, 4, 5, 6, 8, 10], [7, 9, 11]),
                   (["keep_above_{p}", "greater_than_{p}", "over_{p}"], ["filter_big_{p}"]), [
        "Write a Python function {name}({a}) that returns the numbers in the list {a} that are greater than {p}.",
        "Define {name}({a}) so that it keeps only the items of {a} bigger than {p}.",
        "Create a function called {name} that takes a list {a} and returns [x for x in {a} if x > {p}].",
        "Implement {name}({a}): a new list with the elements of {a} above {p}, in order.",
    ], "def {name}({a}):\n    return [x for x in {a} if x > {p}]", lambda p, xs: [x for x in xs if x > p]),
    "aggregate": ("list", (["sum", "max", "min", "len"], []),
                  (["list_{p}", "get_{p}", "{p}_of", "compute_{p}"], ["find_{p}"]), [
        "Write a Python function {name}({a}) that returns {p}({a}) for the list {a}.",
        "Define {name}({a}) so that it applies the built-in {p} to the list {a}.",
        "Create a function called {name} that takes a list {a} and returns the result of {p} on it.",
        "Implement {name}({a}): call {p} on the list {a} and return it.",
    ], "def {name}({a}):\n    return {p}({a})", lambda p, xs: AGGREGATES[p](xs)),
    "count_value": ("list", ([0, 1, 2, 3, 4, 5, 6, 8], [7, 9, 12]),
                    (["count_{p}s", "how_many_{p}", "occurrences_of_{p}"], ["tally_{p}"]), [
        "Write a Python function {name}({a}) that returns how many times {p} occurs in the list {a}.",
        "Define {name}({a}) so that it counts the items of {a} equal to {p}.",
        "Create a function called {name} that takes a list {a} and returns {a}.count({p}).",
        "Implement {name}({a}): the number of elements of {a} that are {p}.",
    ], "def {name}({a}):\n    return {a}.count({p})", lambda p, xs: xs.count(p)),
    "scale_list": ("list", ([2, 3, 4, 5, 6, 10], [7, 8, 9]), (["scale_{p}", "times_{p}_all", "multiply_all_{p}"],
                                                            ["stretch_{p}"]), [
        "Write a Python function {name}({a}) that returns a list with every number in {a} multiplied by {p}.",
        "Define {name}({a}) so that it multiplies each item of the list {a} by {p}.",
        "Create a function called {name} that takes a list {a} and returns [x * {p} for x in {a}].",
        "Implement {name}({a}): {p} times each element of {a}, as a new list.",
    ], "def {name}({a}):\n    return [x * {p} for x in {a}]", lambda p, xs: [x * p for x in xs]),
    "parity": ("number", ([(0, "even"), (1, "odd")], []), (["is_{p1}", "check_{p1}", "{p1}_number"], ["test_{p1}"]), [
        "Write a Python function {name}({a}) that returns True if the integer {a} is {p1}.",
        "Define {name}({a}) so that it checks whether {a} is an {p1} number.",
        "Create a function called {name} that takes an integer {a} and returns {a} % 2 == {p0}.",
        "Implement {name}({a}): True exactly when {a} is {p1}, else False.",
    ], "def {name}({a}):\n    return {a} % 2 == {p0}", lambda p, x: x % 2 == p[0]),
    "divisible": ("number", ([3, 4, 5, 6, 7, 9, 10], [8, 11, 12]),
                  (["divisible_by_{p}", "is_multiple_of_{p}", "multiple_of_{p}"], ["splits_by_{p}"]), [
        "Write a Python function {name}({a}) that returns True if {a} is divisible by {p}.",
        "Define {name}({a}) so that it checks whether {a} is a multiple of {p}.",
        "Create a function called {name} that takes an integer {a} and returns {a} % {p} == 0.",
        "Implement {name}({a}): True when {p} divides {a} with no remainder.",
    ], "def {name}({a}):\n    return {a} % {p} == 0", lambda p, x: x % p == 0),
    "starts_with": ("text", (["a", "b", "d", "h", "l", "m", "p", "r"], ["k", "x", "z"]),
                    (["starts_with_{p}", "begins_with_{p}", "first_is_{p}"], ["opens_with_{p}"]), [
        "Write a Python function {name}({a}) that returns True if the string {a} starts with '{p}'.",
        "Define {name}({a}) so that it checks whether {a} begins with '{p}'.",
        "Create a function called {name} that takes a string {a} and returns {a}.startswith('{p}').",
        "Implement {name}({a}): True when the text {a} opens with the letter '{p}'.",
    ], "def {name}({a}):\n    return {a}.startswith('{p}')", lambda p, x: x.startswith(p)),
    "longer_than": ("text", ([1, 2, 3, 4, 5, 6], [7, 8]),
                    (["longer_than_{p}", "is_long_{p}", "more_than_{p}_chars"], ["exceeds_{p}"]), [
        "Write a Python function {name}({a}) that returns True if the string {a} has more than {p} characters.",
        "Define {name}({a}) so that it checks whether {a} is longer than {p} characters.",
        "Create a function called {name} that takes a string {a} and returns len({a}) > {p}.",
        "Implement {name}({a}): True when the length of the text {a} exceeds {p}.",
    ], "def {name}({a}):\n    return len({a}) > {p}", lambda p, x: len(x) > p),
    "convert": ("number", ([("hours", "minutes", 60), ("minutes", "seconds", 60), ("kilometers", "meters", 1000),
                            ("meters", "centimeters", 100), ("days", "hours", 24), ("weeks", "days", 7)],
                           [("kilograms", "grams", 1000), ("years", "months", 12)]),
                (["{p0}_to_{p1}", "convert_{p0}_to_{p1}", "{p1}_from_{p0}"], ["turn_{p0}_into_{p1}"]), [
        "Write a Python function {name}({a}) that converts {a} {p0} to {p1}.",
        "Define {name}({a}) so that it returns the number of {p1} in {a} {p0}.",
        "Create a function called {name} that takes {a} in {p0} and returns {a} * {p2}, the value in {p1}.",
        "Implement {name}({a}): how many {p1} are {a} {p0}?",
    ], "def {name}({a}):\n    return {a} * {p2}", lambda p, x: x * p[2]),
}


def fill(template: str, name: str, arg: str, param) -> str:
    """`template` with the function name, argument and parameter (a tuple fills {p0} {p1} {p2})."""
    parts = {f"p{i}": v for i, v in enumerate(param)} if isinstance(param, tuple) else {"p": param}
    return template.format(name=name, a=arg, **parts)


def wrong_solutions(family: str, name: str, arg: str, param) -> list[str]:
    """Solutions a test set must reject: the family's code with any other parameter, and the identity."""
    _, params, _, _, code, _ = FAMILIES[family]
    right = fill(code, name, arg, param)
    others = [fill(code, name, arg, other) for other in params[0] + params[1]]
    return [wrong for wrong in others if wrong != right] + [f"def {name}({arg}):\n    return {arg}"]


def tests_for(family: str, name: str, arg: str, param, rng: random.Random) -> str:
    """Four `assert` lines with independently computed results, on inputs that reject every wrong solution."""
    kind, _, _, _, code, expected = FAMILIES[family]
    for _ in range(200):
        inputs = rng.sample(INPUTS[kind], 4)
        tests = "\n".join(f"assert {name}({x!r}) == {expected(param, x)!r}" for x in inputs)
        if all(not passes(wrong, tests) for wrong in wrong_solutions(family, name, arg, param)):
            return tests
    raise RuntimeError(f"no discriminating inputs for {family} with {param!r}")


def passes(code: str, tests: str) -> bool:
    """Whether `tests` pass against `code` (both our own generated source)."""
    namespace: dict = {}
    try:
        exec(code, namespace)  # noqa: S102 - only this script's generated code
        exec(tests, namespace)  # noqa: S102
    except AssertionError:
        return False
    return True


def make_example(family: str, rng: random.Random, held_out_phrasing: bool, held_out_param: bool,
                 held_out_name: bool, taken: set[str]) -> dict:
    """An example whose request is not in `taken`; the request is added to it."""
    kind, params, stems, phrasings, code, _ = FAMILIES[family]
    for _ in range(1000):
        param = rng.choice(params[1] if held_out_param else params[0])
        name = fill(rng.choice(stems[1] if held_out_name else stems[0]), "", "", param)
        arg = rng.choice(ARGS[kind])
        request = fill(phrasings[-1] if held_out_phrasing else rng.choice(phrasings[:-1]), name, arg, param)
        if request not in taken:
            taken.add(request)
            return {"family": family, "prompt": request, "completion": fill(code, name, arg, param),
                    "tests": tests_for(family, name, arg, param, rng), "name": name, "arg": arg, "param": param,
                    "held_out": [k for k, v in (("phrasing", held_out_phrasing), ("constant", held_out_param),
                                                ("name", held_out_name)) if v]}
    raise RuntimeError(f"could not find a new request for {family}")


def build(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """Train and test examples, each shuffled."""
    taken: set[str] = set()
    train = [make_example(f, rng, False, False, False, taken) for f in FAMILIES for _ in range(TRAIN_PER_FAMILY)]
    test = []
    for family, (_, params, _, _, _, _) in FAMILIES.items():
        for j in range(TEST_PER_FAMILY):
            test.append(make_example(family, rng, j in (0, 4), j in (1, 3, 5) and bool(params[1]), j in (2, 5), taken))
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def check(train: list[dict], test: list[dict]) -> None:
    """Assert sizes, uniqueness, the held-out design, and that each test set tells right from wrong."""
    assert (len(train), len(test)) == (len(FAMILIES) * TRAIN_PER_FAMILY, len(FAMILIES) * TEST_PER_FAMILY)
    prompts = [r["prompt"] for r in train + test]
    assert len(set(prompts)) == len(prompts), "a request occurs twice"
    for r in train:
        _, params, stems, phrasings, _, _ = FAMILIES[r["family"]]
        assert r["prompt"] != fill(phrasings[-1], r["name"], r["arg"], r["param"]), "test-only phrasing in train"
        assert r["param"] in params[0], f"test-only constant in train: {r['prompt']}"
        assert r["name"] not in {fill(s, "", "", r["param"]) for s in stems[1]}, f"test-only name: {r['prompt']}"
    for r in train + test:
        assert r["name"].isidentifier() and r["name"] in r["prompt"] and r["arg"] in r["prompt"]
        assert passes(r["completion"], r["tests"]), f"reference fails its tests: {r['completion']!r}"
        for wrong in wrong_solutions(r["family"], r["name"], r["arg"], r["param"]):
            assert not passes(wrong, r["tests"]), f"tests accept {wrong!r} for {r['prompt']!r}"
        assert 3 <= r["tests"].count("assert ") <= 5
        assert len(r["prompt"].split()) + len(r["completion"].split()) < 60


def write(path: Path, split: str, rows: list[dict]) -> None:
    """One JSON object per line: id, family, prompt, completion, tests."""
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, r in enumerate(rows, 1):
            row = {"id": f"{split}-{i:05d}", "family": r["family"], "prompt": r["prompt"],
                   "completion": r["completion"], "tests": r["tests"]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    """Build, check and write both splits."""
    train, test = build(random.Random(SEED))
    check(train, test)
    write(HERE / "train.jsonl", "train", train)
    write(HERE / "test.jsonl", "test", test)
    counts = {k: sum(k in r["held_out"] for r in test) for k in ("phrasing", "constant", "name")}
    print(f"code_python: {len(train)} train, {len(test)} test (test-only: {counts['phrasing']} phrasings, "
          f"{counts['constant']} constants, {counts['name']} name stems)")


if __name__ == "__main__":
    main()
