"""The dashboard's server without a browser: JSON views, escaping, path traversal, 400s, a corrupt run, the
static report, the CLI, and that other commands never import the web stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import HOSTILE, TRADEOFF, build_repo, git, png, python, start_ui

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402

from gitxp.store import REF, Store, run_path  # noqa: E402
from gitxp.ui.server import allowed_hosts, create_app  # noqa: E402

LOCAL = (
    "http://127.0.0.1:8765"  # the Host every request of these tests names (see test_host_header_is_checked)
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    base = tmp_path_factory.mktemp("uidemo")
    os.environ.setdefault("GIT_AUTHOR_NAME", "Test User")
    (base / ".gitconfig").write_text("[user]\n\tname = Test User\n\temail = test@example.com\n")
    old = {k: os.environ.get(k) for k in ("HOME", "GIT_CONFIG_GLOBAL")}
    os.environ.update(HOME=str(base), GIT_CONFIG_GLOBAL=str(base / ".gitconfig"))
    try:
        return build_repo(base / "repo")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def client(demo: Path) -> TestClient:
    return TestClient(create_app(Store.open(demo)), raise_server_exceptions=False, base_url=LOCAL)


def test_runs_page_sort_filter_group_constant(client: TestClient) -> None:
    data = client.get("/api/runs").json()
    assert data["total"] == 9 and len(data["rows"]) == 9
    values = [r["results.valid_acc"] for r in client.get("/api/runs?sort=-results.valid_acc").json()["rows"]]
    assert values == sorted(values, reverse=True)
    data = client.get("/api/runs", params={"where": "layers >= 3 and valid_acc > 0.9"}).json()
    assert data["total"] == 5 and all(r["params.layers"] >= 3 for r in data["rows"])
    assert client.get("/api/runs?q=ALERT").json()["total"] == 1
    data = client.get("/api/runs?experiment=sweep&group=version").json()
    assert sorted(g["runs"] for g in data["groups"]) == [2, 6]
    assert "params.optim" in data["constant"] and "params.lr" not in data["constant"]
    page = client.get("/api/runs?limit=4&offset=4").json()
    assert len(page["rows"]) == 4 and page["offset"] == 4


@pytest.mark.parametrize(
    "query, message",
    [
        ("limit=abc", "limit='abc': expected an integer"),
        ("limit=0", "limit=0: expected 1..1000"),
        ("offset=-1", "offset=-1"),
        ("where=nosuch%3E1", "unknown column 'nosuch'"),
        ("where=(((", "invalid expression"),
        ("sort=-nosuch", "unknown column"),
        ("group=colour", "group='colour'"),
        ("status=done", "--status 'done'"),
    ],
)
def test_malformed_params_are_400_with_a_reason(client: TestClient, query: str, message: str) -> None:
    resp = client.get(f"/api/runs?{query}")
    assert resp.status_code == 400
    assert message in resp.json()["reason"]
    assert "Traceback" not in resp.text


def test_other_views_400_404(client: TestClient) -> None:
    assert client.get("/api/curves").status_code == 400
    assert client.get("/api/curves?runs=x&width=huge").status_code == 400
    assert client.get("/api/run/zzzz").status_code == 404
    assert client.get("/api/sweep?experiment=swep").json()["reason"].endswith("(did you mean sweep?)")
    assert client.get("/api/compare?a=main").status_code == 400
    assert client.get("/api/nothing").status_code == 404


def test_hostile_value_is_escaped_everywhere(client: TestClient, demo: Path, tmp_path: Path) -> None:
    rows = client.get("/api/runs?q=alert").json()["rows"]
    assert rows[0]["params.note"] == HOSTILE  # data as JSON; the page puts it in with textContent
    page = client.get("/")
    assert page.status_code == 200 and HOSTILE not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/static/app.js").text
    assert "innerHTML" not in js.replace("(never innerHTML)", "")
    from gitxp.ui.report import write_report

    out = tmp_path / "report.html"
    write_report(Store.open(demo), out, "notes")
    html = out.read_text()
    assert HOSTILE not in html and "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/vendor/../../api.py",
        "/static/%2e%2e/%2e%2e/store.py",
        "/static//etc/passwd",
        "/static/....//....//etc/passwd",
    ],
)
def test_static_route_cannot_leave_the_static_dir(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 404
    assert "def create_app" not in resp.text and "root:" not in resp.text


def test_static_assets_are_vendored_and_small() -> None:
    static = Path(__file__).parent.parent / "gitxp" / "ui" / "static"
    versions = (static / "vendor" / "VERSIONS").read_text()
    assert "uplot 1.6" in versions and "echarts 5" in versions
    total = sum(p.stat().st_size for p in static.rglob("*") if p.is_file())
    assert total < 2 * 1024 * 1024
    html = (static / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from the internet


def test_corrupt_run_is_an_error_row(demo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(demo), str(clone))
    git(clone, "fetch", "-q", "origin", f"+{REF}:{REF}")
    store = Store.open(clone)
    bad_id = "01m80000000000000000000000"
    store.repo.commit_files(REF, store.head(), {f"{run_path(bad_id)}/run.parquet": b"not parquet"}, "corrupt")
    client = TestClient(create_app(Store.open(clone)), raise_server_exceptions=False, base_url=LOCAL)
    data = client.get("/api/runs").json()
    assert data["total"] == 9
    assert any("unreadable run file" in e and bad_id in e for e in data["errors"])
    assert client.get("/api/sweep?experiment=sweep").status_code == 200


def test_curves_downsampled_and_incremental(client: TestClient) -> None:
    rows = client.get("/api/runs?experiment=sweep&sort=started").json()["rows"]
    rid = rows[0]["run_id"]
    full = client.get(f"/api/curves?runs={rid}&width=1000").json()["series"][0]
    assert full["points"] == 300 and len(full["steps"]) == 300
    small = client.get(f"/api/curves?runs={rid}&width=20").json()["series"][0]
    assert len(small["steps"]) <= 40 and max(small["values"]) == max(full["values"])
    assert min(small["values"]) == min(full["values"])
    after = client.get(f"/api/curves?runs={rid}&after=289").json()["series"][0]
    assert after["steps"] == [float(s) for s in range(290, 300)]


def test_run_view_has_version_diff_and_log(client: TestClient) -> None:
    rid = client.get("/api/runs?experiment=sweep&sort=started").json()["rows"][0]["run_id"]
    data = client.get(f"/api/run/{rid[:10]}").json()
    assert data["record"]["run_id"] == rid and "first model" in data["commit_message"]
    assert data["metrics"] == ["loss"]


def test_compare_uses_gitxp_compare(client: TestClient, demo: Path) -> None:
    first, second = git(demo, "rev-list", "--reverse", "HEAD").split()[:2]
    data = client.get(f"/api/compare?a={first[:7]}&b={second[:7]}").json()
    assert [r["experiment"] for r in data["reports"]] == ["sweep"]
    metric = data["reports"][0]["metrics"][0]
    assert metric["name"] == "valid_acc" and metric["differences"][0]["ci95"] is not None
    assert "+    # a better model" in data["diff"]
    cli = subprocess.run(
        [sys.executable, "-m", "gitxp", "compare", first[:7], second[:7], "--format", "json"],
        cwd=demo,
        capture_output=True,
        text=True,
    )
    if cli.returncode == 0:
        report: Any = json.loads(cli.stdout)
        text = json.dumps(report)
        assert f"{metric['groups'][0]['mean']}"[:8] in text


def test_sweep_view(client: TestClient) -> None:
    data = client.get("/api/sweep?experiment=sweep").json()
    assert data["metric"] == "valid_acc" and data["goal"] == "max" and len(data["trials"]) == 8
    bests = [t["best"] for t in data["trials"]]
    assert bests == sorted(bests)
    assert set(data["params"]) == {"layers", "lr", "optim"}
    assert {"values", "error", "pending"} & set(data["importance"])  # computed in the background


def test_export_report_cli(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", "ui", "--export", str(out), "-e", "sweep"],
        cwd=demo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert "uPlot" in html and 'id="gitxp-data"' in html and "/static/" not in html
    assert "src=" not in html.split("<main")[1].split("gitxp-data")[0]
    bad = subprocess.run(
        [sys.executable, "-m", "gitxp", "ui", "--export", str(out), "-e", "swep"],
        cwd=demo,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "did you mean sweep" in bad.stderr


def test_cli_serves_warns_and_stops(demo: Path) -> None:
    proc, url = start_ui(demo, "--host", "0.0.0.0")
    try:
        import urllib.request

        port = url.rsplit(":", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs?limit=1") as resp:
            assert json.loads(resp.read())["total"] == 9
    finally:
        proc.send_signal(2)  # Ctrl-C
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "no authentication" in err
    assert "stopped" in out


def test_ls_and_import_do_not_load_the_web_stack(demo: Path) -> None:
    code = (
        "import sys\nfrom gitxp.cli import main\n"
        "try:\n    main(['ls'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'gitxp.ui', 'gitxp.ui.server') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=demo, capture_output=True, text=True)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


PNG = png()
EVIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><rect width="4" height="4"/></svg>'
)


def test_run_page_shows_image_artifacts(make_repo: Any, tmp_path: Path) -> None:
    """Images a run logged are served to its page (hash-verified); SVG is sandboxed; other files and unknown or
    escaping names are refused with a reason, never served."""
    repo = make_repo("arts")
    files = tmp_path / "files"
    files.mkdir()
    (files / "confusion.png").write_bytes(PNG)
    (files / "plot.svg").write_text(EVIL_SVG)
    (files / "model.txt").write_text("weights")
    code = (
        "import gitxp\n"
        "with gitxp.start(experiment='arts', params={'lr': 0.1}) as run:\n"
        f"    run.log_artifacts({str(files)!r})\n"
        "    run.result(acc=0.5)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True)
    client = TestClient(create_app(Store.open(repo)), raise_server_exceptions=False, base_url=LOCAL)
    rid = client.get("/api/runs").json()["rows"][0]["run_id"]
    listed = {a["name"]: a for a in client.get(f"/api/run/{rid}").json()["artifacts"]}
    assert {n: a["image"] for n, a in listed.items()} == {
        "confusion.png": True,
        "plot.svg": True,
        "model.txt": False,
    }
    png = client.get(f"/api/artifact/{rid}/confusion.png")
    assert png.status_code == 200 and png.content == PNG and png.headers["content-type"] == "image/png"
    svg = client.get(f"/api/artifact/{rid[:8]}/plot.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in svg.headers["content-security-policy"]
    assert svg.headers["x-content-type-options"] == "nosniff"
    refused = client.get(f"/api/artifact/{rid}/model.txt")
    assert refused.status_code == 400 and "only images" in refused.json()["reason"]
    unknown = client.get(f"/api/artifact/{rid}/confusoin.png")
    assert unknown.status_code == 400 and "confusion.png" in unknown.json()["reason"]
    escaping = client.get(f"/api/artifact/{rid}/..%2F..%2Fconfig.png")
    assert escaping.status_code in (400, 404) and "reason" in escaping.json()
    assert client.get("/api/artifact/nosuchrun/confusion.png").status_code == 404


@pytest.mark.parametrize(
    "host, served",
    [
        ("evil.example", False),
        ("evil.example:8765", False),
        ("127.0.0.1.evil.example", False),
        ("", False),
        ("127.0.0.1:8765", True),
        ("localhost", True),
        ("LOCALHOST:80", True),
        ("[::1]:8765", True),
    ],
)
def test_host_header_is_checked(client: TestClient, host: str, served: bool) -> None:
    """DNS rebinding: a page of evil.example re-pointed at 127.0.0.1 names its own host and reads nothing."""
    for path in ("/api/runs", "/", "/api/info", "/static/app.js"):
        resp = client.get(path, headers={"Host": host})
        if served:
            assert resp.status_code == 200, (path, resp.text)
        else:
            assert resp.status_code == 400 and "is not served" in resp.json()["reason"], (path, resp.text)
            assert "sweep" not in resp.text and "run_id" not in resp.text


def test_allowed_hosts_follow_host_and_allow_host() -> None:
    assert allowed_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert "box.lan" in allowed_hosts("0.0.0.0", ["box.lan"]) and "0.0.0.0" not in allowed_hosts("0.0.0.0")
    assert "10.1.2.3" in allowed_hosts("10.1.2.3") and "::1" in allowed_hosts("[::1]")


def _token(client: TestClient) -> str:
    import re

    page = client.get("/").text
    found = re.search(r'<meta name="gitxp-token" content="([^"]+)">', page)
    assert found, page[:300]
    return found.group(1)


def test_edits_need_post_token_json_and_same_origin(demo: Path) -> None:
    import gitxp

    client = TestClient(create_app(Store.open(demo)), raise_server_exceptions=False, base_url=LOCAL)
    token = _token(client)
    run = client.get("/api/runs", params={"experiment": "sweep", "limit": 1}).json()["rows"][0]["run_id"]
    body = {"run": run, "name": "keeper"}
    good = {"X-Gitxp-Token": token, "Content-Type": "application/json"}
    # GET never changes anything
    assert client.get("/api/edit/tag", params=body).status_code == 405
    refused = [
        client.post("/api/edit/tag", json=body),  # no token
        client.post("/api/edit/tag", json=body, headers={"X-Gitxp-Token": "guess"}),
        client.post("/api/edit/tag", json=body, headers={**good, "Origin": "http://evil.example"}),
        client.post("/api/edit/tag", json=body, headers={**good, "Sec-Fetch-Site": "cross-site"}),
        client.post(
            "/api/edit/tag",
            content="run=x",
            headers={**good, "Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]
    assert [r.status_code for r in refused] == [403] * 5, [r.text for r in refused]
    assert client.get(f"/api/run/{run}").json()["lifecycle"]["tags"] == []
    same = {**good, "Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    resp = client.post("/api/edit/tag", json=body, headers=same)
    assert resp.status_code == 200, resp.text
    assert resp.json()["tags"] == ["keeper"] and resp.json()["changed"] == [run]
    resp = client.post("/api/edit/note", json={"run": run[:12], "text": "good <b>one</b>"}, headers=good)
    assert resp.status_code == 200 and resp.json()["note"] == "good <b>one</b>", resp.text
    rows = {r["run_id"]: r for r in gitxp.load(path=demo).to_pylist()}  # the CLI's and Python's view
    assert "keeper" in rows[run]["tags"] and rows[run]["note"] == "good <b>one</b>"
    page = client.get(f"/api/run/{run}").json()["lifecycle"]
    assert page == {"tags": ["keeper"], "note": "good <b>one</b>", "archived": False}
    assert client.post("/api/edit/archive", json={"run": run}, headers=good).json()["archived"] is True
    assert run not in {r["run_id"] for r in client.get("/api/runs", params={"limit": 100}).json()["rows"]}
    assert client.post("/api/edit/unarchive", json={"run": run}, headers=good).json()["archived"] is False
    assert run in {r["run_id"] for r in client.get("/api/runs", params={"limit": 100}).json()["rows"]}
    bad = client.post("/api/edit/tagg", json=body, headers=good)
    assert bad.status_code == 400 and "did you mean tag" in bad.json()["reason"]
    assert client.post("/api/edit/tag", json={"run": run}, headers=good).status_code == 400
    assert client.post("/api/edit/tag", content=b"[1", headers=good).status_code == 400
    # undo what this test did to the shared demo repo
    client.post("/api/edit/untag", json=body, headers=good)
    client.post("/api/edit/note", json={"run": run, "text": ""}, headers=good)


@pytest.fixture(scope="module")
def tradeoff(demo: Path) -> TestClient:
    """The demo repo's runs plus a 24-run experiment with two objectives (in a copy: other tests count runs)."""
    import shutil

    copy = demo.parent / "tradeoff-repo"
    if not copy.exists():
        shutil.copytree(demo, copy)
        python(copy, TRADEOFF)
    return TestClient(create_app(Store.open(copy)), raise_server_exceptions=False, base_url=LOCAL)


