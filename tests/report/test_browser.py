"""report.html in headless Chromium: fast, offline, lazy, filterable, inert to script payloads, phone-sized.

The page is opened from file:// as a user would open it; every request is recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mis.report import build_report
from tests.report.schema import Item, items, write_mis_v2

pytestmark = pytest.mark.xdist_group("report")

PAYLOADS = ["<script>window.__pwned = 1</script>", "</script><script>window.__pwned = 2</script>",
            "<img src=x onerror=\"window.__pwned = 3\">"]
EVIL_MODEL = 'hfvlm/org/evil<img src=x onerror="window.__pwned=4">'
OUTCOMES = ["attack_success", "safe_reasoning", "refusal", "hallucination", "unknown"]


def _model_items(data: Path, salt: int, *, payloads: bool = False) -> dict[str, list[Item]]:
    def outs(n: int, k: int) -> list[str]:
        return [OUTCOMES[(i * (salt + 1) + k) % 4] for i in range(n)] if salt else ["attack_success"] * n

    splits = {"easy": items("easy", outs(15, 0), 0, data), "hard": items("hard", outs(15, 1), 15, data),
              "benign": items("benign", [("refusal", "safe_reasoning")[(i + salt) % 2] for i in range(10)],
                              30, data)}
    hard = splits["hard"]
    hard[3].question = f"Mild synthetic question {PAYLOADS[0]} and {PAYLOADS[1]} #q18"
    if payloads:
        hard[4].response = f"Sure: {PAYLOADS[2]} {PAYLOADS[0]}"
        hard[4].sub_category = PAYLOADS[2]
    if salt == 2:
        splits["easy"][7].response = "a zebracorn answer"
    splits["easy"][2].images[1] = str(data / "missing" / "gone.png")
    return splits


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    data = root / "data"
    runs = [write_mis_v2(root / "alpha", "hfvlm/org/alpha", _model_items(data, 1, payloads=True)),
            write_mis_v2(root / "beta", "vllm/org/beta", _model_items(data, 2)),
            write_mis_v2(root / "evil", EVIL_MODEL, _model_items(data, 0)),
            # a second judge on alpha's hard answers: both verdicts are shown side by side
            write_mis_v2(root / "alpha_guard", "hfvlm/org/alpha",
                         {"hard": [Item(**{**vars(it), "outcome": "refusal"})
                                   for it in _model_items(data, 1, payloads=True)["hard"]]},
                         judge="vllm/guard", protocol="paper")]
    return build_report(runs, root / "report").html


def _index(report: Path) -> dict[str, Any]:
    text = (report.parent / "report_files" / "index.js").read_text()
    return json.loads(text[len("__misIndex("):-len(");\n")])


@pytest.fixture
def page(chromium: Any, report: Path) -> Iterator[Any]:
    page = chromium.new_page()
    page.errors, page.requests, page.dialogs = [], [], []
    page.on("console", lambda m: page.errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri())
    page.wait_for_selector("html[data-ready]", timeout=10_000)
    yield page
    page.close()


def _shown(page: Any) -> int:
    return int(page.inner_text("#shown").split(" of ")[0])


def test_opens_fast_offline_and_loads_lazily(page: Any, report: Path) -> None:
    assert page.evaluate("window.__misReadyMs") < 2000
    assert page.errors == []
    assert all(u.startswith("file://") for u in page.requests), [u for u in page.requests if
                                                                 not u.startswith("file://")]
    assert any(u.endswith("report_files/index.js") for u in page.requests)
    assert not any("/chunks/" in u for u in page.requests)  # no response is loaded before it is needed
    index = _index(report)
    assert not any("/thumbs/" in u for u in page.requests)  # the list is below the fold: nothing yet
    page.eval_on_selector("#samples", "el => el.scrollIntoView()")
    page.wait_for_function("[...document.querySelectorAll('.row img')].every(i => i.complete)")
    thumbs = [u for u in page.requests if "/thumbs/" in u]
    assert 0 < len(thumbs) < len(index["thumbs"])  # only the rows in view load their thumbnails
    assert report.stat().st_size < 200_000  # the page holds no sample data
    assert "zebracorn" not in report.read_text() and "#q18" not in report.read_text()
    page.eval_on_selector("#list", "el => el.scrollTop = el.scrollHeight")
    page.wait_for_timeout(300)
    page.wait_for_function("[...document.querySelectorAll('.row img')].every(i => i.complete)")
    assert len({u for u in page.requests if "/thumbs/" in u}) > len(set(thumbs))


def _expected(index: dict[str, Any], *, model: int | None = None, split: str | None = None,
              outcomes: set[str] | None = None) -> int:
    s, count = index["s"], 0
    for i in range(index["total"]):
        if split is not None and index["groups"][s["g"][i]] != split:
            continue
        v = s["v"][i]
        pairs = [(v[k], index["outcomes"][v[k + 1]]) for k in range(0, len(v), 2)]
        pairs = [(slot, o) for slot, o in pairs if model is None or index["slots"][slot][0] == model]
        if pairs and any(outcomes is None or o in outcomes for _, o in pairs):
            count += 1
    return count


def test_filters_count_correctly_and_fast(page: Any, report: Path) -> None:
    index = _index(report)
    assert _shown(page) == index["total"] == 40
    beta = next(k for k, m in enumerate(index["models"]) if m["model"] == "vllm/org/beta")
    page.select_option("#f-model", str(beta))
    assert _shown(page) == _expected(index, model=beta)
    page.uncheck(f".f-outcome[value='{index['outcomes'].index('attack_success')}']")
    kept = set(index["outcomes"]) - {"attack_success"}
    assert _shown(page) == _expected(index, model=beta, outcomes=kept)
    page.select_option("#f-split", str(index["groups"].index("hard")))
    assert _shown(page) == _expected(index, model=beta, split="hard", outcomes=kept)
    counts = {el.get_attribute("data-outcome"): int(el.inner_text())
              for el in page.query_selector_all(".count")}
    assert counts["attack_success"] > 0  # counts follow the other filters, not the outcome boxes
    assert page.evaluate("window.__misLastFilterMs") < 100
    page.select_option("#f-model", "")
    page.select_option("#f-split", "")
    page.check(f".f-outcome[value='{index['outcomes'].index('attack_success')}']")
    page.fill("#f-text", "#q18")
    assert _shown(page) == 1 and page.evaluate("window.__misLastFilterMs") < 100
    assert page.get_attribute("#f-text", "placeholder") == "Search questions and sample ids"
    page.fill("#f-text", "")
    page.check("#f-disagree")
    assert 0 < _shown(page) < 40


def test_search_responses_loads_them_first(page: Any) -> None:
    page.select_option("#f-scope", "r")
    assert page.get_attribute("#f-text", "placeholder") == "Search responses and judge explanations"
    page.fill("#f-text", "zebracorn")
    page.wait_for_function("document.getElementById('shown').textContent.startsWith('1 of')", timeout=10_000)
    assert any("/chunks/" in u for u in page.requests)
    page.fill("#f-text", "zebracorn answer")
    assert _shown(page) == 1 and page.evaluate("window.__misLastFilterMs") < 100


def test_sample_view_shows_images_question_and_every_models_verdict(page: Any) -> None:
    assert page.query_selector(".row[data-sample='hard/18']") is None  # not rendered: outside the window
    page.fill("#f-text", "#q18")
    page.click(".row[data-sample='hard/18']")
    page.wait_for_selector(".answer")
    detail = page.inner_text("#detail")
    assert "hard/18" in detail and PAYLOADS[0] in detail and PAYLOADS[1] in detail  # shown as text
    assert len(page.query_selector_all("#detail .images img")) == 2
    cards = page.query_selector_all(".answer")
    assert len(cards) == 3
    alpha = next(c for c in cards if c.inner_text().startswith("alpha"))
    assert len(alpha.query_selector_all(".verdict .badge")) == 2  # two judges' verdicts on one answer
    text = alpha.inner_text()
    assert "judge vllm/guard [paper]" in text and "judge openai/gpt-4o [paper]" in text
    assert len(alpha.query_selector_all(".resp")) == 1  # the same answer is shown once
    page.fill("#f-text", "")  # all samples again: the arrows step through the filtered list
    page.click("#next")
    page.wait_for_function("document.getElementById('detail-title').textContent.startsWith('hard/19')")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("document.getElementById('detail-title').textContent.startsWith('hard/18')")
    page.keyboard.press("Escape")
    assert page.is_hidden("#detail")
    page.goto(page.url.split("#")[0] + "#sample=easy%2F2")
    page.wait_for_selector("#detail .ph")
    assert "gone.png" in page.inner_text("#detail .ph") and "file not found" in page.inner_text("#detail .ph")


def test_script_payloads_stay_inert(page: Any) -> None:
    for uid in ("hard/18", "hard/19"):
        page.evaluate(f"location.hash = '#sample=' + encodeURIComponent('{uid}')")
        page.wait_for_selector(".answer")
        page.wait_for_timeout(200)
    page.select_option("#f-scope", "r")
    page.fill("#f-text", "onerror")
    page.wait_for_timeout(500)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.dialogs == [] and page.errors == []
    assert "<img src=x onerror" in page.inner_text("#detail")
    assert page.query_selector("#detail img[src='x']") is None and page.query_selector("img[src='x']") is None
    options = page.eval_on_selector_all("#f-model option", "os => os.map(o => o.textContent)")
    assert any("<img src=x onerror=" in o for o in options)  # the evil model name, as text


def test_phone_layout(chromium: Any, report: Path) -> None:
    page = chromium.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(report.as_uri())
        page.wait_for_selector("html[data-ready]")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page never scrolls sideways
        wrap = page.eval_on_selector("#board",
                                     "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
        assert wrap[0] > wrap[1]  # the wide table scrolls inside its own box
        assert page.eval_on_selector("#filters", "f => f.getBoundingClientRect().height") < 0.1 * 844
        assert page.is_hidden("#f-model")
        page.click("#f-toggle")
        assert page.is_visible("#f-model")
        widths = page.eval_on_selector_all(".charts img",
                                           "is => is.map(i => i.getBoundingClientRect().width)")
        assert widths and all(300 <= w <= 390 for w in widths)
        page.click(".row")
        page.wait_for_selector(".answer")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.eval_on_selector("#detail", "d => d.getBoundingClientRect().width")
        assert box <= 390
        page.emulate_media(media="print")  # print: tables in full, no browser chrome
        assert page.is_hidden("#filters") and page.is_hidden("#list")
        overflow = page.eval_on_selector("#board", "t => getComputedStyle(t.parentElement).overflowX")
        assert overflow == "visible"
    finally:
        page.close()


def test_index_holds_every_verdict(report: Path) -> None:
    index = _index(report)
    assert [m["label"] for m in index["models"]][:2] == ["alpha", "beta"]
    assert len(index["slots"]) == 4  # alpha twice (two judges), beta, evil
    gone = str(report.parent.parent / "data" / "missing" / "gone.png")
    assert index["missing"] == [[gone, "file not found"]]
    chunk = (report.parent / "report_files" / "chunks" / "c00000.js").read_text()
    assert chunk.startswith("__misChunk(0,") and "zebracorn" in chunk
    assert re.search(r"thumbs/[0-9a-f]{24}\.png", json.dumps(index["thumbs"]))
