"""The dashboard in real headless Chromium (Playwright's sync API, Debian's /usr/bin/chromium).

``gitxp ui`` runs as a real subprocess on a real repo: a small sweep over two versions, a run that keeps logging
in a real background process, and a run whose param value is ``<script>alert(1)</script>``. Screenshots of each
page are saved under the test's tmp dir (``artifacts/``). Without chromium or playwright the tests skip, except
under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import HOSTILE, build_repo, start_live, start_ui, stop

CHROMIUM = os.environ.get("GITXP_CHROMIUM", "/usr/bin/chromium")


def _need_browser() -> Any:
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install 'gitxp[test]')"
    if missing is None and not Path(CHROMIUM).exists():
        missing = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    pytest.importorskip("starlette")
    sync_playwright = _need_browser()
    del sync_playwright
    base = tmp_path_factory.mktemp("ui")
    old = {k: os.environ.get(k) for k in ("HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")}
    os.environ.update(HOME=str(base), GIT_CONFIG_GLOBAL=str(base / ".gitconfig"), GIT_CONFIG_NOSYSTEM="1")
    (base / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    repo = build_repo(base / "repo")
    live = start_live(repo)
    server, url = start_ui(repo)
    artifacts = base / "artifacts"
    artifacts.mkdir()
    try:
        yield url, repo, artifacts
    finally:
        stop(server)
        stop(live)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def browser(served: tuple[str, Path, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    # bypass_csp: the page's CSP would block Playwright's own string predicates; it also proves the escaping
    # alone keeps the hostile value inert, without help from the CSP.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def _only(page: Any, text: str) -> None:
    """Type ``text`` in the search box and wait until the table shows exactly one run, containing it."""
    page.fill("#q", text)
    page.wait_for_function(
        "t => { const rs = document.querySelectorAll('#runs-table tbody tr[data-run]');"
        " return rs.length === 1 && rs[0].textContent.includes(t); }",
        arg=text,
    )


def _rows(page: Any) -> list[str]:
    return page.eval_on_selector_all("#runs-table tbody tr[data-run]", "rs => rs.map(r => r.dataset.run)")


def _column(page: Any, col: str) -> list[str]:
    index = page.eval_on_selector_all(
        "#runs-table thead th", f"hs => hs.findIndex(h => h.dataset.col === {col!r})"
    )
    return page.eval_on_selector_all(
        "#runs-table tbody tr[data-run]", f"rs => rs.map(r => r.children[{index}].textContent)"
    )


def test_runs_table_sort_filter_select_curves(served: tuple[str, Path, Path], page: Any) -> None:
    url, repo, artifacts = served
    page.goto(url + "/#/runs")
    page.wait_for_selector("#runs-table tbody tr[data-run]")
    assert len(_rows(page)) == 10
    # sort by a result, descending first, then ascending (the arrow and the rows come in the same render)
    page.click("th[data-col='results.valid_acc']")
    page.wait_for_selector("th.sorted[data-col='results.valid_acc']:has-text('▼')")
    values = [float(v) for v in _column(page, "results.valid_acc") if v]
    assert values == sorted(values, reverse=True) and len(values) == 9
    page.click("th[data-col='results.valid_acc']")
    page.wait_for_selector("th.sorted[data-col='results.valid_acc']:has-text('▲')")
    values = [float(v) for v in _column(page, "results.valid_acc") if v]
    assert values == sorted(values)
    # filter with an ls --where expression, then by text
    page.fill("#where", "params.layers >= 3 and results.valid_acc > 0.9")
    page.press("#where", "Enter")
    page.wait_for_function("document.querySelector('#count').textContent.includes('of 5 runs')")
    page.fill("#where", "")
    page.press("#where", "Enter")
    _only(page, "live")
    page.fill("#q", "")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr[data-run]').length === 10")
    # a bad expression is a message, not a broken page
    page.fill("#where", "nosuchcolumn > 1")
    page.press("#where", "Enter")
    page.wait_for_selector(".banner")
    assert "unknown column" in page.inner_text(".banner")
    page.fill("#where", "experiment == 'sweep'")
    page.press("#where", "Enter")
    page.wait_for_function(
        "document.querySelector('#count').textContent.includes('of 8 runs')"
        " && document.querySelectorAll('#runs-table tbody tr[data-run]').length === 8"
    )
    # select three runs: one curve per run (locators, not element handles: the poll may rebuild the table)
    boxes = page.locator("#runs-table tbody tr[data-run] input[type=checkbox]")
    for i in range(3):
        boxes.nth(i).check()
    page.wait_for_function("document.querySelector('#curves-chart')?.dataset.series === '3'")
    assert page.eval_on_selector_all("#curves-chart .u-legend .u-series", "s => s.length") == 4  # x + 3 runs
    page.screenshot(path=str(artifacts / "runs.png"))
    docs = Path(__file__).parent.parent / "docs" / "ui-runs.png"
    if os.environ.get("GITXP_UPDATE_SCREENSHOT"):
        shutil.copy(artifacts / "runs.png", docs)
    assert not page.errors


def test_live_curve_grows_and_hostile_value_is_text(served: tuple[str, Path, Path], page: Any) -> None:
    url, repo, artifacts = served
    page.goto(url + "/#/runs")
    page.wait_for_selector("#runs-table tbody tr[data-run]")
    # the hostile value is shown literally and never ran
    _only(page, "alert")
    assert HOSTILE in page.inner_text("#runs-table tbody")
    assert page.evaluate("document.querySelectorAll('#runs-table script').length") == 0
    page.screenshot(path=str(artifacts / "hostile.png"))
    _only(page, "live")
    page.check("#runs-table tbody tr[data-run] input[type=checkbox]")
    page.wait_for_function("document.querySelector('#curves-chart')?.dataset.series === '1'")

    def points() -> int:
        text = page.inner_text("#curve-info")
        return int(text.split(",")[1].split()[0])

    first = points()
    deadline = time.time() + 15
    while time.time() < deadline and points() <= first:
        page.wait_for_timeout(500)
    assert points() > first, "the live run's curve did not grow without a reload"
    assert not page.dialogs and not page.errors


def test_run_page_diff_and_log(served: tuple[str, Path, Path], page: Any) -> None:
    url, repo, artifacts = served
    (repo / "train.py").write_text("def model(x):\n    return x * 4  # uncommitted tweak\n")
    from ui_helpers import png, python

    picture = artifacts / "confusion.png"
    picture.write_bytes(png(40, 30))
    python(
        repo,
        "import gitxp\nwith gitxp.start(experiment='dirty', params={'p': 1}) as run:\n"
        f"    print('hello from the dirty run')\n    run.log_artifact({str(picture)!r})\n"
        "    run.result(valid_acc=0.1)\n",
    )
    page.goto(url + "/#/runs")
    _only(page, "dirty")
    page.click("#runs-table tbody tr[data-run] td.id a")
    page.wait_for_selector("#diff .d-add")
    assert "uncommitted tweak" in page.inner_text("#diff .d-add")
    assert "x * 3" in page.inner_text("#diff")
    # the image artifact is drawn on the run page (decoded by the browser, not just linked)
    page.wait_for_function(
        "(() => { const i = document.querySelector('#artifacts img'); return i && i.complete && i.naturalWidth === 40; })()",
        timeout=10000,
    )
    assert page.query_selector("#curves-chart") is None  # no per-step metrics: no empty curves panel
    page.screenshot(path=str(artifacts / "run.png"), full_page=True)
    # the live run's log tails while it runs
    page.goto(url + "/#/runs")
    _only(page, "live")
    page.click("#runs-table tbody tr[data-run] td.id a")
    page.wait_for_selector("#log")
    page.wait_for_selector("#curves-chart")  # a running run keeps its panel: its curves arrive as it logs
    first = page.inner_text("#log")
    page.wait_for_function(f"document.querySelector('#log').textContent.length > {len(first)}", timeout=15000)
    assert "step" in page.inner_text("#log")
    assert not page.errors


def test_tag_note_and_archive_from_the_run_page(served: tuple[str, Path, Path], page: Any) -> None:
    import gitxp

    url, repo, artifacts = served
    page.goto(url + "/#/runs")
    _only(page, "notes")
    run = _rows(page)[0]
    page.click("#runs-table tbody tr[data-run] td.id a")
    page.wait_for_selector("#manage")
    page.fill("#tag-name", "baseline")
    page.click("#add-tag")
    page.wait_for_function("document.querySelector('#manage .tags').textContent.includes('baseline')")
    page.fill("#note", "kept for the paper")
    page.click("#save-note")
    page.wait_for_function("document.querySelector('#manage-msg').textContent === 'note: saved'")
    row = next(r for r in gitxp.load(path=repo).to_pylist() if r["run_id"] == run)
    assert "baseline" in row["tags"] and row["note"] == "kept for the paper"  # recorded on the ref
    page.click("#archive")
    page.wait_for_function("document.querySelector('#archive').textContent === 'Unarchive'")
    assert run not in {r["run_id"] for r in gitxp.load(path=repo).to_pylist()}  # hidden, as `gitxp archive`
    page.screenshot(path=str(artifacts / "run-manage.png"), full_page=True)
    page.click("#archive")
    page.wait_for_function("document.querySelector('#archive').textContent === 'Archive'")
    page.click("#manage .tag button.untag")
    page.wait_for_function("!document.querySelector('#manage .tags').textContent.includes('baseline')")
    assert run in {r["run_id"] for r in gitxp.load(path=repo).to_pylist()}
    assert not page.errors


def test_compare_and_sweep_pages(served: tuple[str, Path, Path], page: Any) -> None:
    url, repo, artifacts = served
    from ui_helpers import git

    first, second = git(repo, "rev-list", "--reverse", "HEAD").split()[:2]
    page.goto(url + f"/#/compare?a={first[:7]}&b={second[:7]}")
    page.wait_for_selector(".compare-table tbody tr")
    text = page.inner_text(".compare-table")
    assert "valid_acc" in text and "[" in text  # the bootstrap CI
    assert "a better model" in page.inner_text("#code-diff")
    page.screenshot(path=str(artifacts / "compare.png"), full_page=True)
    page.goto(url + "/#/compare?a=main~1&b=main")  # branches: each is its newest version with runs, named
    page.wait_for_selector("#compare-sides")
    sides = page.inner_text("#compare-sides")
    assert f"main [sweep]: version {second[:7]} (2 runs), the newest on its history with runs" in sides
    assert "1 older version left out" in sides
    page.goto(url + "/#/sweep/sweep")
    page.wait_for_selector("#best-chart canvas")
    page.wait_for_selector("#parallel canvas")
    assert page.eval_on_selector_all("#scatters canvas", "c => c.length") >= 3
    page.wait_for_selector("#importance table", timeout=90_000)  # computed in the background, then shown
    assert "runs" in page.inner_text("#importance")
    page.screenshot(path=str(artifacts / "sweep.png"), full_page=True)
    assert not page.errors and not page.dialogs


def test_exported_report_opens_from_disk(served: tuple[str, Path, Path], page: Any) -> None:
    import subprocess
    import sys

    url, repo, artifacts = served
    out = artifacts / "report.html"
    subprocess.run(
        [sys.executable, "-m", "gitxp", "ui", "--export", str(out), "-e", "sweep"], cwd=repo, check=True
    )
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(out.as_uri())
    page.wait_for_selector("#runs-table tbody tr[data-run]")
    assert len(_rows(page)) == 8
    page.click("th[data-col='results.valid_acc']")
    page.wait_for_selector("th.sorted[data-col='results.valid_acc']:has-text('▼')")
    values = [float(v) for v in _column(page, "results.valid_acc") if v]
    assert values == sorted(values, reverse=True)
    boxes = page.locator("#runs-table tbody tr[data-run] input[type=checkbox]")
    for i in range(2):
        boxes.nth(i).check()
    page.wait_for_function("document.querySelector('#curves-chart')?.dataset.series === '2'")
    page.goto(out.as_uri() + "#/compare")
    page.wait_for_selector(".compare-table tbody tr")
    # the report holds only the comparisons it computed: a choice among them, never another pair's numbers
    assert page.locator("#cmp-pick option").count() == 1 and " vs " in page.inner_text("#cmp-pick")
    page.goto(out.as_uri() + "#/compare?a=0000000&b=1111111")
    page.wait_for_selector(".banner")
    assert "holds only these comparisons" in page.inner_text(".banner")
    assert page.query_selector(".compare-table") is None
    # several runs side by side works from the file too
    page.goto(out.as_uri() + "#/runs")
    page.wait_for_selector("#runs-table tbody tr[data-run]")
    ids = _rows(page)[:3]
    page.goto(out.as_uri() + "#/compare?runs=" + ",".join(ids))
    page.wait_for_selector("#runs-compare table.compare-runs")
    assert page.locator("#runs-compare thead th").count() == 4
    page.goto(out.as_uri() + "#/sweep/sweep")
    page.wait_for_selector("#parallel canvas")
    page.screenshot(path=str(artifacts / "report.png"))
    assert all(u.startswith("file://") for u in requests), requests
    assert not page.errors


def test_dark_mode_follows_the_system(served: tuple[str, Path, Path], browser: Any) -> None:
    url, repo, artifacts = served
    colours = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, color_scheme=scheme, bypass_csp=True
        )
        pg = context.new_page()
        pg.goto(url + "/#/sweep/sweep")
        pg.wait_for_selector("#parallel canvas")
        colours[scheme] = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        pg.screenshot(path=str(artifacts / f"sweep-{scheme}.png"))
        context.close()
    assert colours["light"] != colours["dark"]
    dark = [int(x) for x in colours["dark"].strip("rgb()").split(",")]
    assert sum(dark) < 150


def test_sweep_analysis_views_and_n_run_compare(served: tuple[str, Path, Path], page: Any) -> None:
    """Last in this file: it adds the 24-run ``tradeoff`` experiment to the shared repo."""
    from ui_helpers import TRADEOFF, python

    url, repo, artifacts = served
    python(repo, TRADEOFF)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url + "/#/sweep/tradeoff?metric2=latency:min")
    page.wait_for_selector("#pareto canvas")
    assert "of 24 finished trials on the front" in page.inner_text("#pareto-info")
    # the log-scaled param says so on its slice plot; the conditional one says how often it is absent
    slices = page.inner_text("#scatters")
    assert "lr — log axis (values span" in slices and "momentum — absent in 8 trial(s)" in slices
    page.wait_for_selector("#contour canvas")
    page.wait_for_selector("#parallel canvas")
    page.screenshot(path=str(artifacts / "sweep-analysis.png"), full_page=True)
    # a running run shows how long it has been running
    page.goto(url + "/#/runs")
    _only(page, "live")
    cell = page.inner_text("#runs-table tbody tr[data-run]")
    assert "running" in cell and "s" in cell
    # N runs side by side from the runs page's selection
    page.goto(url + "/#/runs")
    page.fill("#q", "tradeoff")
    page.wait_for_function("document.querySelectorAll('#runs-table tbody tr[data-run]').length === 24")
    boxes = page.query_selector_all("#runs-table tbody tr[data-run] input[type=checkbox]")
    for box in boxes[:4]:
        box.check()
    page.click("#compare-selected")
    page.wait_for_selector("#runs-compare table.compare-runs")
    assert page.locator("#runs-compare thead th").count() == 5  # a label column and 4 runs
    assert "params.lr" in page.inner_text("#runs-compare")
    page.wait_for_selector("#compare-parallel canvas")
    page.screenshot(path=str(artifacts / "compare-runs.png"), full_page=True)
    assert not page.errors
