"""``gitxp push``/``pull`` through GitPython (gitxp.git.porcelain): real remotes, clear errors, a lazy import."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import git, shared_remote

import gitxp
from gitxp.cli import cli
from gitxp.git.porcelain import describe_failure


@pytest.fixture
def needs_auth() -> Iterator[str]:
    """A real HTTP server that answers every request with 401 (a remote that wants credentials)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="gitxp-test"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/team/project.git"
    finally:
        server.shutdown()


def test_push_and_pull_between_two_clones(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    bare = shared_remote(repo, tmp_path / "shared.git", push=False)
    with gitxp.start(params={"x": 1}):
        pass
    pushed = invoke("push")
    assert pushed.exit_code == 0, pushed.output
    assert git(bare, "rev-parse", "refs/gitxp/runs")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "remote", "set-url", "origin", str(bare))
    code = "import gitxp\nwith gitxp.start(params={'x': 2}): pass\n"
    subprocess.run([sys.executable, "-c", code], cwd=clone, check=True)
    out = subprocess.run([sys.executable, "-m", "gitxp", "pull"], cwd=clone, capture_output=True, text=True)
    assert out.returncode == 0 and "merged 1 new run " in out.stdout, out.stderr
    out = subprocess.run([sys.executable, "-m", "gitxp", "push"], cwd=clone, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    pulled = invoke("pull")
    assert pulled.exit_code == 0 and "merged 1 new run " in pulled.output
    assert sorted(gitxp.load()["params.x"].to_pylist()) == [1, 2]


def test_unreachable_remote_is_named(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    with gitxp.start(params={"x": 1}):
        pass
    missing = tmp_path / "nowhere.git"
    for command in ("push", "pull"):
        result = invoke(command, str(missing))
        assert result.exit_code == 2, result.output
        assert "is not a reachable git repository" in result.output and "nowhere.git" in result.output
        assert "Traceback" not in result.output
    result = invoke("pull", "upstream")  # a remote name nobody configured
    assert result.exit_code == 2 and "not a reachable git repository" in result.output
    odd = tmp_path / "error 403" / "access denied 401.git"  # words of an auth failure in the path only
    result = invoke("pull", str(odd))
    assert result.exit_code == 2 and "not a reachable git repository" in result.output, result.output


def test_an_http_403_is_an_authentication_failure() -> None:
    from gitxp.git.porcelain import describe_failure

    stderr = "stderr: 'fatal: unable to access 'https://example.com/r.git/': The requested URL returned error: 403'"
    assert "authentication failed" in str(describe_failure("push", "https://example.com/r.git", stderr))


def test_authentication_failure_says_so(
    repo: Path, invoke, needs_auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")  # no prompt: git fails as a CI job would
    monkeypatch.setenv("GIT_ASKPASS", "")
    monkeypatch.delenv("SSH_ASKPASS", raising=False)
    with gitxp.start(params={"x": 1}):
        pass
    for command in ("push", "pull"):
        result = invoke(command, needs_auth)
        assert result.exit_code == 2, result.output
        assert f"gitxp {command} {needs_auth}: authentication failed" in result.output, result.output
        assert "credentials" in result.output and "Traceback" not in result.output


def test_failure_kinds() -> None:
    auth = describe_failure("push", "origin", "fatal: Authentication failed for 'https://x/y.git/'")
    assert "authentication failed" in str(auth) and "Authentication failed for" in str(auth)
    gone = describe_failure("pull", "origin", "fatal: 'origin' does not appear to be a git repository")
    assert "not a reachable git repository" in str(gone)
    other = describe_failure("push", "origin", "! [rejected] refs/gitxp/runs (non-fast-forward)")
    assert str(other) == "gitxp push origin failed: ! [rejected] refs/gitxp/runs (non-fast-forward)"


@pytest.mark.parametrize("args", [["-c", "import gitxp"], ["-m", "gitxp", "ls"]])
def test_gitpython_is_not_imported_for_listing(repo: Path, args: list[str]) -> None:
    if args[0] == "-m":
        code = (
            "import sys, runpy\nsys.argv = ['gitxp', 'ls']\n"
            "try:\n    runpy.run_module('gitxp', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('git' in sys.modules)\n"
        )
    else:
        code = "import gitxp, sys; print('git' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_a_first_pull_takes_the_store_as_it_is(repo: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Pulling into an empty store is a fast-forward: no pack written again, no repack of what git fetch just
    packed (they tripled the time of a first pull of 100,000 runs); the runs are all there."""
    import gitxp.store.packs as packs
    from gitxp.store import REF

    for i in range(3):
        with gitxp.start(params={"x": i}):
            pass
    gitxp.Store.open(repo).flush()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    monkeypatch.setattr(packs, "AUTO_PACK", 2)  # the pulling side would pack at once
    monkeypatch.chdir(clone)
    result = CliRunner().invoke(cli, ["pull", str(repo)], catch_exceptions=False)
    assert result.exit_code == 0 and "merged 3 new runs" in result.output, result.output
    assert git(clone, "rev-parse", REF) == git(repo, "rev-parse", REF)
    assert sorted(gitxp.load()["params.x"].to_pylist()) == [0, 1, 2]
