#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian 12 machine: the Debian packages that the
# tests run for real (libvirt's validator and parser, libvirtd + QEMU, OVS-DPDK), the npm packages
# (Node 24 comes with them, as the `node` devDependency), and helm + kubectl for the chart tests.
# The sample (`npm run sample`) needs only the npm packages: `npm ci`.
# Safe to run again: every step skips what is already there; apt waits for another apt run.
set -euo pipefail
cd "$(dirname "$0")/.."

# librte-mempool-ring23 is DPDK's default mempool driver, a plugin the dpdk package only
# recommends: without it OVS-DPDK creates no mbuf pool (EINVAL) and no vhost-user port can pass packets.
# dpdk-dev ships dpdk-testpmd (the dpdk package itself has only the devbind/hugepages scripts), and
# librte-net-virtio23 its virtio-user PMD: the DPDK application of test/converter/testpmd.e2e.test.ts.
# shellcheck checks the release workflow's scripts (test/release/workflow.test.ts).
debs=(libvirt-clients libxml2-utils libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86
  openvswitch-switch-dpdk librte-mempool-ring23 dpdk-dev librte-net-virtio23 openssl python3
  shellcheck)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # shellcheck source=scripts/lib/apt.sh
  . scripts/lib/apt.sh
  apt_get update
  apt_get install -y --no-install-recommends "${missing[@]}"
fi

[ -x node_modules/.bin/node ] && [ -f dist/cli/main.js ] || npm ci

bash scripts/fetch-tools.sh
