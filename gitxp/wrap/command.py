"""Running an unmodified command as a run: spawn it, tee its output, collect its results, record its fate.

The child runs in its own process group (so that gitxp decides what reaches it), with ``GITXP_RUN_ID``,
``GITXP_PARAMS`` (JSON) and ``GITXP_OUTPUT_DIR`` in its environment; if it uses the gitxp API itself, its
``gitxp.start()``/``@experiment`` attach to this run (see ``gitxp.run._attach_target``). SIGINT, SIGTERM and SIGHUP
received by gitxp are forwarded to the child's group; a child that ignores them gets SIGTERM then SIGKILL after
``GRACE_SECONDS``. Status: exit 0 -> ``finished``; stopped by a forwarded signal -> ``interrupted``; anything
else -> ``failed`` (with the exit code and the tail of stderr in meta).
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gitxp.errors import UsageError
from gitxp.run import Run
from gitxp.wrap.tee import pump as _pump

__all__ = ["Command", "Controller", "execute", "check_command", "GRACE_SECONDS", "result_readers"]

GRACE_SECONDS = float(os.environ.get("GITXP_GRACE_SECONDS", 10.0))
_TAIL_LINES = 30
POLL_SECONDS = 0.5
PRUNE_GRACE_SECONDS = float(os.environ.get("GITXP_PRUNE_GRACE_SECONDS", 5.0))
_SIGNALS = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]


@dataclass(frozen=True)
class Command:
    """What to run: ``argv`` (joined and run by the shell with ``shell=True``), an optional config file to render."""

    argv: tuple[str, ...]
    shell: bool = False
    config: Path | None = None
    cwd: Path | None = None
    parse: tuple[str, ...] = ()  # --parse REGEX: output lines to read as curve points or results


def check_command(command: Command) -> None:
    """Fail early (exit 2, nothing recorded) when the program does not exist."""
    if not command.argv:
        raise UsageError("no command given: gitxp run [OPTIONS] -- COMMAND [ARGS]...")
    if command.shell:
        return
    program = command.argv[0]
    if "{" in program:
        return
    if os.sep in program:
        if not Path(command.cwd or ".", program).exists():
            raise UsageError(f"command not found: {program}")
    elif shutil.which(program) is None:
        raise UsageError(f"command not found: {program}")


class Controller:
    """The live children of this gitxp process and the handling of Ctrl-C / termination signals."""

    def __init__(self) -> None:
        self.procs: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.interrupted = threading.Event()
        self.count = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in _SIGNALS:
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.count += 1
        first = not self.interrupted.is_set()
        self.interrupted.set()
        self.signal_all(signal.SIGKILL if self.count >= 3 else signum)
        if first:
            timer = threading.Timer(GRACE_SECONDS, self._escalate)
            timer.daemon = True
            timer.start()

    def _escalate(self) -> None:
        self.signal_all(signal.SIGTERM)
        timer = threading.Timer(GRACE_SECONDS, lambda: self.signal_all(signal.SIGKILL))
        timer.daemon = True
        timer.start()

    def signal_all(self, sig: int) -> None:
        with self.lock:
            procs = list(self.procs)
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    def stop(self) -> None:
        """Stop every child (fail-fast): they are recorded as interrupted."""
        self.interrupted.set()
        self.signal_all(signal.SIGTERM)
        timer = threading.Timer(GRACE_SECONDS, lambda: self.signal_all(signal.SIGKILL))
        timer.daemon = True
        timer.start()


def result_readers() -> dict[str, Callable[[], Any]]:
    from gitxp.plugins import collect_registry, get_plugin_manager

    return collect_registry(get_plugin_manager().hook.gitxp_result_readers, "result reader")


_WATCHDOG = """
pgs=""
while IFS= read -r line; do
  case "$line" in
    +*) pgs="$pgs ${line#+}" ;;
    -*) keep=""; for p in $pgs; do [ "$p" = "${line#-}" ] || keep="$keep $p"; done; pgs=$keep ;;
  esac
