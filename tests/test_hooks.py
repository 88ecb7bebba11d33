"""Every hook, exercised by a plugin registered in the real plugin manager; the example plugin package too."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from test_wrapper import GITXP, write

import gitxp
from gitxp import hookimpl
from gitxp.plugins import collect_registry, get_plugin_manager
from gitxp.wrap.overrides import Invocation

EXAMPLE = Path(__file__).parent.parent / "examples" / "gitxp-plugin-example"


@pytest.fixture
def register() -> Iterator[Any]:
    pm = get_plugin_manager()
    added: list[object] = []

    def add(plugin: object) -> object:
        pm.register(plugin)
        added.append(plugin)
        return plugin

    yield add
    for plugin in added:
        pm.unregister(plugin)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def gitxp_collect_meta(self, run: gitxp.Run) -> dict[str, Any]:
        self.calls.append(("meta", run.id))
        return {"gpu": "none", "nested": {"k": 1}}

    @hookimpl
    def gitxp_run_start(self, run: gitxp.Run) -> None:
        self.calls.append(("start", dict(run.params)))

    @hookimpl
    def gitxp_log_metrics(self, run: gitxp.Run, step: int, values: dict[str, float]) -> None:
        self.calls.append(("log", (step, values)))

    @hookimpl
    def gitxp_run_end(self, run: gitxp.Run, status: str) -> None:
        self.calls.append(("end", status))
        run.result(seen_by_plugin=True)


def test_hook_gitxp_collect_meta(repo: Path, register) -> None:  # type: ignore[no-untyped-def]
    register(Recorder())
    with gitxp.start():
        pass
    row = gitxp.load().to_pylist()[0]
    assert row["meta.gpu"] == "none" and row["meta.nested.k"] == 1


def test_hook_gitxp_run_start(repo: Path, register) -> None:  # type: ignore[no-untyped-def]
    recorder = register(Recorder())
    with gitxp.start(params={"lr": 0.1}):
        pass
    assert ("start", {"lr": 0.1}) in recorder.calls


def test_hook_gitxp_log_metrics(repo: Path, register) -> None:  # type: ignore[no-untyped-def]
    recorder = register(Recorder())
    with gitxp.start() as run:
        run.log(step=3, loss=0.5)
    assert ("log", (3, {"loss": 0.5})) in recorder.calls


def test_hook_gitxp_run_end(repo: Path, register) -> None:  # type: ignore[no-untyped-def]
    recorder = register(Recorder())
    with pytest.raises(ZeroDivisionError):
        with gitxp.start():
            1 / 0  # noqa: B018
    assert ("end", "failed") in recorder.calls
    assert gitxp.load().to_pylist()[0]["results.seen_by_plugin"] is True


class EnvOverrides:
    """Delivers params as ``HP_<NAME>`` environment variables (a framework's own convention)."""

    @hookimpl
    def gitxp_apply_overrides(
        self, run: gitxp.Run | None, invocation: Invocation, params: dict[str, Any]
    ) -> None:
        for key, value in params.items():
            if key.startswith("hp_"):
                invocation.env[f"HP_{key[3:].upper()}"] = str(value)
                invocation.consumed.add(key)


def test_hook_gitxp_apply_overrides(repo: Path, register, invoke) -> None:  # type: ignore[no-untyped-def]
    register(EnvOverrides())
    write(
        repo, "env.py", "import os, sys\nprint('gitxp: got=' + os.environ['HP_LR'] + ' arg=' + sys.argv[1])\n"
    )
    # hp_lr is delivered by the plugin, x by the built-in templating: no param is "unused"
    result = invoke("run", "-p", "hp_lr=0.25", "-p", "x=3", "--", sys.executable, "env.py", "{x}")
    assert result.exit_code == 0, result.output
    row = gitxp.load().to_pylist()[0]
    assert row["results.got"] == 0.25 and row["results.arg"] == 3
    assert invoke("run", "-p", "hp_lr=1", "-p", "y=3", "--", sys.executable, "env.py", "1").exit_code == 2


class Fixed:
    def __init__(self, space: Any, **_: Any) -> None:
        self.left = [{"x": 42}, {"x": 7}]
        self.total = 2

    def suggest(self) -> dict[str, Any] | None:
        return self.left.pop(0) if self.left else None

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


class StrategyPlugin:
    @hookimpl
    def gitxp_search_strategies(self, register: Any) -> None:
        register("fixed", Fixed)


def test_hook_gitxp_search_strategies(repo: Path, register, invoke) -> None:  # type: ignore[no-untyped-def]
    register(StrategyPlugin())
    write(repo, "x.py", "import sys\nprint('gitxp: x=' + sys.argv[1])\n")
    result = invoke("run", "--strategy", "fixed", "--grid", "x=0", "--", sys.executable, "x.py", "{x}")
    assert result.exit_code == 0, result.output
    assert sorted(gitxp.load()["results.x"].to_pylist()) == [7, 42]


def test_capability_names_must_be_unique(register) -> None:  # type: ignore[no-untyped-def]
    class Clash:
        @hookimpl
        def gitxp_search_strategies(self, register: Any) -> None:
            register("grid", Fixed)

    register(Clash())
    with pytest.raises(ValueError, match="two plugins register a search strategy named 'grid'"):
        collect_registry(get_plugin_manager().hook.gitxp_search_strategies, "search strategy")


class SerialExecutor:
    used = 0

    @hookimpl
    def gitxp_executors(self, register: Any) -> None:
        def factory(jobs: int) -> Executor:
            SerialExecutor.used += 1
            return ThreadPoolExecutor(max_workers=1)

        register("serial", factory)


def test_hook_gitxp_executors(repo: Path, register, invoke) -> None:  # type: ignore[no-untyped-def]
    register(SerialExecutor())
    write(repo, "x.py", "import sys\nprint('gitxp: x=' + sys.argv[1])\n")
    result = invoke("run", "--executor", "serial", "--grid", "x=1,2", "--", sys.executable, "x.py", "{x}")
    assert result.exit_code == 0 and SerialExecutor.used == 1
    assert (
        invoke("run", "--executor", "nope", "--grid", "x=1", "--", sys.executable, "x.py", "{x}").exit_code
        == 2
    )


class CsvReader:
    def line(self, run: gitxp.Run, text: str) -> None:
        if text.startswith("RESULT,"):
            _, name, value = text.split(",")
            run.result({name: float(value)})

    def finish(self, run: gitxp.Run) -> None:
        pass


class ReaderPlugin:
    @hookimpl
    def gitxp_result_readers(self, register: Any) -> None:
        register("csv", CsvReader)


def test_hook_gitxp_result_readers(repo: Path, register, invoke) -> None:  # type: ignore[no-untyped-def]
    register(ReaderPlugin())
    assert invoke("run", "--", sys.executable, "-c", "print('RESULT,auc,0.875')").exit_code == 0
    assert gitxp.load().to_pylist()[0]["results.auc"] == 0.875


@pytest.fixture(scope="module")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("src") / "plugin"
    import shutil

    shutil.copytree(EXAMPLE, build)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(build),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_example_plugin_is_found_through_its_entry_point(repo: Path, example_plugin: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(example_plugin)}
    listing = subprocess.run(
        [*GITXP, "plugins"], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert (
        "example (gitxp-plugin-example): gitxp_collect_meta, gitxp_result_readers, gitxp_run_end, gitxp_search_strategies"
        in listing
    )
    write(
        repo,
        "j.py",
        "import json, os, sys\njson.dump({'auc': 0.9}, open(os.path.join(os.environ['GITXP_OUTPUT_DIR'], "
        "'results.json'), 'w'))\nprint(sys.argv[1])\n",
    )
    subprocess.run(
        [
            *GITXP,
            "run",
            "--strategy",
            "reverse-grid",
            "--grid",
            "x=1,2,3",
            "--",
            sys.executable,
            "j.py",
            "{x}",
        ],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    rows = gitxp.load(sort="started").to_pylist()
    assert [r["params.x"] for r in rows] == [3, 2, 1]
    assert all(r["meta.example.plugin"] == "loaded" and r["results.auc"] == 0.9 for r in rows)
    assert all(r["results.example_status_seen"] == "finished" for r in rows)


def test_entry_points_are_cached_until_an_install_changes_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan of installed distributions is kept between processes, and done again when a directory of
    sys.path changes (a distribution installed or removed)."""
    import shutil

    from gitxp.plugins import _cache_dir, entry_points

    site = tmp_path / "site"
    info = site / "gitxp_fake-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: gitxp-fake\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gitxp]\nfake = json:dumps\n")
    monkeypatch.syspath_prepend(str(site))
    assert ("fake", "json:dumps", "gitxp-fake") in entry_points("gitxp")
    assert list(_cache_dir().glob("entry-points-*.json"))  # kept for the next process
    assert ("fake", "json:dumps", "gitxp-fake") in entry_points("gitxp")  # from the cache
    shutil.rmtree(info)  # uninstalled: the directory's time changes
    assert all(name != "fake" for name, _v, _d in entry_points("gitxp"))
