#!/usr/bin/env bash
# Starts and stops the real stack the vhost-user end-to-end test runs on: hugepages, libvirtd with
# the QEMU driver (TCG), and OVS with DPDK, all state under one temp directory.
#   scripts/e2e-vhostuser.sh up DIR     # needs root; prints "ready" when the switch has bridge br0
#   scripts/e2e-vhostuser.sh down DIR   # always safe to run: undoes whatever `up` got to
#   scripts/e2e-vhostuser.sh ovs-stop DIR | ovs-start DIR   # restart ovs-vswitchd alone, as an upgrade does
#   scripts/e2e-vhostuser.sh ovs-start DIR USER:GROUP   # ... as a reduced-privilege OVS (ovs-vswitchd --user)
# The test (test/converter/vhostuser.e2e.test.ts) defines and starts the domains itself, between up and down.
set -uo pipefail

cmd=${1:-}
W=${2:-}
[ -n "$cmd" ] && [ -n "$W" ] && [ -d "$W" ] || { echo "usage: $0 up|down|ovs-stop|ovs-start DIR (an existing directory)" >&2; exit 2; }
W=$(cd "$W" && pwd)
PAGES=${E2E_HUGEPAGES:-512}   # 2 MiB pages: 256 MiB for DPDK, the rest for up to three 128 MiB guests
DB="unix:$W/ovs/db.sock"
QEMU_CONF=/etc/libvirt/qemu.conf
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk

die() { echo "e2e: $*" >&2; exit 1; }

# Polls `$@` every 0.1 s for up to $1 seconds.
wait_for() {
  local secs=$1; shift
  for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}

# Sends TERM to the pid in $1, then KILL after 5 s; the pid must still be the named program.
stop_pidfile() {
  local file=$1 name=$2 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null)
  if [ -n "$pid" ] && grep -qa "$name" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    wait_for 5 test ! -d "/proc/$pid" || kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$file"
}

# ovs-vswitchd with DPDK on the database in $W/ovs; returns once it has applied the configuration.
# With USER:GROUP ($1) it runs as that user once started, as packaged OVS does with OVS_USER_ID:
# its run directory, hugepages and database socket are then given to that user and group first.
start_vswitchd() {
  local user=${1:-}
  if [ -n "$user" ]; then
    id -u "${user%%:*}" >/dev/null 2>&1 || die "no user ${user%%:*}"
    chown -R "$user" "$W/ovs" && chown "$user" "$W/hugepages" && chmod 0770 "$W/hugepages" || die "cannot give $W/ovs and $W/hugepages to $user"
    chmod 0711 "$W"
  fi
  OVS_RUNDIR="$W/ovs" OVS_LOGDIR="$W/ovs" OVS_DBDIR="$W/ovs" "$OVS_VSWITCHD" "$DB" --pidfile="$W/ovs/ovs-vswitchd.pid" \
    ${user:+--user="$user"} --detach --log-file="$W/ovs/ovs-vswitchd.log" >/dev/null 2>&1 || die "ovs-vswitchd-dpdk did not start; see $W/ovs/ovs-vswitchd.log"
}

