"""Issue 9, trust boundaries: secrets never travel with a run; foreign runs are not re-run without a word; bad
run ids and paths are refused on pull; push/pull take any location git accepts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import clone_of, git, record_foreign_run, shared_remote
from test_wrapper import write

import gitxp
from gitxp.store import REF, Store


def test_secret_files_and_arguments_are_not_recorded(
    repo: Path, invoke, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    (repo / ".env").write_text("API_TOKEN=sk-live-abcdef\n")
    (repo / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (repo / "notes.txt").write_text("harmless untracked text\n")
    write(repo, "t.py", "import sys\nprint('gitxp: ok=1')\n")
    result = invoke("run", "--", sys.executable, "t.py", "--token", "XYZ-SECRET", "--api-key=KEY-SECRET")
    assert result.exit_code == 0, result.output
    assert result.output.count("look secret are not recorded") == 1
    row = gitxp.load().to_pylist()[0]
    assert sorted(row["meta.version.secrets_skipped"]) == [".env", "id_rsa"]
    store = Store.open()
    patch = (store.run_file(row["run_id"], "diff.patch") or b"").decode()
    assert "notes.txt" in patch and "sk-live" not in patch and "OPENSSH" not in patch and ".env" not in patch
    blob = json.dumps({k: v for k, v in row.items() if k.startswith("meta.")}, default=str)
    assert "XYZ-SECRET" not in blob and "KEY-SECRET" not in blob and "--token" in blob
    import subprocess

    tree = git(repo, "ls-tree", "-r", REF)
    for line in tree.splitlines():  # nothing on the ref holds the secrets
        data = subprocess.run(
            ["git", "cat-file", "blob", line.split()[2]], cwd=repo, capture_output=True
        ).stdout
        assert b"XYZ-SECRET" not in data and b"sk-live" not in data
    refused = invoke("rerun", row["run_id"], "--here")
    assert refused.exit_code == 2 and "GITXP_SECRET_TOKEN" in refused.output
    monkeypatch.setenv("GITXP_SECRET_TOKEN", "XYZ-SECRET")
    monkeypatch.setenv("GITXP_SECRET_API_KEY", "KEY-SECRET")
    again = invoke("rerun", row["run_id"], "--here")
    assert again.exit_code == 0, again.output


def _clone_with_a_foreign_run(
    repo: Path, tmp_path: Path, invoke, command: list[str], **meta: str
) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """A run recorded in a second clone (its meta forged as another user's/host's), pulled into ``repo``."""
    other = clone_of(repo, tmp_path / "other")
    (other / "t.py").write_text("import sys\nprint('gitxp: ok=1')\n")
    git(other, "add", "t.py")
    git(other, "commit", "-qm", "t")
    record_foreign_run(other, command, meta)
    git(repo, "fetch", "-q", str(other), "main:theirs")
    assert invoke("pull", str(other)).exit_code == 0  # a path, not a remote name
    run_id = gitxp.load().to_pylist()[0]["run_id"]
    return other, run_id


def test_rerun_of_a_foreign_run_asks_first(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    _, run_id = _clone_with_a_foreign_run(
        repo, tmp_path, invoke, ["sh", "-c", f"touch {marker}"], host="someone-elses-laptop", user="mallory"
    )
    refused = invoke("rerun", run_id)  # not a terminal, no --yes: refused
    assert refused.exit_code == 2 and "recorded by mallory on someone-elses-laptop" in refused.output
    assert f"touch {marker}" in refused.output and not marker.exists()
    assert invoke("rerun", run_id, "--yes").exit_code == 0 and marker.exists()


def test_rerun_refuses_a_workdir_outside_the_repository(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    _, run_id = _clone_with_a_foreign_run(repo, tmp_path, invoke, ["true"], workdir="../../tmp")
    result = invoke("rerun", run_id, "--yes")
    assert result.exit_code == 2 and "outside the repository" in result.output


def test_pull_refuses_a_store_with_a_bad_run_id(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    with gitxp.start(params={"x": 1}):
        pass
    before = gitxp.load().num_rows  # (reading waits for the background committer: the ref exists now)
    other = tmp_path / "evil"
    git(repo, "clone", "-q", str(repo), str(other))
    git(other, "fetch", "-q", str(repo), f"{REF}:{REF}")
    blob = (
        subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=other, input=b"x", capture_output=True)
        .stdout.decode()
        .strip()
    )
    index = tmp_path / "index"
    env = {"GIT_INDEX_FILE": str(index)}
    import os

    subprocess.run(["git", "read-tree", REF], cwd=other, check=True, env={**os.environ, **env})
    subprocess.run(
        ["git", "update-index", "--add", "--cacheinfo", f"100644,{blob},runs/x/y/..%2f..%2ftmp%2fevil/run.parquet"],
        cwd=other, check=True, env={**os.environ, **env},
    )  # fmt: skip
    tree = subprocess.run(
        ["git", "write-tree"], cwd=other, capture_output=True, text=True, env={**os.environ, **env}
    ).stdout.strip()
    commit = git(other, "commit-tree", tree, "-p", REF, "-m", "evil")
    git(other, "update-ref", REF, commit)
    result = invoke("pull", str(other))
    assert result.exit_code == 1 and "refusing to merge" in result.output and "tmp%2fevil" in result.output
    assert gitxp.load().num_rows == before


def test_push_and_pull_take_a_path(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    with gitxp.start(params={"x": 1}):
        pass
    pushed = invoke("push", str(bare))
    assert pushed.exit_code == 0, pushed.output
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "gitxp", "pull", str(bare)], cwd=clone, capture_output=True, text=True
    )
    assert out.returncode == 0 and "merged 1 new run " in out.stdout, out.stderr


def test_push_right_after_a_run_shares_it(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    """A run still in staging when `git push` starts (its commit not written yet, or its process killed) is
    committed and shared by the pre-push hook and by `gitxp push`, not skipped because the ref is not there yet."""
    import os
    import subprocess

    bare = shared_remote(repo, tmp_path / "shared.git", push=False)
    code = "import os, gitxp\nrun = gitxp.start(params={'x': 1})\nrun.result(acc=0.5)\nos._exit(0)\n"
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
    assert (
        subprocess.run(["git", "rev-parse", "-q", "--verify", REF], cwd=repo).returncode != 0
    )  # only staged
    hook = Path(gitxp.__file__).parent / "pre-push.hook"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["sh", str(hook), "origin", str(bare)], cwd=repo, check=True, env=env, capture_output=True)
    shared = git(bare, "ls-tree", "-r", "--name-only", REF)
    assert "run.parquet" in shared
    assert gitxp.load()["status"].to_pylist() == ["crashed"]
    pushed = invoke("push", str(bare))
    assert pushed.exit_code == 0, pushed.output
