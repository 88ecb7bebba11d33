"""Search: the history of an experiment read from the store, Optuna's samplers and pruners behind it,
``gitxp.optimize`` and ``gitxp.Sweep`` (ask/tell).

``gitxp.search.history`` imports nothing heavy; ``gitxp.search.samplers`` (and what uses it) imports Optuna, so
only informed strategies pay for it.
"""
