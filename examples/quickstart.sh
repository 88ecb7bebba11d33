#!/usr/bin/env bash
# The README's first command: record a small sweep of a real training script in a throwaway git repository,
# then list and inspect the runs. Needs gitxp and scikit-learn installed (pip install -e '.[examples]').
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -x "$here/../.venv/bin/gitxp" ] && export PATH="$here/../.venv/bin:$PATH"
work="$(mktemp -d "${TMPDIR:-/tmp}/gitxp-quickstart.XXXXXX")"
echo "== throwaway project in $work"
cd "$work"
git init -q
git config user.name "gitxp quickstart"; git config user.email "quickstart@example.com"
cp "$here/train_digits.py" .
git add train_digits.py && git commit -qm "digits classifier"

echo "== a small sweep over alpha and loss, each run recorded with its exact code version"
for loss in hinge log_loss; do
  for alpha in 1e-5 1e-4 1e-3 1e-2; do
    python train_digits.py --alpha "$alpha" --loss "$loss" --epochs 10
  done
done

echo "== an uncommitted change: the next run gets a new version (commit + diff hash)"
sed -i.bak 's/test_size=0.25/test_size=0.3/' train_digits.py && rm -f train_digits.py.bak
python train_digits.py --alpha 1e-4 --epochs 10

echo "== gitxp ls --sort -results.valid_acc"
gitxp ls --sort -results.valid_acc --columns run_id,version,status,params.alpha,params.loss,results.valid_acc
best="$(gitxp ls --sort -results.valid_acc --limit 1 --columns run_id --format csv | tail -n 1)"
echo "== gitxp show $best"
gitxp show "$best"
echo "== the store is a git ref:"
git log --oneline refs/gitxp/runs | head -n 3
echo "(project kept in $work)"
