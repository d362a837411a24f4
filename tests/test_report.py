"""The report site from synthetic run directories (no training): content, statistics present or
absent, pagination and the filter index, escaping, charts, and `harness report` over several runs."""
from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pytest

from bench.synthetic import make_run
from harness.cli import main
from harness.record import load_predictions, load_record
from reports import render_report
from reports.diff import diff_html, tokens
from reports.site import env

from .conftest import copy_run


@pytest.fixture(scope="module")
def stats_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("stats"), stats=True)


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("plain"), stats=False, run_id="20260102-000000-plain")


def pages(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file()}


def index_rows(folder: Path) -> list[list]:
    rows = []
    for path in sorted(folder.glob("search-*.js"), key=lambda p: int(p.stem.split("-")[1])):
        rows += json.loads(path.read_text(encoding="utf-8").split(".concat(", 1)[1].rsplit(");", 1)[0])
    return rows


def regressed_ids(run_dir: Path, suite: str, metric: str, states=("full", "lora")) -> list[str]:
    base = {r.id: r.scores[metric] for r in load_predictions(run_dir, "base", suite)}
    tuned = [{r.id: r.scores[metric] for r in load_predictions(run_dir, s, suite)} for s in states]
    return [i for i in base if base[i] and any(not t[i] for t in tuned)]


def test_overview_shows_intervals_significance_gates_checks_and_provenance(stats_run, tmp_path):
    index = render_report(stats_run, tmp_path / "site")
    assert index == tmp_path / "site" / "index.html"
    html = index.read_text(encoding="utf-8")
    record = load_record(stats_run)
    for backend in ("full", "lora"):
        comps = [c for c in record.comparisons if c.baseline == "base" and c.state == backend]
        gains = sum(c.verdict == "gain" for c in comps)
        losses = sum(c.verdict == "loss" for c in comps)
        assert f"<strong>{backend}</strong>: {gains} significant gain" in html
        assert f"{losses} loss" in html
    em = next(r for r in record.results if (r.state, r.suite, r.metric) == ("lora", "agent_tools", "exact_match"))
    assert f"{em.value:.3f}<span class=\"ci\">[{em.ci_low:.3f}, {em.ci_high:.3f}]</span>" in html
    comp = next(c for c in record.comparisons if (c.suite, c.metric, c.state) == ("agent_tools", "exact_match", "lora")
                and c.baseline == "base")
    assert f"[{comp.ci_low:+.3f}, {comp.ci_high:+.3f}]" in html and "p<sub>Holm</sub>" in html
    assert "Backends head to head" in html and "lora − full" in html
    assert html.count('<span class="pass">pass</span>') >= 6 and "exact_match&gt;=base+0.5" in html
    assert "All 7 <a href=\"#checks\">validity checks</a> pass" in html
    assert 'Data quality: 2 warnings (<a href="data.html">Data page</a>)' in html
    assert "general_en" in html  # retention
    for text in (record.config_key, "b18a098c0ffee", "tok:zh|smooth:exp", "bs:1000|ar:1000", "wilson", "seed"):
        assert text in html
    assert 'href="strategy.html"' in html and 'href="suites/agent_tools/index.html"' in html
    assert "Human ratings" in html


def test_a_run_without_statistics_says_not_computed(plain_run, tmp_path):
    html = render_report(plain_run, tmp_path / "site").read_text(encoding="utf-8")
    assert "significance not computed" in html and "Validity checks not computed" in html
    assert "Retention not computed" in html and 'class="ci"' not in html and "p<sub>Holm</sub>" not in html
    assert "Value intervals</dt><dd><code>not computed" in html
    suite = (tmp_path / "site" / "suites" / "agent_tools" / "index.html").read_text(encoding="utf-8")
    assert "<svg" in suite and "significance not computed" in suite


def test_strategy_and_training_pages(stats_run, tmp_path):
    render_report(stats_run, tmp_path)
    strategy = (tmp_path / "strategy.html").read_text(encoding="utf-8")
    assert "Cost per strategy" in strategy and "Pareto" in strategy and strategy.count("<svg") == 1
    assert "688,768" in strategy and "49,152" in strategy and "7.14" in strategy  # lora's trainable share
    training = (tmp_path / "training.html").read_text(encoding="utf-8")
    assert training.count("<svg") == 1 and ">full<" in training and ">lora<" in training


