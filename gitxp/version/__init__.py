"""Knowing the code version of a run: :mod:`~gitxp.version.capture` (HEAD's commit plus a patch of every
uncommitted change, materialized again in a worktree), :mod:`~gitxp.version.cache` (captured once per process,
re-checked through :mod:`~gitxp.version.treewatch`'s inotify instead of starting git), :mod:`~gitxp.version.ipynb`
(a notebook's code is its cell sources) and :mod:`~gitxp.version.secrets` (what never travels with a run: secret
files, and the values of secret-looking arguments, params and meta).

Imports only :mod:`gitxp.git` and :mod:`gitxp.errors`.
"""
