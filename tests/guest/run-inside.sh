#!/bin/bash
# Runs in the lab guest: every test script given, one after the other, each
# reported as "ok NAME (Ns)" or "not ok NAME (Ns)".  Exit 1 if any failed.
set -u
failed=0 n=0
for t in "$@"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	echo "# $name ($WBTRACE_VARIANT)"
	t0=$(date +%s)
	if bash "$t"; then
		echo "ok $n $name [$WBTRACE_VARIANT] ($(( $(date +%s) - t0 ))s)"
	else
		echo "not ok $n $name [$WBTRACE_VARIANT] ($(( $(date +%s) - t0 ))s)"
		failed=$((failed + 1))
	fi
	mountpoint -q /tmp/wbtest-mnt && umount /tmp/wbtest-mnt
done
exit $((failed > 0))
