"""Issue 9, trust boundaries: secrets never travel with a run; foreign runs are not re-run without a word; bad
run ids and paths are refused on pull; push/pull take any location git accepts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import git
from test_wrapper import write

import gitxp
from gitxp.store import REF, Store


def test_secret_files_and_arguments_are_not_recorded(repo: Path, invoke, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
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
        data = subprocess.run(["git", "cat-file", "blob", line.split()[2]], cwd=repo, capture_output=True).stdout
        assert b"XYZ-SECRET" not in data and b"sk-live" not in data
    refused = invoke("rerun", row["run_id"], "--here")
    assert refused.exit_code == 2 and "GITXP_SECRET_TOKEN" in refused.output
    monkeypatch.setenv("GITXP_SECRET_TOKEN", "XYZ-SECRET")
    monkeypatch.setenv("GITXP_SECRET_API_KEY", "KEY-SECRET")
    again = invoke("rerun", row["run_id"], "--here")
    assert again.exit_code == 0, again.output
