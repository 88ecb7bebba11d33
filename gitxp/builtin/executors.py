"""Built-in executor: ``local``, N runs at once, each a child process of this gitxp process.

An executor is ``factory(jobs) -> concurrent.futures.Executor``; the sweep submits one callable per run (it spawns
the run's command and waits for it), so a thread pool is all the local executor needs.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from gitxp.hookspecs import hookimpl


def local_executor(jobs: int) -> Executor:
    return ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="gitxp-run")


@hookimpl
def gitxp_executors(register: Callable[[str, Any], None]) -> None:
    register("local", local_executor)
