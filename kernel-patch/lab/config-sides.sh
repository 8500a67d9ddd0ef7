#!/usr/bin/env bash
# config-sides.sh LAB_CONFIG ALT_CONFIG FRAGMENT: check that the two kernel
# configurations f2fs is compiled with (lab.config, and lab.config + alt.config)
# take opposite sides of every option FRAGMENT (alt.config) names.  An option
# that ends up the same in both trees is one whose other side no build compiles,
# however the fragment reads: a later lab.config edit, or a dependency that
# olddefconfig resolved, can do that silently.  (That the alt tree took each
# line of FRAGMENT, build.sh's configure checked when it made the tree, which
# is named by FRAGMENT's hash.)
#
# Exit 0 when every option is on opposite sides; 1 (naming each option) when not;
# 2 on bad usage.  "n" and "not set" are the same side.
set -euo pipefail

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi
[ $# = 3 ] || { echo "usage: config-sides.sh LAB_CONFIG ALT_CONFIG FRAGMENT" >&2; exit 2; }
lab=$1 alt=$2 frag=$3
for f in "$lab" "$alt" "$frag"; do
	[ -r "$f" ] || { echo "config-sides: cannot read $f" >&2; exit 2; }
done

value() { # value DOTCONFIG KEY: the option's value, "n" when unset
	local v
	v=$(grep -E "^$2=" "$1" | tail -n 1 | cut -d= -f2- || true)
	echo "${v:-n}"
}

bad=0 n=0
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	key=${line%%=*}
	[[ "$key" =~ ^CONFIG_[A-Za-z0-9_]+$ ]] || { echo "config-sides: $frag: not an option line: $line" >&2; exit 2; }
	n=$((n + 1))
	got_alt=$(value "$alt" "$key") got_lab=$(value "$lab" "$key")
	if [ "$got_lab" = "$got_alt" ]; then
		echo "config-sides: $key is $got_lab in both trees: no build compiles its other side"
		bad=1
	fi
done <"$frag"
[ "$n" -gt 0 ] || { echo "config-sides: $frag names no option" >&2; exit 2; }
exit "$bad"
