#!/usr/bin/env bash
# Install every Debian package wbtrace needs, idempotently, on Debian 12 (bookworm).
#
# Newer suites (bookworm-backports for libbpf/bpftool, trixie-backports for
# linux-source-7.3, trixie for its dependencies) are added with the mirror read
# from this machine's own apt sources and pinned at 50, so that nothing is ever
# taken from them unless named as `pkg/suite`.  Never `apt-get -t <suite>`: that
# drags libc, python and dpkg along.
set -euo pipefail

die() { echo "install-deps: $*" >&2; exit 1; }
usage() {
	cat <<EOF
Usage: sudo ./wbtrace setup

Installs every Debian package wbtrace needs (build tools, clang/llvm, QEMU,
f2fs-tools, fio, blktrace, bpftrace, python3-matplotlib, shellcheck, what
fstests needs to build and run, ...) and,
from newer suites, only libbpf1, libbpf-dev, bpftool (bookworm-backports) and
linux-source-7.3 (trixie-backports).  Those suites are added with the mirror of
this machine's own apt sources, pinned at 50 so nothing else comes from them.
Idempotent: quick when everything is installed.  Needs root.
  --print-mirror   print the Debian mirror it would use and exit
Exit status: 0 done; 1 a suite, package or step failed (the line says which);
2 bad usage; 3 not root (from ./wbtrace).
EOF
}
print_mirror=0
case "${1:-}" in
"") ;;
-h|--help) usage; exit 0 ;;
--print-mirror) print_mirror=1 ;;
*) usage >&2; echo "install-deps: unknown option '$1'" >&2; exit 2 ;;
esac
APT_ETC=${WB_APT_ETC:-/etc/apt} # tests point this at a fixture
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] ||
	echo "install-deps: warning: written for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}" >&2

# Packages from the machine's own suites.
BASE_PKGS=(
	build-essential bc bison flex libelf-dev libssl-dev cpio kmod rsync xz-utils
	dwarves git patch python3 python3-matplotlib python3-pytest python3-numpy
	clang llvm libelf-dev zlib1g-dev pkg-config
	qemu-system-x86 qemu-utils
	f2fs-tools fio blktrace util-linux e2fsprogs procps xfsprogs attr
	bpftrace chromium linux-perf shellcheck pyflakes3
	# fstests (./wbtrace fstests): what its build needs and the tools its tests call
	autoconf automake libtool libtool-bin make gcc xfslibs-dev uuid-dev libuuid1
	libacl1-dev libattr1-dev libaio-dev libgdbm-dev libgdbm-compat-dev liburing-dev libcap-dev
	acl quota dbench gawk indent psmisc sed uuid-runtime sqlite3 keyutils dump
	# fstests' device-mapper tests (dmsetup; lvm for generic/081) and fs-verity tests (fsverity)
	dmsetup lvm2 fsverity
	# accton (generic/596), openssl (fs-verity signatures: generic/577, 625)
	acct openssl
)
# Single packages from newer suites: "package/suite".
EXTRA_PKGS=(
	libbpf1/bookworm-backports
	libbpf-dev/bookworm-backports
	bpftool/bookworm-backports
	linux-source-7.3/trixie-backports
)
PIN_PRIORITY=50
SRC_FILE=/etc/apt/sources.list.d/wbtrace-newer.sources
PIN_FILE=/etc/apt/preferences.d/wbtrace-newer.pref