def test_every_page_is_offline_and_charts_are_small_text_svg(stats_run, tmp_path):
    render_report(stats_run, tmp_path)
    site = pages(tmp_path)
    assert {"index.html", "strategy.html", "training.html", "report.css", "report.js",
            "suites/agent_tools/index.html", "suites/agent_tools/examples-001.html",
            "suites/translate_en_zh/search-1.js"} <= set(site)
    for name, text in site.items():
        assert "http://" not in text and "https://" not in text, name
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(//|[a-z]+:)", text), name
        for svg in re.findall(r"<svg.*?</svg>", text, flags=re.S):
            assert len(svg) < 80_000 and "<text" in svg and "@font-face" not in svg and "<image" not in svg


def test_examples_are_paged_and_the_index_agrees_with_the_predictions(stats_run, tmp_path):
    render_report(stats_run, tmp_path, page_size=100)
    folder = tmp_path / "suites" / "agent_tools"
    files = sorted(p.name for p in folder.glob("examples-*.html"))
    assert files == ["examples-001.html", "examples-002.html", "examples-003.html"]
    row_ids = []
    for name in files:
        row_ids += re.findall(r'<tr id="ex-([^"]+)"', (folder / name).read_text(encoding="utf-8"))
    rows = index_rows(folder)
    assert [r[0] for r in rows] == row_ids and [r[1] for r in rows] == [i // 100 + 1 for i in range(240)]
    regressed = regressed_ids(stats_run, "agent_tools", "exact_match")
    assert [r[0] for r in rows if "R" in r[2]] == regressed and row_ids[:len(regressed)] == regressed
    # regressions first, then failing after tuning, then improved, then the rest; base's order within each
    codes = {r[0]: r[2] for r in rows}
    rank = {i: next((k for k, c in enumerate("RFI") if c in codes[i]), 3) for i in codes}
    assert row_ids == sorted((r.id for r in load_predictions(stats_run, "base", "agent_tools")), key=rank.get)
    suite = (folder / "index.html").read_text(encoding="utf-8")
    for name in files:
        assert f'href="{name}"' in suite  # without JavaScript every page is reachable


def test_a_large_index_is_split_into_files_under_the_limit(stats_run, tmp_path, monkeypatch):
    monkeypatch.setattr("reports.examples.INDEX_CHUNK_BYTES", 10_000)
    render_report(stats_run, tmp_path)
    folder = tmp_path / "suites" / "agent_tools"
    files = list(folder.glob("search-*.js"))
    assert len(files) > 3 and all(f.stat().st_size < 10_200 for f in files)
    assert sorted(r[0] for r in index_rows(folder)) == sorted(r.id for r in load_predictions(stats_run, "base",
                                                                                              "agent_tools"))
    names = " ".join(sorted((f.name for f in files), key=lambda n: int(n[7:-3])))
    assert f'data-index="{names}"' in (folder / "examples-001.html").read_text(encoding="utf-8")


def test_rerendering_removes_pages_a_longer_render_left(stats_run, tmp_path):
    render_report(stats_run, tmp_path, page_size=50)
    assert (tmp_path / "suites" / "agent_tools" / "examples-005.html").is_file()
    render_report(stats_run, tmp_path)
    assert sorted(p.name for p in (tmp_path / "suites" / "agent_tools").glob("examples-*")) == ["examples-001.html"]


def test_diff_is_word_level_and_character_level_for_cjk():
    assert tokens("我喜欢鱼。") == ["我", "喜", "欢", "鱼", "。"]
    assert tokens('Hi, {"a": 1}') == ["Hi", ",", " ", "{", '"', "a", '"', ":", " ", "1", "}"]
    for text in ("  two  spaces\tand\nlines ", "混合 text 和中文！", ""):
        assert "".join(tokens(text)) == text
    assert str(diff_html("我喜欢猫。", "我喜欢鱼。")) == "我喜欢<del>鱼</del><ins>猫</ins>。"
    assert str(diff_html("the cat sat", "the dog sat")) == "the <del>dog </del><ins>cat </ins>sat"
    assert str(diff_html("same", "same")) == "same"
    assert str(diff_html("<b>x</b>", "y")) == "<del>y</del><ins>&lt;b&gt;x&lt;/b&gt;</ins>"


def test_hostile_data_is_text_in_every_file(tmp_path):
    run = make_run(tmp_path, hostile=True, run_id="hostile")
    out = tmp_path / "site"
    render_report(run, out, page_size=100)
    site = pages(out)
    html = "".join(t for n, t in site.items() if n.endswith(".html"))
    assert "<script>window.__xss" not in html and "<img src=x" not in html and "onerror=\"window" not in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html and "{{ 7*7 }}" in html and ">49<" not in html
    assert "&lt;/pre&gt;&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" in html
    index = "".join(t for n, t in site.items() if n.endswith(".js") and "search-" in n)
    assert "<" not in index.split(".concat(", 1)[1] and "\\u003cscript\\u003e" in index
    assert site["index.html"].count("<script") == 1  # report.js only


def test_data_page(stats_run, tmp_path):
    render_report(stats_run, tmp_path)
    html = (tmp_path / "data.html").read_text(encoding="utf-8")
    data = load_record(stats_run).data
    assert f"{data.warnings} warnings over 2 suites" in html and 'href="data.html" aria-current="page"' in html
    for finding in data.suite("agent_tools").findings:
        assert escape(finding.message) in html
    assert html.count("<svg") == 3  # lengths of both suites, labels of the one with labels
    assert "From the tool name. Every test label occurs in train." in html and "This suite has no labels" in html
    assert "<code>test-00118</code></td><td><code>train-00397</code></td><td class=\"num\">0.923</td>" in html


def test_token_views_sit_on_the_explained_examples(stats_run, tmp_path):
    from harness.record import load_explanations

    render_report(stats_run, tmp_path, page_size=100)
    record = load_record(stats_run)
    for suite in ("agent_tools", "translate_en_zh"):
        html = "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "suites" / suite).glob("examples-*")))
        rows = {r.split('"', 1)[0]: r for r in html.split('<tr id="ex-')[1:]}
        explained = {e.id for s in record.states for e in load_explanations(stats_run, s, suite)}
        assert {i for i, r in rows.items() if 'class="why"' in r} == explained
        regressed = regressed_ids(stats_run, suite, "exact_match")
        assert set(regressed) <= explained  # fewer than the cap per state
        row = rows[regressed[0]]
        labels = re.findall(r'<span class="lab">([^<]+)</span>', row)
        assert labels == ["base", "full", "lora", "full − base", "lora − base"]
        assert "Next token at position" in row and ' x"' in row  # where an output leaves the reference
        chosen = record.explanations.attention[suite]
        assert rows[chosen].count('<svg role="img"') == 3 and "Attention view: example" in html


def test_token_view_escapes_tokens():
    from harness.record import Attention, Explanation, NextTokens
    from reports.why import view

    hostile = '<script>window.__xss = 1</script>'
    attn = Attention(rows=[hostile], columns=['"><img src=x>', "a"], weights=[[500, 400]])
    e = Explanation(id="x", state="base", suite="s", tokens=[hostile, "<|end|>"], logprobs=[-0.1, -3.0], divergence=0,
                    generated=hostile, top=[NextTokens(position=0, tokens=[hostile], probs=[0.9])], attention=attn)
    w = view({"base": e, "lora": e.model_copy(update={"state": "lora", "logprobs": [-2.0, -0.05]})}, ["base", "lora"])
    text = "".join(str(s) for _, _, s in w.strips) + "".join(str(svg) for _, svg in w.attention)
    assert "<script>" not in text and "<img" not in text and "&lt;script&gt;" in text
    assert 'class="p9 x"' in text and 'class="d1"' in text and 'class="d6"' in text  # p 0.905; Δ -1.9; Δ +2.95
    assert w.next_tokens[0]["left"] == [("base", hostile), ("lora", hostile)]


def test_ratings_partial_without_ratings():
    html = env.get_template("_ratings.html.j2").render(ratings=None, sheets=None)
    assert "No human ratings imported yet" in html and "harness sheets export RUN_DIR" in html


def test_evaluation_only_run_renders_without_backends(tmp_path):
    run = make_run(tmp_path, backends=(), run_id="evalonly")
    html = render_report(run).read_text(encoding="utf-8")
    assert "No backend was run" in html
    examples = (run / "report" / "suites" / "agent_tools" / "examples-001.html").read_text(encoding="utf-8")
    assert 'value="regressed"' not in examples and 'name="q"' in examples


def test_cli_report_one_run_and_several(stats_run, plain_run, tmp_path, capsys):
    assert main(["report", str(plain_run)]) == 0
    assert (plain_run / "report" / "index.html").is_file()
    assert main(["report", str(stats_run), str(plain_run)]) == 2
    assert "--out" in capsys.readouterr().err
    out = tmp_path / "cmp"
    assert main(["report", str(stats_run), str(plain_run), "--out", str(out)]) == 0
    html = (out / "index.html").read_text(encoding="utf-8")
    header = re.search(r'<table class="results">.*?</thead>', html, flags=re.S)[0]
    assert re.findall(r'<th class="num">(base|full|lora)</th>', header) == ["base", "full", "lora"] * 2
    for run in (stats_run, plain_run):
        run_id = load_record(run).run_id
        assert f'href="runs/{run_id}/index.html"' in html
        assert (out / "runs" / run_id / "suites" / "agent_tools" / "examples-001.html").is_file()
        assert "back to the comparison" in (out / "runs" / run_id / "index.html").read_text(encoding="utf-8")
    assert "Pareto" in html and "<svg" in html and "backend settings are identical" in html


def test_quality_leaves_retention_suites_out(tmp_path):
    from harness.record import load_record
    from reports.strategy import primary_metrics

    record = load_record(make_run(tmp_path, stats=False, run_id="retention"))
    record.suites[1] = record.suites[1].model_copy(update={"role": "retention"})
    assert [suite for suite, _, _ in primary_metrics(record.suites)] == [record.suites[0].name]


def test_the_overview_says_how_tool_schemas_reached_the_model(plain_run, tmp_path):
    run = copy_run(plain_run, tmp_path / "run")
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    note = "<b>m</b> ignores `tools`: the function schemas are written into a system turn"
    assert "function schemas" not in render_report(run, tmp_path / "before").read_text(encoding="utf-8")
    (run / "run.json").write_text(json.dumps(record | {"tools_note": note}), encoding="utf-8")
    html = render_report(run, tmp_path / "after").read_text(encoding="utf-8")
    assert f'<p class="note">{escape(note)}</p>' in html and "<b>m</b>" not in html  # shown, and escaped


def test_charts_kept_in_the_cache_are_read_back_checked_and_redrawn_when_damaged(tmp_path, monkeypatch):
    from reports import charts

    metrics = [{"name": "chrf", "scale": 100.0, "values": {"base": (10.0, 8.0, 12.0), "lora": (20.0, 18.0, 22.0)}}]
    drawn = charts.metric_bars(metrics, ["base", "lora"])  # nothing kept
    monkeypatch.setattr(charts, "_MEMO", [])
    charts.remember_in(tmp_path / "charts")
    assert charts.metric_bars(metrics, ["base", "lora"]) == drawn
    (kept,) = (tmp_path / "charts").iterdir()
    real = charts.to_svg
    monkeypatch.setattr(charts, "to_svg", lambda *_: (_ for _ in ()).throw(AssertionError("drawn again")))
    assert charts.metric_bars(metrics, ["base", "lora"]) == drawn  # read back, not drawn
    other = [{**metrics[0], "values": {"base": (11.0, 8.0, 12.0)}}]
    with pytest.raises(AssertionError, match="drawn again"):  # other numbers: another chart
        charts.metric_bars(other, ["base"])
    kept.write_text(kept.read_text(encoding="utf-8").replace("chrf", "CHRF"), encoding="utf-8")
    monkeypatch.setattr(charts, "to_svg", real)
    assert charts.metric_bars(metrics, ["base", "lora"]) == drawn  # damaged: drawn again, not read
    charts.remember_in(None)
