#!/usr/bin/env bash
# Sweeps of unmodified scripts with `gitxp run`, in a throwaway git repository:
#  1. a grid over an argparse script (train_digits.py --alpha ... --loss ...), 2 runs at once;
#  2. a TPE search over a YAML-configured script, twice: the second search continues from the first one's runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -x "$here/../.venv/bin/gitxp" ] && export PATH="$here/../.venv/bin:$PATH"
work="$(mktemp -d "${TMPDIR:-/tmp}/gitxp-sweep.XXXXXX")"
cd "$work"
git init -q
git config user.name "gitxp example"; git config user.email "example@example.com"
cp "$here/train_digits.py" "$here/yaml_config/train.py" "$here/yaml_config/config.yaml" .
git add . && git commit -qm "examples"

echo "== grid over an argparse script: 4 x 2 runs, -j 2"
gitxp run -e digits-grid --grid alpha=1e-5:l4:1e-2 --grid loss=hinge,log_loss -j 2 --metric valid_acc:max \
  -- python train_digits.py --alpha 1e-4 --loss hinge --epochs 10 || true

echo "== TPE over a YAML config (the space is the config's hpsearch block), twice"
for round in 1 2; do
  gitxp run -e yaml-tpe --space config.yaml --strategy tpe --seed "$round" --metric valid_loss:min -j 2 \
    --config config.yaml -- python train.py {config}
done
gitxp ls -e yaml-tpe --sort results.valid_loss --limit 5 \
  --columns run_id,params.training.learning_rate,params.model.l2,results.valid_loss
echo "(project kept in $work)"