# The Debian mirror this machine already uses (first deb URI that is not a
# security mirror), from deb822 .sources or one-line .list files.
find_mirror() {
	local f
	for f in $APT_ETC/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		[ "$f" = "$SRC_FILE" ] && continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' "$f"
	done
	for f in $APT_ETC/sources.list $APT_ETC/sources.list.d/*.list; do
		[ -e "$f" ] || continue
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) { print $i; break } }' "$f"
	done
}
MIRROR=$(find_mirror | grep -v -e security -e nodesource -e google | grep -m1 -i debian || true)
[ -n "$MIRROR" ] || die "no Debian mirror found in $APT_ETC/sources.list{,.d}; add one first"
MIRROR=${MIRROR%/}
if [ "$print_mirror" = 1 ]; then echo "$MIRROR"; exit 0; fi
[ "$(id -u)" = 0 ] || die "must run as root (try: sudo $0)"

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
want_sources="# Added by wbtrace install-deps: single packages only, pinned at $PIN_PRIORITY.
Types: deb
URIs: $MIRROR
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: $KEYRING"
want_pins="# Added by wbtrace install-deps: take nothing from these suites unless asked by name.
Package: *
Pin: release n=bookworm-backports
Pin-Priority: $PIN_PRIORITY

Package: *
Pin: release n=trixie
Pin-Priority: $PIN_PRIORITY

Package: *
Pin: release n=trixie-backports
Pin-Priority: $PIN_PRIORITY"

changed=0
if [ "$(cat "$SRC_FILE" 2>/dev/null)" != "$want_sources" ]; then
	printf '%s\n' "$want_sources" >"$SRC_FILE"; changed=1
fi
if [ "$(cat "$PIN_FILE" 2>/dev/null)" != "$want_pins" ]; then
	printf '%s\n' "$want_pins" >"$PIN_FILE"; changed=1
fi

export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/wbtrace-update-stamp
if [ "$changed" = 1 ] || [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +720 2>/dev/null)" ]; then
	echo "install-deps: apt-get update (mirror $MIRROR)"
	apt-get update -q >/tmp/wbtrace-apt-update.log 2>&1 ||
		{ cat /tmp/wbtrace-apt-update.log >&2; die "apt-get update failed"; }
	for suite in bookworm-backports trixie trixie-backports; do
		grep -q "$suite" /tmp/wbtrace-apt-update.log ||
			die "suite $suite not reachable at $MIRROR (see /tmp/wbtrace-apt-update.log)"
	done
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi

# Check every package exists before installing anything, to name the missing one.
if ! apt-cache show "${BASE_PKGS[@]}" >/dev/null 2>&1; then
	for pkg in "${BASE_PKGS[@]}"; do
		apt-cache show "$pkg" >/dev/null 2>&1 || die "package $pkg is not available at $MIRROR"
	done
fi
for spec in "${EXTRA_PKGS[@]}"; do
	pkg=${spec%/*} suite=${spec#*/}
	apt-cache policy "$pkg" | grep -- " $suite/main " >/dev/null ||
		die "package $pkg is not available from suite $suite at $MIRROR"
done

missing=()
for spec in "${BASE_PKGS[@]}" "${EXTRA_PKGS[@]}"; do
	pkg=${spec%/*}
	[[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$spec")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#BASE_PKGS[@]}+${#EXTRA_PKGS[@]} packages already installed"
else
	echo "install-deps: installing ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Guard against the failure mode this script exists to avoid.
libc_suite=$(apt-cache policy libc6 | awk '/\*\*\*/ { getline; print $3 }')
case "$libc_suite" in *trixie*) die "libc6 now comes from $libc_suite: the newer suites are not pinned low enough";; esac
ls /usr/src/linux-source-7.3.tar.* >/dev/null 2>&1 || die "linux-source-7.3 installed but no /usr/src/linux-source-7.3.tar.*"
# The lab guest mounts its kernel's own modules (scsi_debug, for fstests) on
# /lib/modules of the host's root, which it sees read-only: the directory must
# exist.  A kernel package makes it; a container may have none.
if [ ! -d /lib/modules ]; then
	mkdir -p /lib/modules || die "cannot create /lib/modules (the lab guest's mount point for its kernel's modules)"
	echo "install-deps: created /lib/modules, the lab guest's mount point for its kernel's modules"
fi
echo "install-deps: done"