def test_sweep_view_has_log_axes_conditional_params_versions_and_a_pareto_front(tradeoff: TestClient) -> None:
    client = tradeoff
    from gitxp.query.objective import _dominates

    data = client.get("/api/sweep", params={"experiment": "tradeoff", "metric2": "latency:min"}).json()
    info = data["param_info"]
    assert info["lr"]["log"] and "decades" in info["lr"]["why"]  # spans 4 decades
    assert not info["width"]["log"] and not info["optim"]["numeric"]
    assert info["momentum"]["missing"] == 8  # the adam trials have no momentum
    absent = [t for t in data["trials"] if "momentum" not in t["params"]]
    assert len(absent) == 8 and all(t["params"]["optim"] == "adam" for t in absent)
    assert [v["runs"] for v in data["versions"]] == [24]
    pareto = data["pareto"]
    assert [o["name"] for o in pareto["objectives"]] == ["acc", "latency"] and pareto["runs"] == 24
    points = {t["run_id"]: (t["value"], t["value2"]) for t in data["trials"]}
    goals = ["max", "min"]
    expected = [r for r, v in points.items() if not any(_dominates(w, v, goals) for w in points.values())]
    assert sorted(pareto["front"]) == sorted(expected) and 0 < len(expected) < 24
    # one experiment over two code versions: each trial says its version
    sweep = client.get("/api/sweep", params={"experiment": "sweep"}).json()
    assert len(sweep["versions"]) == 2 and all(t["version"] for t in sweep["trials"])
    bad = client.get("/api/sweep", params={"experiment": "tradeoff", "metric2": "latncy:min"})
    assert bad.status_code == 400 and "latncy" in bad.json()["reason"]


