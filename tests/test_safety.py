"""Issue 21 round 2: nothing lost on kill -9, nothing leaked, nothing forged run unasked, many runs touched only
with a yes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import clone_of, git, record_foreign_run, shared_remote

import gitxp


def _kill_9_once_written(code: str, cwd: Path, marker: Path, timeout: float = 30.0) -> str:
    """Run ``code`` in a fresh interpreter, SIGKILL it the moment it has written ``marker``; returns the marker's
    text."""
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert time.monotonic() < deadline, f"{marker} never appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    return marker.read_text()


# ---------------------------------------------------------------------- item 2: sampled params survive kill -9


def test_sampled_params_survive_kill_9_right_after_sampling(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "sampled"
    code = (
        "import gitxp, time, pathlib\n"
        "run = gitxp.start(params={'given': 1})\n"
        "time.sleep(0.6)\n"  # past the first periodic write: the next one is ~1 s away
        "lr = run.log_uniform('lr', 1e-5, 1e-1)\n"
        "opt = run.categorical('opt', ['sgd', 'adam'])\n"
        "u = run.uniform('u', 0, 1)\n"
        f"pathlib.Path({str(marker)!r}).write_text(repr((lr, opt, u)))\n"
        "time.sleep(60)\n"
    )
    lr, opt, u = eval(_kill_9_once_written(code, repo, marker))
    row = gitxp.load().to_pylist()[0]
    assert row["status"] == "crashed"
    assert (row["params.given"], row["params.lr"], row["params.opt"], row["params.u"]) == (1, lr, opt, u)


def test_optimize_trial_params_survive_kill_9(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "trial"
    code = (
        "import gitxp, time, pathlib\n"
        "def objective(run):\n"
        "    time.sleep(0.6)\n"
        "    x = run.uniform('x', -1, 1)\n"
        f"    pathlib.Path({str(marker)!r}).write_text(repr(x))\n"
        "    time.sleep(60)\n"
        "    return x * x\n"
        "gitxp.optimize(objective, n_trials=3, experiment='opt')\n"
    )
    x = eval(_kill_9_once_written(code, repo, marker))
    rows = [r for r in gitxp.load().to_pylist() if r["status"] == "crashed"]
    assert [r["params.x"] for r in rows] == [x]


# ---------------------------------------------------------------------- item 3: lone surrogates


def test_lone_surrogates_in_param_keys_and_experiment_names_do_not_lose_the_run(repo: Path) -> None:
    with gitxp.start(experiment="exp\udcff", params={"k\ud800": 1, "ok": 2}, meta={"m\udcfe": "x"}) as run:
        run.result({"acc\udc80": 0.5})
        run.log({"loss\ud801": 0.1})
    rows = gitxp.load().to_pylist()
    assert len(rows) == 1, "the run was lost"
    row = rows[0]
    assert row["experiment"] == "exp\\xff"
    assert row["params.k\\ud800"] == 1 and row["params.ok"] == 2
    assert row["meta.m\\xfe"] == "x" and row["results.acc\\x80"] == 0.5
    assert not list((repo / ".git").rglob(".corrupt"))


# ---------------------------------------------------------------------- item 1: forged runs are foreign


def _gitxp(cwd: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitxp", *args], cwd=cwd, stdin=stdin, capture_output=True, text=True
    )


@pytest.mark.parametrize("forged", ["null", "victim"])
def test_a_pulled_run_with_forged_user_and_host_is_not_run_unasked(
    repo: Path, tmp_path: Path, forged: str
) -> None:
    from gitxp.run.meta import current_user
    from gitxp.store import HOST

    mallory = clone_of(shared_remote(repo, tmp_path / "shared.git"), tmp_path / "mallory")
    marker = tmp_path / "pwned"
    meta = {"user": None, "host": None} if forged == "null" else {"user": current_user(), "host": HOST}
    record_foreign_run(mallory, ["sh", "-c", f"touch {marker} # x={{x}}"], meta)
    # the victim's own run, recorded in this clone: re-run without a question
    own = tmp_path / "own"
    code = (
        "import gitxp\n"
        "run = gitxp.start(params={'x': 2})\n"
        f"run.meta({{'command.template': ['sh', '-c', 'touch {own}'], 'command.shell': False}})\n"
        "run.end()\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True)
    pulled = _gitxp(repo, "pull", "origin")
    assert pulled.returncode == 0, pulled.stderr
    rows = {r["params.x"]: r for r in gitxp.load().to_pylist()}
    forged_id, own_id = rows[1]["run_id"], rows[2]["run_id"]
    assert (rows[1]["meta.user"], rows[1]["meta.host"]) == (meta["user"], meta["host"])
    refused = _gitxp(repo, "rerun", forged_id)
    assert refused.returncode == 2, refused.stderr
    assert not marker.exists(), "a pulled run's command ran without a yes"
    assert "not recorded in this clone" in refused.stderr
    # the prompt shows the command that will run (params applied), not the template
    assert f"touch {marker} # x=1" in refused.stderr and "{x}" not in refused.stderr
    mine = _gitxp(repo, "rerun", own_id)
    assert mine.returncode == 0, mine.stderr
    assert own.exists()
    assert _gitxp(repo, "rerun", forged_id, "--yes").returncode == 0 and marker.exists()


# ---------------------------------------------------------------------- item 4: secrets never leave the machine

SECRET = "S3CR3T-planted-value"
SECRET_FILES = [
    ".git-credentials",
    ".npmrc",
    ".envrc",
    ".docker/config.json",
    "service-account.json",
    "kubeconfig",
    "secrets.yaml",
    "token.txt",
    "api_key.txt",
    "terraform.tfvars",
    "keys/deploy.ppk",
    ".htpasswd",
    "conf/local.secret",  # from git config gitxp.secretFiles
]


def test_no_planted_secret_reaches_the_pushed_remote(repo: Path, tmp_path: Path) -> None:
    bare = shared_remote(repo, tmp_path / "shared.git", push=False)
    (repo / "settings.env").write_text("MODE=dev\n")
    (repo / "t.py").write_text(  # a script that prints what it was given: the run's log must not keep it
        "import os, sys\nprint(sys.argv)\nprint(os.environ.get('GITXP_PARAMS'), file=sys.stderr)\n"
        "print('gitxp: ok=1')\n"
    )
    git(repo, "add", "settings.env", "t.py")
    git(repo, "commit", "-qm", "settings")
    git(repo, "config", "--add", "gitxp.secretFiles", "*.secret")
    (repo / "settings.env").write_text(f"MODE=dev\nPASSWORD={SECRET}\n")  # an edit of a tracked secret file
    (repo / "notes.txt").write_text("harmless untracked text\n")
    for name in SECRET_FILES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"{SECRET}\n")
    secret_args = [
        "--password", SECRET, f"--api-key={SECRET}", "--pass", SECRET, "--key", SECRET,
        "--private-key", SECRET, "--access-key", SECRET, "-p", SECRET,
        f"https://user:{SECRET}@example.com/x", "-H", f"Authorization: Bearer {SECRET}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    import shlex

    shell = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", "--shell", "-p", f"token={SECRET}", "--grid", f"api_key={SECRET}",
         "--allow-unused", "--", shlex.join([sys.executable, "t.py", *secret_args])],
        cwd=repo, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert shell.returncode == 0, shell.stderr
    plain = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", "-p", f"db.password={SECRET}", "--allow-unused", "--",
         sys.executable, "t.py", *secret_args],
        cwd=repo, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    code = f"import gitxp\nwith gitxp.start(params={{'hf_token': {SECRET!r}}}, meta={{'url': 'https://u:{SECRET}@h'}}):\n    pass\n"
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, env=env)
    rows = gitxp.load().to_pylist()
    assert len(rows) == 3
    skipped = set(next(r for r in rows if r["meta.version.secrets_skipped"])["meta.version.secrets_skipped"])
    assert skipped >= {*SECRET_FILES, "settings.env"}
    pushed = subprocess.run([sys.executable, "-m", "gitxp", "push", "origin"], cwd=repo, capture_output=True, env=env)
    assert pushed.returncode == 0, pushed.stderr
    objects = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=bare, capture_output=True, check=True
    ).stdout
    assert len(objects) > 1000 and b"harmless untracked text" in objects  # the patches did travel
    assert SECRET.encode() not in objects
    for pack in bare.rglob("*.pack"):  # and nothing hides compressed (cat-file shows every object inflated)
        assert SECRET.encode() not in pack.read_bytes()


def test_one_masking_function_covers_every_form_and_rerun_fills_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gitxp.version.secrets import MASK, is_secret_name, mask_argv, mask_record, unmask, unmask_params

    argv = [
        "python", "t.py", "--password", "a", "--api-key=b", "--pass", "c", "--key", "d", "--private-key", "e",
        "--access-key", "f", "-p", "g", "https://user:h@host/x", "-H", "Authorization: Bearer i", "db.password=j",
        "--max-tokens", "512", "--token-file", "tok.txt", "-p", "lr=0.1", "-p", "4", "--lr", "0.1",
    ]  # fmt: skip
    masked = mask_argv(argv)
    assert not set("abcdefghij") & set(masked) and "Authorization: ***" in masked and "db.password=***" in masked
    assert masked[-10:] == argv[-10:]  # not secrets
    shell = 'API_KEY=k python t.py --token x | tee "$HOME/log"'
    assert mask_argv([shell]) == ['API_KEY=*** python t.py --token *** | tee "$HOME/log"']  # quoting kept
    for name in ("PASSWORD", "API_KEY", "PASS", "KEY", "PRIVATE_KEY", "ACCESS_KEY", "P", "URL_PASSWORD",
                 "AUTHORIZATION", "DB_PASSWORD", "TOKEN"):  # fmt: skip
        monkeypatch.setenv(f"GITXP_SECRET_{name}", name.lower())
    filled = unmask(masked, "r")
    assert filled[3] == "password" and filled[15] == "https://user:url_password@host/x"
    assert unmask(mask_argv([shell]), "r") == ['API_KEY=api_key python t.py --token token | tee "$HOME/log"']
    record = mask_record({"params": {"token": "x", "max_tokens": 5}, "meta": {"note": "see https://u:p@h"}})
    assert record["params"] == {"token": MASK, "max_tokens": 5} and record["meta"]["note"] == "see https://u:***@h"
    assert unmask_params(record["params"], "r") == {"token": "token", "max_tokens": 5}
    assert mask_record(record) == record  # idempotent
    assert not any(map(is_secret_name, ["--max-tokens", "--keyboard", "--author", "--secret-name", "tokenizer",
                                        "sort_key", "rng_key"]))  # fmt: skip
    assert all(map(is_secret_name, ["--key", "--private-key", "OPENAI_API_KEY", "wandb_key", "hfToken"]))


# ---------------------------------------------------------------------- item 12: many runs only with a yes


def _detached_trials(repo: Path, experiments: list[str]) -> list[str]:
    """Trials left to a (fake) Slurm by `gitxp run --detach`, as its executor stages them."""
    code = (
        "import gitxp, sys\n"
        "from gitxp.store.schema import DETACHED\n"
        f"for exp in {experiments!r}:\n"
        "    run = gitxp.start(experiment=exp, params={'x': 1})\n"
        "    run.let_go('queued', {DETACHED: True, 'slurm.cluster': 'none', 'slurm.job_id': 'x'})\n"
        "    print(run.id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_cancel_of_several_slurm_trials_asks_and_a_short_prefix_is_refused(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    ids = _detached_trials(repo, ["a", "a", "b"])

    def statuses() -> list[str]:
        from gitxp.store import Store

        return sorted(Store.open().table(show="all")["status"].to_pylist())

    short = invoke("cancel", "0")
    assert short.exit_code == 2 and "too short" in short.output, short.output
    assert statuses() == ["queued"] * 3
    many = invoke("cancel", "a")  # an experiment of 2 trials, no terminal, no --yes
    assert many.exit_code != 0 and "--yes" in many.output, many.output
    assert statuses() == ["queued"] * 3
    asked = invoke("cancel", "a", input="n\n")
    assert asked.exit_code != 0 and statuses() == ["queued"] * 3
    assert invoke("cancel", ids[2]).exit_code == 0  # one trial by its id: no question
    assert statuses() == ["cancelled", "queued", "queued"]
    assert invoke("cancel", "-e", "a", "--yes").exit_code == 0
    assert statuses() == ["cancelled"] * 3


def test_lifecycle_ops_refuse_a_short_prefix_and_ask_for_several(repo: Path, invoke) -> None:  # type: ignore[no-untyped-def]
    for x in range(3):
        with gitxp.start(params={"x": x}):
            pass
    ids = [r["run_id"] for r in gitxp.load().to_pylist()]
    short = invoke("archive", ids[0][:4])
    assert short.exit_code == 2 and "too short" in short.output, short.output
    many = invoke("archive", "-e", "project")
    assert many.exit_code != 0 and "--yes" in many.output
    assert invoke("archive", ids[0][:8] if len({i[:8] for i in ids}) == 3 else ids[0]).exit_code == 0


def test_bisect_and_resume_of_a_pulled_run_do_not_run_its_command_unasked(repo: Path, tmp_path: Path) -> None:
    import json

    from gitxp.search.resume import INVOCATION_KEY

    for i in range(3):
        (repo / f"f{i}.py").write_text(f"x = {i}\n")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", f"c{i}")
    mallory = clone_of(shared_remote(repo, tmp_path / "shared.git"), tmp_path / "mallory")
    marker = tmp_path / "pwned"
    invocation = json.dumps(["--grid", "x=1,2", "--", "sh", "-c", f"touch {marker}"])
    record_foreign_run(
        mallory,
        ["sh", "-c", f"touch {marker}"],
        {"user": None, "host": None},
        experiment="evil",
        more_meta={INVOCATION_KEY: invocation},
        results={"ok": 1.0},
    )
    assert _gitxp(repo, "pull", "origin").returncode == 0
    run_id = gitxp.load().to_pylist()[0]["run_id"]
    bisect = _gitxp(repo, "bisect", "--good", "HEAD~2", "--bad", "HEAD", "--metric", "ok:max", run_id)
    assert bisect.returncode == 2 and "not recorded in this clone" in bisect.stderr, bisect.stderr
    resume = _gitxp(repo, "run", "--resume", "-e", "evil")
    assert resume.returncode == 2 and "not recorded in this clone" in resume.stderr, resume.stderr
    assert f"touch {marker}" in resume.stderr
    assert not marker.exists()


def test_a_non_utf8_experiment_name_on_the_command_line_sweeps_and_keeps_its_runs(repo: Path) -> None:
    argv = [sys.executable.encode(), b"-m", b"gitxp", b"run", b"-e", b"bad\xff", b"-n", b"2", b"--strategy", b"tpe",
            b"--metric", b"loss:min", b"--sample", b"x=uniform(0,1)", b"--allow-unused", b"--", b"echo", b"gitxp: loss=1"]  # fmt: skip
    for _ in range(2):  # the second sweep reads the first one's history
        out = subprocess.run(argv, cwd=repo, capture_output=True)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
    assert [r["experiment"] for r in gitxp.load().to_pylist()] == ["bad\\xff"] * 4


def test_masked_secrets_never_show_and_come_back_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from gitxp.version.secrets import mask_argv, mask_record, unmask

    secrets = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_.+"), min_size=6,
                      max_size=20).filter(lambda s: not s.startswith("-"))  # fmt: skip
    forms = st.sampled_from(["--password {}", "--api-key={}", "-p {}", "--access-key {}", "db.password={}",
                             "https://user:{}@host/x", "--header=Authorization: Bearer {}", "HF_TOKEN={}"])  # fmt: skip
    names = {"PASSWORD", "API_KEY", "P", "ACCESS_KEY", "DB_PASSWORD", "URL_PASSWORD", "AUTHORIZATION", "HF_TOKEN"}

    @settings(max_examples=150, deadline=None)
    @given(secret=secrets, form=forms, shell=st.booleans())
    def check(secret: str, form: str, shell: bool) -> None:
        if secret.replace(".", "").replace("+", "").isdigit():
            return  # `-p 123` is a number (a port, a count), not a password
        words = form.format(secret).split(" ", 1) if form.startswith(("--password", "-p ", "--access")) else [
            form.format(secret)]  # fmt: skip
        argv = ["python", "t.py", *words, "--lr", "0.1"]
        import shlex

        recorded = mask_argv([shlex.join(argv)] if shell else argv)
        assert secret not in " ".join(recorded)
        assert secret not in str(mask_record({"meta": {"command": recorded, "note": " ".join(argv)}}))
        value = ("Bearer " + secret) if "Authorization" in form else secret
        for name in names:
            monkeypatch.setenv(f"GITXP_SECRET_{name}", value)
        assert unmask(recorded, "r") == ([shlex.join(argv)] if shell else argv)

    check()
