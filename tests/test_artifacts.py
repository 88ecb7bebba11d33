"""Artifacts: small files as blobs on the ref (deduplicated, travel with push/pull, kept by gc), large files
through fsspec to the artifact location (local directory or memory filesystem), restore with hash check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitxp
from gitxp.errors import UsageError
from gitxp.store import REF, Store, run_path
from tests.conftest import clone_of, git, shared_remote


def test_small_artifacts_are_blobs_on_the_ref_deduplicated(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "plot.svg"
    source.write_text("<svg/>")
    folder = tmp_path / "preds"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_text("1,2\n")
    (folder / "sub" / "b.csv").write_text("3,4\n")
    ids = []
    for _ in range(2):
        with gitxp.start(params={"a": 1}) as run:
            run.log_artifact(source)
            run.log_artifact(source, name="figs/copy.svg")
            run.log_artifacts(folder, prefix="preds")
            ids.append(run.id)
    gitxp.load()  # commits are written in the background: wait for them
    blobs = {git(repo, "rev-parse", f"{REF}:{run_path(run_id)}/artifacts/plot.svg") for run_id in ids}
    assert len(blobs) == 1  # content-addressed: stored once for both runs
    listing = invoke("artifacts", ids[0])
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines()] == [
        "figs/copy.svg",
        "plot.svg",
        "preds/a.csv",
        "preds/sub/b.csv",
    ]
    out = tmp_path / "restored.csv"
    got = invoke("get", ids[1], "preds/sub/b.csv", "-o", str(out))
    assert got.exit_code == 0 and out.read_text() == "3,4\n" and "sha256 verified" in got.output
    typo = invoke("get", ids[1], "preds/a.cvs")
    assert typo.exit_code == 2 and "unknown artifact 'preds/a.cvs' (did you mean preds/a.csv" in typo.output
    with gitxp.start() as run, pytest.raises(UsageError, match="relative path"):
        run.log_artifact(source, name="../escape.svg")


def test_large_artifacts_go_to_the_location_and_are_verified(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    git(repo, "config", "gitxp.artifacts.maxSize", "1k")
    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(5000))
    with gitxp.start() as run:
        entry = run.log_artifact(big)
        run.log_artifact(tmp_path / "model.bin", name="again.bin")
    assert entry["stored"] == "location" and entry["size"] == 5000
    gitxp.load()
    stored = Store.open().root / "artifacts"
    assert len([p for p in stored.rglob("*") if p.is_file()]) == 1  # deduplicated by sha256
    assert git(repo, "ls-tree", "-r", "--name-only", REF).count("model.bin") == 0  # not in git
    out = tmp_path / "out" / "model.bin"
    assert invoke("get", run.id, "model.bin", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == big.read_bytes()
    # corrupted at the location: a clear error and nothing written
    (blob,) = [p for p in stored.rglob("*") if p.is_file()]
    blob.write_bytes(b"tampered")
    bad = tmp_path / "bad.bin"
    corrupt = invoke("get", run.id, "model.bin", "-o", str(bad))
    assert corrupt.exit_code != 0 and "corrupt" in corrupt.output
    assert not bad.exists() and not list(tmp_path.glob("bad.bin*"))


def test_large_artifacts_through_an_fsspec_memory_location(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsspec = pytest.importorskip("fsspec")
    monkeypatch.setenv("GITXP_ARTIFACT_LOCATION", "memory://gitxp-test/artifacts")
    monkeypatch.setenv("GITXP_ARTIFACT_MAX_SIZE", "100")
    data = os.urandom(1000)
    (tmp_path / "w.pt").write_bytes(data)
    with gitxp.start() as run:
        entry = run.log_artifact(tmp_path / "w.pt")
    assert entry["url"].startswith("memory://gitxp-test/artifacts/sha256/")
    assert fsspec.filesystem("memory").cat(entry["url"]) == data
    from gitxp.store.artifacts import get_artifact

    get_artifact(Store.open(), run.id, "w.pt", tmp_path / "back.pt")
    assert (tmp_path / "back.pt").read_bytes() == data


def test_wrapped_command_output_artifacts_and_api_give_one_run(repo: Path, tmp_path: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / "make.py").write_text(
        "import os, pathlib, gitxp\n"
        "out = pathlib.Path(os.environ['GITXP_OUTPUT_DIR']) / 'artifacts'\n"
        "out.mkdir(exist_ok=True)\n"
        "(out / 'report.txt').write_text('hello')\n"
        "pathlib.Path('local.json').write_text('{}')\n"
        "with gitxp.start() as run:\n"
        "    run.log_artifact('local.json', name='cfg/local.json')\n"
    )
    git(repo, "add", "make.py")
    git(repo, "commit", "-qm", "make")
    result = invoke("run", "--", sys.executable, "make.py")
    assert result.exit_code == 0, result.output
    (row,) = gitxp.load().to_pylist()
    listing = invoke("artifacts", row["run_id"]).output
    assert "report.txt" in listing and "cfg/local.json" in listing
    assert invoke("get", row["run_id"], "report.txt", "-o", str(tmp_path / "r.txt")).exit_code == 0
    assert (tmp_path / "r.txt").read_text() == "hello"


def test_artifacts_travel_with_push_pull_and_survive_gc(
    make_repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke
) -> None:  # type: ignore[no-untyped-def]
    first = make_repo("first")
    bare = shared_remote(first, tmp_path / "remote.git")
    monkeypatch.chdir(first)
    (tmp_path / "weights.npy").write_bytes(b"\x93NUMPY" + bytes(range(256)) * 4)
    with gitxp.start() as run:
        run.log_artifact(tmp_path / "weights.npy")
    assert invoke("push").exit_code == 0
    second = clone_of(bare, tmp_path / "second")
    monkeypatch.chdir(second)
    assert invoke("pull").exit_code == 0
    assert invoke("gc").exit_code == 0
    subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=second, check=True)
    out = tmp_path / "pulled.npy"
    assert invoke("get", run.id, "weights.npy", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == (tmp_path / "weights.npy").read_bytes()


def test_rerun_makes_the_runs_inputs_available_again(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    (repo / ".gitignore").write_text("data/\n")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x\n1\n2\n3\n")
    (repo / "fit.py").write_text(
        "import gitxp, pathlib\n"
        "with gitxp.start() as run:\n"
        "    run.log_input('data/train.csv')\n"
        "    run.result(rows=len(pathlib.Path('data/train.csv').read_text().split()) - 1)\n"
    )
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "fit")
    result = invoke("run", "--", sys.executable, "fit.py")
    assert result.exit_code == 0, result.output
    (first,) = gitxp.load().to_pylist()
    assert first["results.rows"] == 3
    assert "inputs/data/train.csv" in invoke("artifacts", first["run_id"]).output
    (repo / "data" / "train.csv").unlink()  # gone from this checkout (and never in git)
    again = invoke("rerun", first["run_id"])
    assert again.exit_code == 0, again.output
    assert sorted(r["results.rows"] for r in gitxp.load().to_pylist()) == [3, 3]