def test_a_sweep_sampled_log_uniform_gets_a_log_axis_even_over_a_narrow_range(repo: Path) -> None:
    (repo / "t.py").write_text("import sys\nprint(f'gitxp: acc={float(sys.argv[1])}')\n")
    args = ["run", "-e", "narrow", "--sample", "lr=loguniform(0.01,0.05)", "--sample", "u=uniform(0.01,0.05)"]
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", *args, "-n", "3", "--", sys.executable, "t.py", "{lr}", "{u}"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    local = TestClient(create_app(Store.open(repo)), raise_server_exceptions=False, base_url=LOCAL)
    info = local.get("/api/sweep", params={"experiment": "narrow", "metric": "acc:max"}).json()["param_info"]
    assert info["lr"]["log"] and info["lr"]["why"] == "sampled on a log scale"
    assert not info["u"]["log"]


def test_compare_n_runs_side_by_side(tradeoff: TestClient) -> None:
    client = tradeoff
    rows = client.get("/api/runs", params={"experiment": "tradeoff", "limit": 4}).json()["rows"]
    ids = [r["run_id"] for r in rows]
    data = client.get("/api/compare_runs", params={"runs": ",".join(ids)}).json()
    assert [r["run_id"] for r in data["runs"]] == ids
    assert "params.lr" in data["differ"] and "experiment" not in data["differ"]
    assert set(data["results"]) == {"acc", "latency"}
    assert client.get("/api/compare_runs", params={"runs": ids[0]}).status_code == 400
    assert client.get("/api/compare_runs", params={"runs": ids[0] + ",nosuchrun"}).status_code == 404


