"""The search of ``gitxp bisect``, as a pure function of what has been measured so far.

Commits are numbered along the first-parent history: 0 is the good end, 1..n the commits after it, n the bad
end. Each measured commit has a verdict: ``good``, ``bad`` (worse than the good end beyond noise) or ``skip``
(it could not be measured: its runs failed, or reported no value). As ``git bisect`` does, the first bad commit
lies after the last good commit below the first bad one; the next commit to test is the untested one nearest
the middle of that window, so that every test halves it (skipped commits are stepped around). The bad end is
taken on the user's word until the window closes on it; then it is measured too, so a range with no worsening
ends as "no regression" rather than naming a commit that is not worse.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

__all__ = ["Step", "next_step", "judge", "expected_steps"]


@dataclass(frozen=True)
class Step:
    """What to do next: ``test`` index ``at``; or the end: ``found`` (first bad ``at``), ``ambiguous`` (the first
    bad is one of ``among``: skipped commits stand in the way) or ``no-regression`` (the bad end is not worse)."""

    kind: str
    at: int | None = None
    among: tuple[int, ...] = ()


def next_step(n: int, verdicts: dict[int, str]) -> Step:
    """The next step of a search over commits 0..n, given the verdicts so far."""
    if 0 not in verdicts:
        return Step("test", 0)
    bad = sorted(i for i, v in verdicts.items() if v == "bad" and i > 0)
    hi = bad[0] if bad else n
    lo = max(i for i, v in verdicts.items() if v == "good" and i < hi) if hi > 0 else 0
    window = [i for i in range(lo + 1, hi) if i not in verdicts]
    if window:
        middle = (lo + hi) / 2
        return Step("test", min(window, key=lambda i: (abs(i - middle), i)))
    if hi not in verdicts:
        return Step("test", hi)  # the bad end, taken on trust so far: confirm it
    skipped = tuple(i for i in range(lo + 1, hi) if verdicts.get(i) == "skip")
    if verdicts[hi] == "bad":
        return Step("found", hi) if not skipped else Step("ambiguous", among=(*skipped, hi))
    if verdicts[hi] == "skip":
        return Step("ambiguous", among=(*skipped, hi))
    return Step("no-regression")


def judge(
    good: list[float], values: list[float], goal: str, threshold: float
) -> tuple[str, float | None, tuple[float, float] | None]:
    """(verdict, mean difference vs the good end, its 95% bootstrap CI) of a commit's values.

    ``bad`` when the whole interval of mean(values) - mean(good) lies past ``threshold`` in the worse direction
    (below -threshold for a ``max`` metric, above +threshold for a ``min`` one); ``skip`` with fewer than two
    values; else ``good``. The interval is :func:`gitxp.compare.bootstrap_ci`, as in ``gitxp compare``."""
    from gitxp.compare import bootstrap_ci

    if len(values) < 2 or len(good) < 2:
        return "skip", None, None
    diff = statistics.fmean(values) - statistics.fmean(good)
    ci = bootstrap_ci(good, values)
    assert ci is not None
    worse = ci[1] < -threshold if goal == "max" else ci[0] > threshold
    return ("bad" if worse else "good"), diff, ci


def expected_steps(n: int) -> int:
    """How many commits a search over n commits after the good end tests, the good end included (no skips,
    the first bad commit not the bad end itself)."""
    return 1 + max(0, (n - 1).bit_length() if n > 1 else 0)
