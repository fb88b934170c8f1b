# shellcheck shell=bash
# apt_get ARGS...: apt-get that waits for another apt or dpkg run (unattended-upgrades, a second
# shell) to finish instead of failing on its lock. DPkg::Lock::Timeout makes `install` wait for
# the dpkg lock, but `update` gives up at once on the lists lock, so a run that failed only for a
# lock is retried, for at most APT_LOCK_WAIT_SECONDS (600) in all.
APT_LOCK_WAIT_SECONDS=${APT_LOCK_WAIT_SECONDS:-600}
APT_RETRY_SECONDS=${APT_RETRY_SECONDS:-5}

apt_get() {
  local sudo="" deadline=$((SECONDS + APT_LOCK_WAIT_SECONDS)) log rc
  [ "$(id -u)" = 0 ] || sudo="sudo"
  log=$(mktemp)
  while :; do
    # Shown as it runs and kept to be read; the status goes through a file, so that neither
    # tee nor a `set -e` caller hides or acts on it.
    { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT_SECONDS" "$@" && echo 0 >"$log.rc" || echo $? >"$log.rc"; } 2>&1 | tee "$log"
    rc=$(cat "$log.rc")
    if [ "$rc" != 0 ] && grep -q 'Could not get lock' "$log" && [ "$SECONDS" -lt "$deadline" ]; then
      echo "apt-get $1: another apt or dpkg run holds its lock; trying again in ${APT_RETRY_SECONDS}s" >&2
      sleep "$APT_RETRY_SECONDS"
      continue
    fi
    rm -f "$log" "$log.rc"
    return "$rc"
  done
}
