"""``python -m gitxp.store.commit_later PATH RUN_ID...``: commit staged runs to the store's ref (see Store.commit_later)."""

from __future__ import annotations

import sys

from gitxp.store import StagedRun, Store


def main(argv: list[str]) -> int:
    path, *run_ids = argv
    store = Store.open(path)
    store.commit([StagedRun(store.staging / run_id) for run_id in run_ids])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