def test_text_filter_searches_only_what_is_shown(tradeoff: TestClient) -> None:
    """meta.argv of a sweep holds every grid value: a text filter must not match runs through it."""
    client = tradeoff
    hits = client.get("/api/runs", params={"q": "adam", "experiment": "tradeoff", "limit": 100}).json()
    assert hits["total"] == 8  # the adam runs, not every run whose hidden columns mention adam
    shown = client.get("/api/runs", params={"q": "python", "qcols": "run_id,params.optim"}).json()
    assert shown["total"] == 0
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert client.get("/api/runs", params={"q": version, "qcols": "run_id"}).json()["total"] == 0
    assert client.get("/api/runs", params={"q": version, "qcols": "meta.python"}).json()["total"] > 8


def test_pareto_front_two_objectives_matches_the_pairwise_rule() -> None:
    import random

    from gitxp.query.objective import _dominates, pareto_front

    rng = random.Random(0)
    for _ in range(500):
        points = [
            (i, [rng.choice([0, 1, 2, 3]), rng.choice([0.0, 1.5, 2.0])]) for i in range(rng.randint(0, 15))
        ]
        goals = [rng.choice(["min", "max"]), rng.choice(["min", "max"])]
        slow = [i for i, v in points if not any(_dominates(w, v, goals) for _, w in points)]
        assert pareto_front(points, goals) == slow