done
[ -n "$pgs" ] || exit 0
for p in $pgs; do kill -s TERM -- "-$p" 2>/dev/null; done
sleep "$1"
for p in $pgs; do kill -s KILL -- "-$p" 2>/dev/null; done
"""


class _Watchdog:
    """Children never outlive a dead gitxp as orphans doing unrecorded work. A tiny ``sh`` process, in a session
    of its own, reads the process groups of the running commands from a pipe; when gitxp dies, however it dies
    (kill -9 included), the pipe closes and the watchdog sends those groups SIGTERM, then SIGKILL after the
    grace period. Their runs are then recovered as ``crashed`` with everything they had recorded."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None

    def _send(self, line: str) -> None:
        with self.lock:
            try:
                if self.proc is None or self.proc.poll() is not None:
                    self.proc = subprocess.Popen(
                        ["sh", "-c", _WATCHDOG, "gitxp-watchdog", str(GRACE_SECONDS)],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                assert self.proc.stdin is not None
                self.proc.stdin.write(line.encode() + b"\n")
                self.proc.stdin.flush()
            except OSError:
                pass  # no watchdog (no sh): children then rely on the run's liveness lock alone

    def watch(self, pgid: int) -> None:
        self._send(f"+{pgid}")

    def release(self, pgid: int) -> None:
        self._send(f"-{pgid}")


_watchdog = _Watchdog()


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the command's process group, SIGKILL if it is still there after ``grace`` seconds."""

    def kill_later() -> None:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    threading.Thread(target=kill_later, daemon=True).start()


def _other_interpreter(argv: list[str], env: dict[str, str], shell: bool) -> dict[str, Any]:
    """A command run by another Python than gitxp's (another virtualenv's ``python``): gitxp's own environment is
    not the run's, so none is recorded, and a note says why (the gitxp API inside the command records its own)."""
    first = argv[0] if argv and not shell else ""
    if not os.path.basename(first).startswith("python"):
        return {}
    found = shutil.which(first, path=env.get("PATH"))
    # the same bin directory is the same installation (a virtualenv's python links to the base one: no samefile)
    here = os.path.dirname(os.path.abspath(sys.executable))
    if found is None or os.path.dirname(os.path.abspath(found)) == here:
        return {}
    return {
        "environment": None,
        "environment.note": f"the command runs {found}, not gitxp's {sys.executable}: its packages were not "
        "recorded (the gitxp API inside the command records them)",
    }


def execute(
    run: Run,
    command: Command,
    *,
    controller: Controller,
    tee: bool = True,
    stdin: int | IO[Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Run ``command`` as ``run`` and end the run; return its status."""
    from gitxp.plugins import get_plugin_manager

    hooks = get_plugin_manager().hook
    run.config_file = command.config  # type: ignore[attr-defined]
    from gitxp.hookspecs import Invocation

    invocation = Invocation(
        list(command.argv), config=command.config, output_dir=run.output_dir, run_id=run.id
    )
    hooks.gitxp_apply_overrides(run=run, invocation=invocation, params=dict(run.params))
    seed = run.meta().get("seed")  # a repeat's own seed (gitxp run -n N), unless the caller sets one
    env = {
        **os.environ,
        **({"GITXP_SEED": str(seed)} if isinstance(seed, int) and not isinstance(seed, bool) else {}),
        **(extra_env or {}),
        **invocation.env,
        "GITXP_ATTACH_DIR": str(run.staged.path),
        "GITXP_EXPERIMENT": run.experiment,
    }
    env.setdefault("PYTHONUNBUFFERED", "1")
    argv: list[str] | str = invocation.command
    if command.shell:
        argv = " ".join(invocation.command)
    from gitxp.version.secrets import mask_argv, mask_shell

    run.meta(
        {
            "command": mask_argv(invocation.command) if not command.shell else [mask_shell(str(argv))],
            "command.template": mask_argv(command.argv),
            "command.shell": command.shell,
            "command.config": str(command.config) if command.config else None,
            "command.parse": list(command.parse) or None,
            "output_dir": str(run.output_dir),
            "entrypoint.script": None,  # the command is how to run it again (gitxp.run.entrypoint)
            "entrypoint.why_not": None,
            **_other_interpreter(invocation.command, env, command.shell),
        }
    )
    from gitxp.wrap.readers import RegexReader

    readers = [factory() for factory in result_readers().values()]
    readers += [RegexReader(pattern) for pattern in command.parse]

    pruned = threading.Event()
    child: list[subprocess.Popen[bytes]] = []

    def on_line(text: str) -> None:
        for reader in readers:
            try:
                reader.line(run, text)
            except Exception as error:  # a malformed line must not kill the run
                run.meta({"reader_error": f"{type(error).__name__}: {error}"})

    def prune_check() -> None:
        """Ask the pruner, on everything the command has said so far (never on a line with more already
        waiting behind it), and not once the command has reported its final value: it has completed."""
        pruning = run.pruning
        if pruning is None or not child or pruned.is_set() or pruning.metric in run.results:
            return
        if run.should_prune():
            pruned.set()  # the pruner says stop: SIGTERM now, SIGKILL after a grace period
            _stop_group(child[0], PRUNE_GRACE_SECONDS)

    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    log_lock = threading.Lock()
    status, message = "failed", None
    with open(run.staged.path / "stdout.log", "ab") as log:
        try:
            proc = subprocess.Popen(
                argv,
                shell=command.shell,
                cwd=command.cwd,
                env=env,
                stdin=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as error:
            run.meta({"error.type": type(error).__name__, "error.message": str(error)})
            run.end("failed")
            return "failed"
        child.append(proc)
        _watchdog.watch(proc.pid)  # start_new_session: its process group id is its pid
        with controller.lock:
            controller.procs.add(proc)
        assert proc.stdout is not None and proc.stderr is not None
        out_sinks = [sys.stdout.buffer] if tee else []
        err_sinks = [sys.stderr.buffer] if tee else []
        from gitxp.version.secrets import secret_values
        from gitxp.wrap.tee import redactor

        redact = redactor(secret_values(invocation.command, dict(run.params), shell=command.shell))
        threads = [
            threading.Thread(
                target=_pump,
                args=(proc.stdout, out_sinks, log, log_lock, on_line, None, prune_check),
                kwargs={"redact": redact},
                daemon=True,
            ),
            threading.Thread(
                target=_pump,
                args=(proc.stderr, err_sinks, log, log_lock, None, tail),
                kwargs={"redact": redact},
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()
        if controller.interrupted.is_set():  # a Ctrl-C arrived while we were starting it
            controller.signal_all(signal.SIGINT)
        pollers = [reader for reader in readers if hasattr(reader, "poll")]
        while True:  # files the command writes (metric_*.log) are read as it runs: live curves, the pruner
            try:
                code = proc.wait(timeout=POLL_SECONDS if pollers else None)
                break
            except subprocess.TimeoutExpired:
                for reader in pollers:
                    try:
                        reader.poll(run)
                    except Exception as error:
                        run.meta({"reader_error": f"{type(error).__name__}: {error}"})
                prune_check()
        for thread in threads:
            thread.join()
        _watchdog.release(proc.pid)
        with controller.lock:
            controller.procs.discard(proc)
    run.meta(exit_code=code)
    completed = code == 0 and run.pruning is not None and run.pruning.metric in run.results
    if pruned.is_set() and not completed:  # (exit 0 with its final value: it ended before the signal landed)
        status = "pruned"
        run.pruning.record_pruned(run)
    elif code == 0 and not controller.interrupted.is_set():
        status = "finished"
    elif controller.interrupted.is_set() or -code in (signal.SIGINT, signal.SIGTERM) or code == 130:
        status = "interrupted"
        message = "stopped by a signal"
    else:
        status = "failed"
        message = (
            f"command exited with code {code}"
            if code > 0
            else f"command killed by {signal.Signals(-code).name}"
        )
    if status not in ("finished", "pruned"):
        run.meta(
            {
                "error.type": "CommandFailed" if status == "failed" else "Interrupted",
                "error.message": message,
                "error.traceback": list(tail),
            }
        )
    run.merge_attached()
    for reader in readers:
        try:
            reader.finish(run)
        except Exception as error:
            run.meta({"reader_error": f"{type(error).__name__}: {error}"})
    from gitxp.store.artifacts import collect_output

    collect_output(run)
    run.end(status)
    return run.status  # "cancelled" when gitxp cancel stopped it (Run.end reads its marker)
