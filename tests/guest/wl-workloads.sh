#!/bin/bash
# Runs INSIDE the lab guest (tests/guest/run-inside.sh): every workload of
# `./wbtrace list` through the whole runner at a small size -- mkfs, tracer,
# blktrace, fio, then fio verify / drop_caches / fsck / remount / dmesg -- on this
# boot's f2fs variant; each run must pass every verification step and its run dir
# must validate.  Plus per-workload evidence that it exercised what it claims
# (IPU blocks, compressed clusters, the race driver's three checks).  Other
# compress cluster sizes: tests/workloads/run-guest.sh.
# Eight whole runs: about 3 min on a quiet host, 10 at load 8 (run-inside's
# default limit), so its hang limit is its own:
# run-inside: timeout 1500
# shellcheck source-path=SCRIPTDIR source=wl-lib.sh
. "$(dirname "$0")/wl-lib.sh"

# check_run DIR: all five verify steps "pass" and `analysis validate` accepts the dir
check_run() {
	local d=$1 v
	v=$(wl_json items "$d/meta.json" verify 2>&1) ||
		{ fail "$d: no readable meta.json"; return 1; }
	if grep -qvE '^(\S+=pass ?)+$' <<<"$v"; then fail "$d: verify: $v"; return 1; fi
	(cd "$top" && $PY -m analysis validate "$d" >/dev/null 2>"$out/validate.err") ||
		{ fail "$d: analysis validate: $(cat "$out/validate.err")"; return 1; }
	[ -s "$d/trace/summary.json" ] || { fail "$d: no trace/summary.json"; return 1; }
	[ -s "$d/blktrace/btt.avg" ] || { fail "$d: no blktrace/btt.avg"; return 1; }
	# On-CPU stacks, and a flamegraph can be drawn from them.
	[ -s "$d/stacks.folded" ] || { fail "$d: no stacks.folded"; return 1; }
	(cd "$top" && $PY -m analysis flamegraph "$d" -o "$out/fg.svg" >/dev/null 2>"$out/fg.err") ||
		{ fail "$d: flamegraph: $(cat "$out/fg.err")"; return 1; }
	return 0
}

one() { # one NAME [extra runner args...]
	local name=$1 wl=${1%@*}; shift
	local t0=$SECONDS
	if "$run" run "$wl" --size 2M -o "$out/$name" --quiet "$@" >"$out/$name.log" 2>&1; then
		if check_run "$out/$name"; then
			echo "  ok $name ($((SECONDS - t0)) s)"
			return 0
		fi
	else
		fail "$name: runner exited $? ($((SECONDS - t0)) s)"
	fi
	sed 's/^/    | /' "$out/$name.log" | tail -15
	[ -f "$out/$name/verify.txt" ] && sed 's/^/    : /' "$out/$name/verify.txt"
	return 1
}

names=$("$run" list | awk '{print $1}')
[ -n "$names" ] || fail "wbtrace-run list printed nothing"
for wl in $names; do
	one "$wl" || continue
	d=$out/$wl
	case $wl in
	fio-overwrite)
		ipu=$(sed -n 's/^IPU: \([0-9]*\) blocks/\1/p' "$d/f2fs-status.txt")
		[ "${ipu:-0}" -gt 0 ] && echo "    in-place updates: $ipu blocks" || fail "$wl: no IPU blocks (f2fs-status.txt)" ;;
	fio-compress)
		n=$(wl_json get --or 0 "$d/trace/summary.json" counts.clusters_compressed)
		[ "${n:-0}" -gt 0 ] && echo "    compressed clusters: $n" || fail "$wl: no compressed cluster traced" ;;
	fio-trunc-race)
		c=$(grep -c 'wbrace: ok' "$d/verify.txt")
		[ "$c" = 3 ] && echo "    race model checks: 3 of 3 ok" || fail "$wl: $c of 3 race model checks ok" ;;
	esac
done

rm -rf "$out"
[ "$fails" = 0 ] || { echo "  $fails check(s) failed"; exit 1; }
exit 0
