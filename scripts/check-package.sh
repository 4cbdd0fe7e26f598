#!/usr/bin/env bash
# Checks the Debian package that `cargo deb -p wegate` built: its files and modes, its conffiles, its
# maintainer scripts, the binary it installs, the systemd unit (systemd-analyze verify, and its exposure
# score), and the commented /etc/wegate/wegate.toml as `wegate check-config` reads it. Unpacked in a
# scratch root: nothing is installed on this machine.
set -euo pipefail
deb=${1:?usage: check-package.sh wegate.deb}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$root/DEBIAN"

fail() { echo "package: $*" >&2; exit 1; }
mode() { stat -c %a "$root/$1"; }
[ "$(mode usr/bin/wegate)" = 755 ] || fail "usr/bin/wegate is not 0755"
[ "$(mode etc/wegate/env)" = 600 ] || fail "etc/wegate/env (secrets) is not 0600"
[ "$(mode etc/wegate/wegate.toml)" = 644 ] || fail "etc/wegate/wegate.toml is not 0644"
[ -f "$root/usr/lib/systemd/system/wegate.service" ] || fail "no systemd unit"
grep -qx /etc/wegate/wegate.toml "$root/DEBIAN/conffiles" || fail "wegate.toml is not a conffile"
grep -qx /etc/wegate/env "$root/DEBIAN/conffiles" || fail "env is not a conffile"
grep -q "deb-systemd-helper enable wegate.service" "$root/DEBIAN/postinst" || fail "postinst does not enable the unit"
"$root/usr/bin/wegate" --version | grep -q '^wegate ' || fail "the packaged binary does not run"

# The unit, as systemd would load it (pointed at the unpacked binary: nothing is installed here).
if command -v systemd-analyze >/dev/null; then
  unit_dir=$(mktemp -d)
  sed "s|/usr/bin/wegate|$root/usr/bin/wegate|" "$root/usr/lib/systemd/system/wegate.service" > "$unit_dir/wegate.service"
  systemd-analyze verify "$unit_dir/wegate.service" || fail "systemd-analyze verify"
  # Exposure at most 2.0 of 10 (the threshold counts tenths).
  systemd-analyze security --offline=true --threshold=20 "$unit_dir/wegate.service" | tail -1
  rm -rf "$unit_dir"
else
  fail "systemd-analyze is missing (apt-get install systemd)"
fi

# The packaged settings file parses, and check-config passes with it (the database in a scratch directory).
data=$(mktemp -d)
WEGATE_DATABASE_URL="sqlite://$data/wegate.db" WEGATE_ADMIN_TOKEN=package-check-token-0123456789 \
  "$root/usr/bin/wegate" check-config --config "$root/etc/wegate/wegate.toml" >/dev/null \
  || fail "wegate check-config rejects the packaged wegate.toml"
rm -rf "$data"
echo "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version): files, modes, conffiles, unit and settings checked"
