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

echo "== a sweep: 4 alphas x 2 losses, 2 runs at a time, each recorded with its exact code version"
gitxp run --grid alpha=1e-5:l4:1e-2 --grid loss=hinge,log_loss -j 2 --metric valid_acc:max \
  -- python train_digits.py --alpha 1e-4 --loss hinge --epochs 10

echo "== the decorated script also records itself when run directly"
python train_digits.py --alpha 3e-4 --epochs 10

echo "== an uncommitted change: the next run gets a new version (commit + diff hash)"
sed -i.bak 's/test_size=0.25/test_size=0.3/' train_digits.py && rm -f train_digits.py.bak
gitxp run -- python train_digits.py --alpha 1e-4 --epochs 10

echo "== gitxp ls --sort -results.valid_acc"
gitxp ls --sort -results.valid_acc --columns run_id,experiment,version,status,params.alpha,params.loss,results.valid_acc
best="$(gitxp ls --sort -results.valid_acc --limit 1 --columns run_id --format csv | tail -n 1)"
echo "== gitxp show $best"
gitxp show "$best"
echo "== the store is a git ref:"
git log --oneline -n 3 refs/gitxp/runs
echo "(project kept in $work)"
