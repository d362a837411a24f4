"""The three scenarios of the episode suites — order food (订餐), book tickets (订票), queries (查询) — in English
and Chinese: each one's environment declaration, its task variants, and the scripted policy that solves a task.

A scenario's `make(rng, lang, variant)` draws one task: the task row (docs/episodes.md) and the policy's turns for
it, in order. The policy knows the user's whole goal but asks for what the opening leaves out, reacts to the
failures the task is built to meet (sold out, no seats, an unknown order number) and ends with an answer that
states the facts the task requires. `generate.py` runs every policy through the episode engine and keeps only
episodes that succeed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from building import COUNT, MAX_TURNS, Case, call, count_ok, fact, obj, task

__all__ = ["SCENARIOS", "Case", "Scenario"]


# ---------------------------------------------------------------------------------------------- order food
DISHES = {"en": {"noodles": 12, "dumplings": 9, "rice": 5, "soup": 8, "fried rice": 10, "tofu": 7, "buns": 6,
                 "salad": 11},
          "zh": {"面条": 12, "饺子": 9, "米饭": 5, "汤": 8, "炒饭": 10, "豆腐": 7, "包子": 6, "沙拉": 11}}
# Every value an agent must pass on comes from a small fixed set (eight addresses, 24 order numbers, 24
# trains), so that a model as small as `tiny` can learn to pass on the one the user named; with free numbers (any
# house number, any 4-digit order number) it learned the calls' shape but not to copy their arguments.
STREETS = {"en": ["Elm Street", "Oak Road", "River Lane", "Park Avenue", "Hill Road", "Lake Street", "Pine Lane",
                  "Maple Road"],
           "zh": ["幸福路", "人民路", "解放路", "长江路", "和平街", "中山路", "建设路", "花园街"]}
FOOD = {
    "en": {
        "add": "Add a dish to the order.", "place": "Place the order.", "bad_count": "The quantity must be 1 to 9.",
        "not_on_menu": "{dish} is not on the menu.", "sold_out": "{dish} is sold out.",
        "placed": "The order is already placed.", "empty": "The order is empty.",
        "added": "Added {quantity} x {dish}; total {total} yuan.",
        "done": "Order placed to {address}; total {total} yuan.",
        "full": ["Please deliver {q} x {dish} to {addr}.", "{q} x {dish} to {addr}, please."],
        "no_quantity": ["I'd like some {dish} delivered to {addr}.", "Can I get {dish} sent to {addr}?"],
        "no_address": ["{q} x {dish}, please.", "I'd like to order {q} x {dish}."],
        "ask_quantity": "How many portions of {dish} would you like?",
        "quantity": (["how many", "quantity"], "{q}, please."),
        "ask_address": "What is the delivery address?", "address": (["address"], "{addr}."),
        "ask_other": "Sorry, {dish} is sold out. Would you like something else instead?",
        "other": (["instead", "something else"], "Then {alt} instead."),
        "otherwise": "I just want my food.",
        "answer": "Order placed: {q} x {dish}, {total} yuan, to {addr}.",
        "address_of": "{n} {street}",
    },
    "zh": {
        "add": "加一道菜到订单。", "place": "提交订单。", "bad_count": "数量须为1到9。",
        "not_on_menu": "菜单上没有{dish}。", "sold_out": "{dish}已售完。",
        "placed": "订单已提交。", "empty": "订单是空的。",
        "added": "已加入{quantity}份{dish}，共{total}元。",
        "done": "订单已提交，送到{address}，共{total}元。",
        "full": ["我要{q}份{dish}，送到{addr}。", "点{q}份{dish}，送{addr}。"],
        "no_quantity": ["我想点{dish}，送到{addr}。", "来点{dish}，送{addr}。"],
        "no_address": ["我要{q}份{dish}。", "帮我点{q}份{dish}。"],
        "ask_quantity": "请问要几份{dish}？", "quantity": (["几份", "多少"], "{q}份。"),
        "ask_address": "请问送餐地址是哪里？", "address": (["地址"], "送到{addr}。"),
        "ask_other": "抱歉，{dish}卖完了。要换别的吗？", "other": (["别的", "换"], "那就换成{alt}吧。"),
        "otherwise": "我只想点餐。",
        "answer": "已下单：{q}份{dish}，共{total}元，送到{addr}。",
        "address_of": "{street}{n}号",
    },
}


HOUSE_NUMBERS = (3, 8, 12, 15, 21, 27, 36, 48)


def addresses(lang: str) -> list[str]:
    """The eight delivery addresses a task draws from: one house number per street."""
    return [FOOD[lang]["address_of"].format(n=n, street=street) for n, street in zip(HOUSE_NUMBERS, STREETS[lang])]


def food_environment(lang: str) -> dict:
    """The restaurant: a menu with prices and stock, and one order that items are added to and that is placed."""
    t = FOOD[lang]
    menu = {dish: {"price": price, "stock": 20} for dish, price in DISHES[lang].items()}
    return {
        "max_turns": MAX_TURNS,
        "state": {"menu": menu, "order": {"items": [], "total": 0, "placed": False, "address": None}},
        "failures": {"not_on_menu": t["not_on_menu"], "sold_out": t["sold_out"], "placed": t["placed"],
                     "empty": t["empty"], "bad_count": t["bad_count"]},
        "tools": [
            {"name": "add_to_order", "description": t["add"],
             "parameters": obj({"dish": {"type": "string"}, "quantity": COUNT}, ["dish", "quantity"]),
             "preconditions": [count_ok("quantity"), {"check": {"exists": "menu.{dish}"}, "fail": "not_on_menu"},
                               {"check": {"ge": [{"get": "menu.{dish}.stock"}, {"arg": "quantity"}]},
                                "fail": "sold_out"}],
             "effects": [{"decrement": "menu.{dish}.stock", "by": {"arg": "quantity"}},
                         {"append": "order.items", "value": {"object": {"dish": {"arg": "dish"},
                                                                       "quantity": {"arg": "quantity"}}}},
                         {"increment": "order.total", "by": {"mul": [{"get": "menu.{dish}.price"},
                                                                     {"arg": "quantity"}]}}],
             "values": {"total": {"get": "order.total"}}, "result": t["added"]},
            {"name": "place_order", "description": t["place"],
             "parameters": obj({"address": {"type": "string"}}, ["address"]),
             "preconditions": [{"check": {"eq": [{"get": "order.placed"}, False]}, "fail": "placed"},
                               {"check": {"gt": [{"len": {"get": "order.items"}}, 0]}, "fail": "empty"}],
             "effects": [{"set": "order.placed", "value": True},
                         {"set": "order.address", "value": {"arg": "address"}}],
             "values": {"total": {"get": "order.total"}}, "result": t["done"]},
        ],
    }


def food_task(rng: random.Random, lang: str, variant: str) -> Case:
    """An order: given whole, or without the quantity or the address (ask), or of a sold-out dish (offer
    another)."""
    t, prices = FOOD[lang], DISHES[lang]
    dish, alt = rng.sample(sorted(prices), 2)
    q = rng.randint(1, 9)
    addr = rng.choice(addresses(lang))
    kind = {"no_quantity": "no_quantity", "no_address": "no_address"}.get(variant, "full")
    opening = rng.choice(t[kind]).format(q=q, dish=dish, addr=addr)
    words, said = t["quantity"]
    facts = [fact("quantity", words, said.format(q=q))]
    words, said = t["address"]
    facts.append(fact("address", words, said.format(addr=addr)))
    plan, state = [], {}
    if variant == "no_quantity":
        plan.append(t["ask_quantity"].format(dish=dish))
    plan.append(call("add_to_order", dish=dish, quantity=q))
    final = dish
    if variant == "sold_out":
        words, said = t["other"]
        facts.append(fact("alternative", words, said.format(alt=alt)))
        state = {"menu": {d: {"price": p, "stock": 0 if d == dish else 20} for d, p in prices.items()}}
        plan += [t["ask_other"].format(dish=dish), call("add_to_order", dish=alt, quantity=q)]
        final = alt
    if variant == "no_address":
        plan.append(t["ask_address"])
    total = prices[final] * q
    plan += [call("place_order", address=addr), t["answer"].format(q=q, dish=final, total=total, addr=addr)]
    expected = {"order": {"items": [{"dish": final, "quantity": q}], "placed": True, "address": addr}}
    row = task(lang, variant, opening, facts, t["otherwise"], state, expected, [final, str(total)])
    row["goal"] = f"Order {q} x {final} to {addr}" + (f" ({dish} is sold out)." if final != dish else ".")
    return Case(row, plan)


# ---------------------------------------------------------------------------------------------- book tickets
_ids = random.Random("episode-ids")
TRAIN_IDS = [f"{'GDK'[i % 3]}{n}" for i, n in enumerate(_ids.sample(range(100, 999), 24))]
ORDER_IDS = [f"A{n}" for n in _ids.sample(range(1000, 9999), 24)]
"""The trains (timetable and queries) and order numbers (queries) a task draws from."""
CITIES = {"en": ["Beijing", "Shanghai", "Nanjing", "Hangzhou", "Wuhan", "Xi'an", "Chengdu", "Guangzhou"],
          "zh": ["北京", "上海", "南京", "杭州", "武汉", "西安", "成都", "广州"]}
TICKETS = {
    "en": {
        "search": "Trains on a route and date (MM-DD).", "book": "Book seats on a train.",
        "bad_count": "Seats must be 1 to 9.", "no_trains": "No trains from {from} to {to} on {date}.",
        "no_train": "There is no train {train}.",
        "no_seats": "{train} has no seats left.", "found": "Trains: {trains}",
        "booked": "Booked {seats} seat(s) on {train}; total {total} yuan.",
        "full": ["Tickets for {p} from {o} to {d} on {date}, please.",
                 "Book a trip for {p} from {o} to {d} on {date}."],
        "no_date": ["Tickets for {p} from {o} to {d}, please.", "I need train tickets for {p} from {o} to {d}."],
        "no_passengers": ["I want train tickets from {o} to {d} on {date}.",
                          "Trains from {o} to {d} on {date}, please."],
        "ask_date": "Which date do you want to travel?", "date": (["date", "which day"], "On {date}."),
        "ask_passengers": "How many tickets do you need?", "passengers": (["how many"], "For {p}."),
        "otherwise": "I just want the tickets.",
        "answer": "Booked {p} seat(s) on {train} at {time}, {total} yuan.",
        "answer_switched": "{full} was full; booked {p} seat(s) on {train} at {time}, {total} yuan.",
    },
    "zh": {
        "search": "查某日（MM-DD）某线路的车次。", "book": "订某车次的座位。",
        "bad_count": "座位数须为1到9。", "no_trains": "{date}没有从{from}到{to}的车次。",
        "no_train": "没有{train}这个车次。",
        "no_seats": "{train}已无余票。", "found": "车次：{trains}",
        "booked": "已订{train}车次{seats}张票，共{total}元。",
        "full": ["订{p}张{date}从{o}到{d}的火车票。", "帮我买{p}张{o}到{d}的票，{date}出发。"],
        "no_date": ["订{p}张从{o}到{d}的火车票。", "帮我买{p}张{o}到{d}的票。"],
        "no_passengers": ["我要买{date}从{o}到{d}的火车票。", "帮我订{date}{o}到{d}的票。"],
        "ask_date": "请问哪天出发？", "date": (["哪天", "日期"], "{date}。"),
        "ask_passengers": "请问要几张票？", "passengers": (["几张"], "{p}张。"),
        "otherwise": "我只想订票。",
        "answer": "已订{train}（{time}发车）{p}张票，共{total}元。",
        "answer_switched": "{full}无票，已改订{train}（{time}发车）{p}张票，共{total}元。",
    },
}


def tickets_environment(lang: str) -> dict:
    """The timetable: trains per route and date with their departure times, and seats and prices per train."""
    t = TICKETS[lang]
    return {
        "max_turns": MAX_TURNS,
        "state": {"routes": {}, "trains": {}, "bookings": []},
        "failures": {"no_trains": t["no_trains"], "no_train": t["no_train"], "no_seats": t["no_seats"],
                     "bad_count": t["bad_count"]},
        "tools": [
            {"name": "search_trains", "description": t["search"],
             "parameters": obj({"from": {"type": "string"}, "to": {"type": "string"}, "date": {"type": "string"}},
                               ["from", "to", "date"]),
             "preconditions": [{"check": {"exists": "routes.{from}.{to}.{date}"}, "fail": "no_trains"}],
             "values": {"trains": {"get": "routes.{from}.{to}.{date}"}}, "result": t["found"]},
            {"name": "book_ticket", "description": t["book"],
             "parameters": obj({"train": {"type": "string"}, "seats": COUNT}, ["train", "seats"]),
             "preconditions": [count_ok("seats"), {"check": {"exists": "trains.{train}"}, "fail": "no_train"},
                               {"check": {"ge": [{"get": "trains.{train}.seats"}, {"arg": "seats"}]},
                                "fail": "no_seats"}],
             "effects": [{"decrement": "trains.{train}.seats", "by": {"arg": "seats"}},
                         {"append": "bookings", "value": {"object": {"train": {"arg": "train"},
                                                                    "seats": {"arg": "seats"}}}}],
             "values": {"total": {"mul": [{"get": "trains.{train}.price"}, {"arg": "seats"}]}},
             "result": t["booked"]},
        ],
    }


def tickets_task(rng: random.Random, lang: str, variant: str) -> Case:
    """A booking: given whole, or without the date or the number of tickets (ask), or whose first train has no
    seats left (book the next one)."""
    t = TICKETS[lang]
    o, d = rng.sample(CITIES[lang], 2)
    date, other_date = (f"12-{day:02d}" for day in rng.sample(range(1, 29), 2))
    p = rng.randint(1, 4)
    ids = rng.sample(TRAIN_IDS, 4)
    hours = sorted(rng.sample(range(6, 22), 4))
    times = [f"{h:02d}:{rng.choice(['00', '15', '30', '45'])}" for h in hours]
    price = rng.randint(10, 90) * 10
    seats = [0 if variant == "no_seats" else rng.randint(p, 20), rng.randint(p, 20), 5, 5]
    state = {"routes": {o: {d: {date: {ids[0]: times[0], ids[1]: times[1]},
                                other_date: {ids[2]: times[2], ids[3]: times[3]}}}},
             "trains": {i: {"seats": s, "price": price} for i, s in zip(ids, seats)}}
    kind = variant if variant in ("no_date", "no_passengers") else "full"
    opening = rng.choice(t[kind]).format(p=p, o=o, d=d, date=date)
    words, said = t["date"]
    facts = [fact("date", words, said.format(date=date))]
    words, said = t["passengers"]
    facts.append(fact("passengers", words, said.format(p=p)))
    plan = [t["ask_" + variant[3:]]] if kind != "full" else []
    plan += [call("search_trains", **{"from": o, "to": d, "date": date}), call("book_ticket", train=ids[0], seats=p)]
    n = 0
    if variant == "no_seats":
        n = 1
        plan.append(call("book_ticket", train=ids[1], seats=p))
    total = price * p
    text = t["answer_switched"] if n else t["answer"]
    plan.append(text.format(full=ids[0], p=p, train=ids[n], time=times[n], total=total))
    expected = {"bookings": [{"train": ids[n], "seats": p}], "trains": {ids[n]: {"seats": seats[n] - p}}}
    row = task(lang, variant, opening, facts, t["otherwise"], state, expected, [ids[n], str(total)])
    row["goal"] = f"Book {p} seat(s) from {o} to {d} on {date}" + (f" ({ids[0]} is full)." if n else ".")
    return Case(row, plan)


# ---------------------------------------------------------------------------------------------- queries
STATUSES = {"en": ["shipped", "out for delivery", "being prepared", "delayed"],
            "zh": ["已发货", "配送中", "备货中", "已延误"]}
QUERIES = {
    "en": {
        "status": "An order's status.", "info": "A train's times and platform.",
        "no_order": "No order {order_id} found.", "no_train": "There is no train {train}.",
        "order_found": "Order {order_id}: {status}, arriving {eta}.",
        "train_found": "{train}: departs {depart}, arrives {arrive}, platform {platform}.",
        "order": ["Where is my order {id}?", "What is the status of order {id}?", "Any news on order {id}?"],
        "train": ["When does {train} leave, and from which platform?", "Tell me about train {train}.",
                  "What time is {train}, and which platform?"],
        "no_id": ["Where is my {dish} order from {day}?", "Can you check my {dish} order from {day}?"],
        "ask_id": "What is your order number?", "id": (["order number"], "It's {id}."),
        "recheck": "I can't find order {bad}. Could you check the order number?",
        "otherwise": "I just want to know about my order.",
        "order_answer": "Order {id} is {status} and should arrive on {eta}.",
        "train_answer": "{train} departs at {depart} from platform {platform} and arrives at {arrive}.",
        "platform": "platform {platform}",
    },
    "zh": {
        "status": "查订单状态。", "info": "查车次的时间和站台。",
        "no_order": "没有找到订单{order_id}。", "no_train": "没有{train}这个车次。",
        "order_found": "订单{order_id}：{status}，预计{eta}送达。",
        "train_found": "{train}：{depart}发车，{arrive}到达，{platform}站台。",
        "order": ["我的订单{id}到哪了？", "查一下订单{id}的状态。", "订单{id}现在怎么样了？"],
        "train": ["{train}几点发车？在哪个站台？", "查一下{train}车次。", "{train}是几点的车？哪个站台？"],
        "no_id": ["我{day}点的{dish}到哪了？", "查一下我{day}点的{dish}。"],
        "ask_id": "请问您的订单号是多少？", "id": (["订单号"], "订单号是{id}。"),
        "recheck": "没有找到订单{bad}。请核对一下订单号。",
        "otherwise": "我只想查询订单。",
        "order_answer": "订单{id}{status}，预计{eta}送达。",
        "train_answer": "{train}{depart}发车，{arrive}到达，在{platform}站台上车。",
        "platform": "{platform}站台",
    },
}


def queries_environment(lang: str) -> dict:
    """An order store and a timetable to look things up in; each successful lookup is logged."""
    t = QUERIES[lang]
    return {
        "max_turns": MAX_TURNS,
        "state": {"orders": {}, "trains": {}, "lookups": []},
        "failures": {"no_order": t["no_order"], "no_train": t["no_train"]},
        "tools": [
            {"name": "order_status", "description": t["status"],
             "parameters": obj({"order_id": {"type": "string"}}, ["order_id"]),
             "preconditions": [{"check": {"exists": "orders.{order_id}"}, "fail": "no_order"}],
             "effects": [{"append": "lookups", "value": {"arg": "order_id"}}],
             "values": {"status": {"get": "orders.{order_id}.status"}, "eta": {"get": "orders.{order_id}.eta"}},
             "result": t["order_found"]},
            {"name": "train_info", "description": t["info"],
             "parameters": obj({"train": {"type": "string"}}, ["train"]),
             "preconditions": [{"check": {"exists": "trains.{train}"}, "fail": "no_train"}],
             "effects": [{"append": "lookups", "value": {"arg": "train"}}],
             "values": {"depart": {"get": "trains.{train}.depart"}, "arrive": {"get": "trains.{train}.arrive"},
                        "platform": {"get": "trains.{train}.platform"}},
             "result": t["train_found"]},
        ],
    }


def queries_task(rng: random.Random, lang: str, variant: str) -> Case:
    """A lookup whose answer must state its facts: an order's status, a train's times and platform; an order
    asked about without its number (ask) or with a wrong one (ask again)."""
    t = QUERIES[lang]
    ids = rng.sample(ORDER_IDS, 3)
    # A slip of the user's: the last two digits swapped, or the last one off by one when they are the same.
    right = ids[0]
    bad = right[:3] + right[4] + right[3] if right[3] != right[4] else right[:4] + str((int(right[4]) + 1) % 10)
    if bad in ids:
        ids.remove(bad)
    orders = {i: {"status": rng.choice(STATUSES[lang]), "eta": f"12-{rng.randint(1, 28):02d}"} for i in ids}
    trains = {}
    for train in rng.sample(TRAIN_IDS, 3):
        h = rng.randint(6, 18)
        trains[train] = {"depart": f"{h:02d}:{rng.choice(['05', '20', '35', '50'])}",
                         "arrive": f"{h + rng.randint(1, 5):02d}:{rng.choice(['10', '40'])}",
                         "platform": rng.randint(1, 12)}
    state = {"orders": orders, "trains": trains}
    words, said = t["id"]
    facts = [fact("order_id", words, said.format(id=ids[0]))]
    target = ids[0]
    if variant == "train":
        train, info = next(iter(trains.items()))
        opening = rng.choice(t["train"]).format(train=train)
        plan = [call("train_info", train=train), t["train_answer"].format(train=train, **info)]
        target, answer_facts = train, [info["depart"], info["arrive"], t["platform"].format(**info)]
    else:
        order = orders[ids[0]]
        if variant == "no_id":
            dish = rng.choice(sorted(DISHES[lang]))
            opening = rng.choice(t["no_id"]).format(dish=dish, day=f"12-{rng.randint(1, 28):02d}")
            plan = [t["ask_id"]]
        elif variant == "wrong_id":
            opening = rng.choice(t["order"]).format(id=bad)
            plan = [call("order_status", order_id=bad), t["recheck"].format(bad=bad)]
        else:
            opening = rng.choice(t["order"]).format(id=ids[0])
            plan = []
        plan += [call("order_status", order_id=ids[0]), t["order_answer"].format(id=ids[0], **order)]
        answer_facts = [order["status"], order["eta"]]
    row = task(lang, variant, opening, facts, t["otherwise"], state, {"lookups": [target]}, answer_facts)
    row["goal"] = f"Learn about {target}" + (f" (first named as {bad})." if variant == "wrong_id" else ".")
    return Case(row, plan)


@dataclass(frozen=True)
class Scenario:
    name: str
    environment: Callable[[str], dict]
    make: Callable[[random.Random, str, str], Case]
    variants: tuple[str, ...]
    """The task variants, drawn in equal numbers."""
    commits: tuple[str, ...]
    """The tools a task cannot succeed without calling (a policy that skips them must fail)."""


SCENARIOS = {s.name: s for s in (
    Scenario("order_food", food_environment, food_task, ("straight", "no_quantity", "no_address", "sold_out"),
             ("place_order",)),
    Scenario("book_tickets", tickets_environment, tickets_task, ("straight", "no_date", "no_passengers",
                                                                 "no_seats"), ("book_ticket",)),
    Scenario("queries", queries_environment, queries_task, ("order", "train", "no_id", "wrong_id"),
             ("order_status", "train_info")),
)}
