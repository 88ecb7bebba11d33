"""Talking to git: :mod:`~gitxp.git.repo` is the plumbing facade every hot path uses (one subprocess per
question, fast-import to write); :mod:`~gitxp.git.porcelain` is the one module that imports GitPython, for what a
user watches (``gitxp push``/``pull`` with a progress bar and errors that say what went wrong).

Imports nothing of gitxp but :mod:`gitxp.errors`.
"""