up() {
  [ "$(id -u)" = 0 ] || die "needs root (hugepages, libvirtd, OVS-DPDK); CI runs as root"
  [ -w /proc/sys/vm/nr_hugepages ] || die "/proc/sys/vm/nr_hugepages is not writable: hugepages are needed for vhost-user"
  for bin in libvirtd virsh qemu-system-x86_64 ovsdb-server ovsdb-tool ovs-vsctl "$OVS_VSWITCHD"; do
    command -v "$bin" >/dev/null || die "$bin is missing (run scripts/setup.sh)"
  done
  if [ -S /run/libvirt/libvirt-sock ] && virsh -q -c qemu:///system version >/dev/null 2>&1; then
    die "a libvirtd is already running; stop it first, the test starts its own"
  fi
  mkdir -p "$W/hugepages" "$W/ovs" "$W/usrcni" /var/log/libvirt/qemu /etc/libvirt

  # Hugepages: our own hugetlbfs mount; the previous page count is restored by `down`.
  cat /proc/sys/vm/nr_hugepages > "$W/nr_hugepages.orig"
  mount -t hugetlbfs -o pagesize=2M hugetlbfs "$W/hugepages" || die "cannot mount hugetlbfs on $W/hugepages"
  echo $(( $(cat "$W/nr_hugepages.orig") + PAGES )) > /proc/sys/vm/nr_hugepages
  local free; free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  [ "$free" -ge "$PAGES" ] || die "only $free free 2 MiB hugepages after asking for $PAGES"

  # libvirtd: QEMU as root without confinement (a test host, no SELinux/AppArmor or cgroups here).
  # Its QEMU driver refuses to start unless its default user exists, even when qemu.conf says root.
  if ! id libvirt-qemu >/dev/null 2>&1; then
    useradd -r -U -M -s /usr/sbin/nologin libvirt-qemu || die "cannot create the libvirt-qemu user"
    touch "$W/created-libvirt-qemu"
  fi
  [ -f "$QEMU_CONF" ] && cp -p "$QEMU_CONF" "$W/qemu.conf.orig"
  cat > "$QEMU_CONF" <<EOF
# written by kubevirt-vhostuser scripts/e2e-vhostuser.sh; restored by its "down"
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
hugetlbfs_mount = "$W/hugepages"
EOF
  libvirtd -d -p "$W/libvirtd.pid" -t 300 >>"$W/libvirtd.out" 2>&1 || die "libvirtd did not start: $(tail -3 "$W/libvirtd.out")"
  wait_for 15 virsh -q -c qemu:///system version >/dev/null 2>&1 || die "libvirtd does not answer on qemu:///system"

  # OVS with DPDK: database and switch in $W, DPDK on our hugepages with its own file prefix.
  export OVS_RUNDIR="$W/ovs" OVS_LOGDIR="$W/ovs" OVS_DBDIR="$W/ovs"
  echo "kvvu$$" > "$W/dpdk-prefix"
  ovsdb-tool create "$W/ovs/conf.db" /usr/share/openvswitch/vswitch.ovsschema || die "ovsdb-tool create failed"
  ovsdb-server "$W/ovs/conf.db" --remote="punix:$W/ovs/db.sock" --pidfile="$W/ovs/ovsdb-server.pid" \
    --detach --log-file="$W/ovs/ovsdb-server.log" >>"$W/ovs/ovsdb-server.out" 2>&1 || die "ovsdb-server did not start; see $W/ovs/ovsdb-server.log"
  ovs-vsctl --db="$DB" --no-wait init
  ovs-vsctl --db="$DB" --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    "other_config:dpdk-extra=--no-pci --huge-dir=$W/hugepages --file-prefix=$(cat "$W/dpdk-prefix")" \
    other_config:dpdk-socket-mem=256 other_config:dpdk-socket-limit=256 other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2
  # The limit keeps DPDK's mbuf pool inside its 256 MiB: uncapped, it grows into the pages the guests need.
  start_vswitchd
  ovs-vsctl --db="$DB" --timeout=30 add-br br0 -- set bridge br0 datapath_type=netdev || die "cannot add the netdev bridge br0"
  echo ready
}

down() {
  local name qemu_pid
  name=$(cat "$W/domain-name" 2>/dev/null)
  if [ -n "$name" ]; then
    virsh -q -c qemu:///system destroy "$name" >/dev/null 2>&1
    virsh -q -c qemu:///system undefine "$name" >/dev/null 2>&1
    stop_pidfile "/run/libvirt/qemu/$name.pid" qemu-system
  fi
  # Launcher pods the migration tests left behind (test/converter/launcher-pods.ts): each one's
  # QEMUs, then its libvirtd; its mount namespace ends with them.
  for f in "$W"/pod-*/run/qemu/*.pid; do stop_pidfile "$f" qemu-system; done
  for f in "$W"/pod-*/libvirtd.pid; do stop_pidfile "$f" libvirtd; done
  # Each daemon takes a second or two to exit: stop them side by side.
  stop_pidfile "$W/ovs/ovs-vswitchd.pid" ovs-vswitchd &
  stop_pidfile "$W/ovs/ovsdb-server.pid" ovsdb-server &
  stop_pidfile "$W/libvirtd.pid" libvirtd &
  wait
  # DPDK keeps its runtime files in /var/run/dpdk as root, in /tmp/dpdk as another user.
  [ -f "$W/dpdk-prefix" ] && rm -rf "/var/run/dpdk/$(cat "$W/dpdk-prefix")" "/tmp/dpdk/$(cat "$W/dpdk-prefix")" && rm -f "$W/dpdk-prefix"
  rmdir /tmp/dpdk 2>/dev/null
  if [ -f "$W/qemu.conf.orig" ]; then mv -f "$W/qemu.conf.orig" "$QEMU_CONF"; elif grep -qs 'scripts/e2e-vhostuser.sh' "$QEMU_CONF"; then rm -f "$QEMU_CONF"; fi
  [ -f "$W/created-libvirt-qemu" ] && userdel libvirt-qemu 2>/dev/null && rm -f "$W/created-libvirt-qemu"
  if mountpoint -q "$W/hugepages"; then
    umount "$W/hugepages" 2>/dev/null || { sleep 1; umount -l "$W/hugepages"; }
  fi
  [ -f "$W/nr_hugepages.orig" ] && cat "$W/nr_hugepages.orig" > /proc/sys/vm/nr_hugepages && rm -f "$W/nr_hugepages.orig"
  return 0
}

case "$cmd" in
  up) up ;;
  down) down ;;
  ovs-stop) stop_pidfile "$W/ovs/ovs-vswitchd.pid" ovs-vswitchd ;;
  ovs-start) start_vswitchd "${3:-}" ;;
  *) echo "usage: $0 up|down|ovs-stop|ovs-start DIR" >&2; exit 2 ;;
esac
