"""The life-cycle of recorded runs: tags, notes, archiving, removal and cancelling (``gitxp tag``, ``note``,
``archive``, ``rm``, ``cancel`` and their Python twins).

- :mod:`gitxp.store.lifecycle` (part of the store, below this package): the append-only event files on the ref
  and their folding into each run's state, applied by ``Store.table()`` to every listing.
- :mod:`gitxp.lifecycle.ops`: selecting runs, writing events, pruning removed runs (``gitxp gc``).
- :mod:`gitxp.lifecycle.cancel`: stopping live runs and recording them ``cancelled``.
- :mod:`gitxp.lifecycle.api`: the same operations as functions of ``gitxp`` (``gitxp.tag(...)``).

Nothing here is imported by ``import gitxp``.
"""