def test_compare_page_answer_is_bounded(repo: Path) -> None:
    """A side of thousands of runs with a sampled param: the page gets the counts, a few of the values and how
    many there are, not every run id and every value (7 MB at 100,000 runs)."""
    import gitxp

    for round_ in range(2):
        for i in range(30):
            with gitxp.start(experiment="b", params={"lr": round_ + i / 100}, metric="acc:max") as run:
                run.result(acc=i / 30 + round_)
        Store.open().flush()
        (repo / "train.py").write_text(f"print({round_})\n")
        git(repo, "commit", "-qam", f"round {round_}")
    first, second = gitxp.load(experiment="b", sort="started")["version"].unique().to_pylist()
    data = (
        TestClient(create_app(Store.open(repo)), base_url=LOCAL)
        .get(f"/api/compare?a={first}&b={second}")
        .json()
    )
    report = data["reports"][0]
    assert [g["runs"] for g in report["groups"]] == [30, 30] and "run_ids" not in report["groups"][0]
    values = report["params"][0]["values"]
    assert [len(v) for v in values.values()] == [13, 13] and values[first][-1] == "... (30 distinct)"


def test_compare_page_code_diff_of_a_branch_and_a_commit_is_the_clis(repo: Path, invoke: Any) -> None:
    """The dashboard said "(no differences)" where `gitxp compare main C --code` showed 4 files."""
    for name in "abcd":
        (repo / f"{name}.py").write_text("x = 1\n")
    (repo / "t.py").write_text("print('gitxp: acc=0.5')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD")
    assert invoke("run", "--", sys.executable, "t.py").exit_code == 0
    git(repo, "checkout", "-qb", "feature")
    for name in "abcd":
        (repo / f"{name}.py").write_text("x = 2\n")
    git(repo, "commit", "-qam", "change")
    assert invoke("run", "--", sys.executable, "t.py").exit_code == 0
    git(repo, "checkout", "-q", "main")
    cli = invoke("compare", "feature", base, "--code")
    assert cli.exit_code == 0 and "4 files changed" in cli.output, cli.output
    client = TestClient(create_app(Store.open(repo)), raise_server_exceptions=False, base_url=LOCAL)
    page = client.get("/api/compare", params={"a": "feature", "b": base}).json()
    assert [f"{n}.py" for n in "abcd"] == sorted(
        line.split(" b/")[-1] for line in page["diff"].splitlines() if line.startswith("diff --git")
    ), page["diff"]
