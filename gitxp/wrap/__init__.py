"""Running commands as runs: :mod:`~gitxp.wrap.command` spawns an unchanged command, tees its output
(:mod:`~gitxp.wrap.tee`), reads its results (:mod:`~gitxp.wrap.readers`) and records its fate; params reach it as
flags, config files, templates or environment (:mod:`~gitxp.wrap.overrides`); :mod:`~gitxp.wrap.rerun` runs any
past run again on its exact code.
"""
