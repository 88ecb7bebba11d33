#!/usr/bin/env bash
# A pull request's gitxp report, for any CI: fetch the recorded runs, run the experiment on the PR head, write the
# markdown report (base vs head, with the CI of each difference), and post it when told where.
#
#   BASE=main examples/ci/pr-report.sh EXPERIMENT -- COMMAND [ARGS]...
#
# Environment: BASE (default main), REMOTE (default origin), RUNS (runs of the head, default 3), OUT (default
# gitxp-report.md), LINK_BASE (e.g. https://github.com/OWNER/REPO: link versions to their commits), PR_NUMBER
# (post the report with `gh pr comment`; needs GH_TOKEN), FAIL_ON_WORSE=1 (exit 1 when a metric is worse),
# BASE_TIP=1 (compare with the base branch's tip instead of the merge-base).
#
# Which base: the version at the merge-base of BASE and the PR head (or its nearest ancestor with runs) — what
# the pull request changed, whatever BASE did since; the report names it. BASE_TIP=1 compares with BASE's tip.
# The head's RUNS repeats each get their own seed ($GITXP_SEED = 0, 1, 2, ...); reruns are not counted.
set -euo pipefail
base="${BASE:-main}"
remote="${REMOTE:-origin}"
out="${OUT:-gitxp-report.md}"
experiment="${1:?usage: pr-report.sh EXPERIMENT -- COMMAND [ARGS]...}"
shift
[ "${1:-}" = "--" ] && shift

# the base branch, for its merge-base with HEAD (`--base main` also finds origin/main when there is no local main)
git fetch -q "$remote" "$base"
git rev-parse -q --verify "refs/heads/$base" >/dev/null || git branch -q "$base" FETCH_HEAD
gitxp pull "$remote"
gitxp run -e "$experiment" -n "${RUNS:-3}" -- "$@"
gitxp report --base "$base" --head HEAD -e "$experiment" ${LINK_BASE:+--link-base "$LINK_BASE"} -o "$out" \
  ${FAIL_ON_WORSE:+--fail-on-worse} ${BASE_TIP:+--base-tip} || status=$?
if [ -n "${PR_NUMBER:-}" ]; then
  gh pr comment "$PR_NUMBER" --body-file "$out"
fi
exit "${status:-0}"
