#!/usr/bin/env bash
# The main job on the embedded default (the lab guest): build the lab, then run
# the write / verify / fsck round on the stock and the patched f2fs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
"$top/kernel-patch/lab/build.sh"
rc=0
for variant in stock patched; do
	echo "== demo round on f2fs $variant =="
	"$top/kernel-patch/lab/vm.sh" run --variant "$variant" -- \
		tests/guest/run-inside.sh tests/guest/lab-roundtrip.sh || rc=1
done
echo "demo finished in $(( $(date +%s) - t0 )) s: $([ $rc = 0 ] && echo both variants verified || echo FAILED)"
exit $rc
