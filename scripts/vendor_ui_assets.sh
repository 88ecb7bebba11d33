#!/usr/bin/env bash
# Re-vendor the dashboard's JavaScript/CSS from their published npm packages (pinned versions).
# Usage: scripts/vendor_ui_assets.sh   (needs npm; writes gitxp/ui/static/vendor/ and its VERSIONS file)
set -euo pipefail
UPLOT=1.6.31
ECHARTS=5.5.1
cd "$(dirname "$0")/.."
dest=gitxp/ui/static/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack -q "uplot@$UPLOT" "echarts@$ECHARTS" >/dev/null)
mkdir -p "$tmp/u" "$tmp/e" "$dest"
tar -xzf "$tmp/uplot-$UPLOT.tgz" -C "$tmp/u"
tar -xzf "$tmp/echarts-$ECHARTS.tgz" -C "$tmp/e"
cp "$tmp/u/package/dist/uPlot.iife.min.js" "$dest/uPlot.iife.min.js"
cp "$tmp/u/package/dist/uPlot.min.css" "$dest/uPlot.min.css"
cp "$tmp/e/package/dist/echarts.min.js" "$dest/echarts.min.js"
{
  echo "# Vendored by scripts/vendor_ui_assets.sh from the npm registry; do not edit by hand."
  echo "uplot $UPLOT (MIT) dist/uPlot.iife.min.js dist/uPlot.min.css"
  echo "echarts $ECHARTS (Apache-2.0) dist/echarts.min.js"
} > "$dest/VERSIONS"
ls -l "$dest"
