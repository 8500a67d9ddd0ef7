#!/usr/bin/env bash
# Host-side tests of the lab scripts (no guest, no build): argument handling,
# apt mirror derivation, cache keys, lint.  TAP-style output.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
lab=$top/kernel-patch/lab
n=0 bad=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME CMD...: passes when CMD succeeds
	local name=$1; shift
	n=$((n + 1))
	if "$@" >"$tmp/out" 2>&1; then echo "ok $n $name"; else echo "not ok $n $name"; sed 's/^/#   /' "$tmp/out" | tail -5; bad=$((bad + 1)); fi
}
exits() { # exits CODE PATTERN CMD...: CMD exits with CODE and prints PATTERN
	local code=$1 pat=$2 rc=0; shift 2
	"$@" >"$tmp/o" 2>&1 || rc=$?
	[ "$rc" = "$code" ] || { echo "exit $rc, wanted $code"; cat "$tmp/o"; return 1; }
	grep -qE -- "$pat" "$tmp/o" || { echo "output lacks /$pat/:"; cat "$tmp/o"; return 1; }
}

# Dispatcher and vm runner: bad input gives one clear line and exit 2.
check "wbtrace: unknown command" exits 2 "unknown command 'frobnicate'" "$top/wbtrace" frobnicate
check "wbtrace --help lists commands" exits 0 "vm run -- CMD" "$top/wbtrace" --help
check "vm: unknown variant" exits 2 "unknown variant 'nope'" "$lab/vm.sh" run --variant nope -- true
check "vm: run needs a command" exits 2 "needs a command" "$lab/vm.sh" run
check "vm: bad timeout" exits 2 "--timeout takes seconds" "$lab/vm.sh" run --timeout soon -- true
check "vm: unknown accelerator" exits 2 "unknown accelerator" "$lab/vm.sh" run --accel xen -- true
check "vm: --rw of a missing dir" exits 2 "no such directory" "$lab/vm.sh" run --rw /nonexistent/x -- true
check "vm --help documents exit codes" exits 0 "Exit status" "$lab/vm.sh" --help
check "vm: --icount bad shift" exits 2 "shift takes 0..10 or auto" "$lab/vm.sh" run --icount shift=11 -- true
check "vm: --icount unknown key" exits 2 "unknown part" "$lab/vm.sh" run --icount shift=3,speed=2 -- true
check "vm: --icount align=on + sleep=off" exits 2 "incompatible" "$lab/vm.sh" run --icount shift=3,align=on,sleep=off -- true
check "vm: --icount refused with KVM" exits 2 "only with TCG" "$lab/vm.sh" run --accel kvm --icount shift=auto -- true
check "vm: bad WBTRACE_ICOUNT" exits 2 "--icount 'shift=x'" env WBTRACE_ICOUNT=shift=x "$lab/vm.sh" run -- true
check "vm --help documents --icount" exits 0 "--icount SPEC" "$lab/vm.sh" --help
check "vm: bad WBTRACE_TCG_THREAD" exits 2 "single or multi" env WBTRACE_TCG_THREAD=many "$lab/vm.sh" run -- true
check "vm: WBTRACE_TCG_THREAD=multi refused with --icount" exits 2 "refuses it with --icount" env WBTRACE_TCG_THREAD=multi "$lab/vm.sh" run --icount shift=3 -- true
# A given accelerator is named without a lab build (an empty cache stays empty);
# the timeout ends the kernel build the old vm.sh started there.
check "vm accel: TCG is named with its thread mode" exits 0 "^tcg,thread=single$" env WBTRACE_CACHE="$tmp/accel-cache" WBTRACE_ACCEL=tcg timeout 60 "$lab/vm.sh" accel
check "vm accel: WBTRACE_TCG_THREAD=multi is named" exits 0 "^tcg,thread=multi$" env WBTRACE_CACHE="$tmp/accel-cache" WBTRACE_ACCEL=tcg WBTRACE_TCG_THREAD=multi timeout 60 "$lab/vm.sh" accel
check "vm accel: --icount means TCG" exits 0 "^tcg,thread=single$" env WBTRACE_CACHE="$tmp/accel-cache" WBTRACE_ACCEL= timeout 60 "$lab/vm.sh" accel --icount shift=3,align=off
check "vm accel: a given accelerator builds nothing" test -z "$(ls -A "$tmp/accel-cache" 2>/dev/null)"
check "vm: unknown scratch" exits 2 "unknown scratch 'tape'" "$lab/vm.sh" run --scratch tape -- true
check "vm: --scratch ram with --disk" exits 2 "--scratch ram keeps its data" "$lab/vm.sh" run --scratch ram --disk /tmp/x.img -- true
check "vm: bad --disk-size" exits 2 "--disk-size 'big'" "$lab/vm.sh" run --disk-size big -- true
check "vm: bad --mem" exits 2 "--mem 'lots'" "$lab/vm.sh" run --mem lots -- true
check "vm --help documents --scratch" exits 0 "--scratch disk|ram" "$lab/vm.sh" --help
check "lab build: unknown variant" exits 2 "unknown variant" "$lab/build.sh" --variant blue
check "fstests: unknown variant" exits 2 "unknown variant 'blue'" "$top/wbtrace" fstests --variant blue generic/001
check "fstests: needs tests or a group" exits 2 "give either -g GROUP or test names" "$top/wbtrace" fstests
check "vm --help documents --extra-disk" exits 0 "--extra-disk SIZE" "$lab/vm.sh" --help

# --help on every command and subcommand prints help and does nothing else: the
# programs a command could start are stubs that leave a mark, and results/ and the
# cache stay as they were.
help_only() {
	local stubs=$tmp/stubs mark=$tmp/side-effect c rc before after
	rm -rf "$stubs" "$mark"; mkdir -p "$stubs"
	for c in apt-get apt-cache dpkg make qemu-system-x86_64 fio mkfs.f2fs mount insmod sudo; do
		printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit 0\n' "$c" "$mark" >"$stubs/$c"
		chmod +x "$stubs/$c"
	done
	before=$(ls -A "$top/results"; ls -A "$tmp/cache" 2>/dev/null)
	while read -r c; do
		rc=0
		# shellcheck disable=SC2086 # the command words split on purpose
		PATH=$stubs:$PATH WBTRACE_CACHE=$tmp/cache "$top/wbtrace" $c --help >"$tmp/help" 2>&1 </dev/null || rc=$?
		[ "$rc" = 0 ] || { echo "'wbtrace $c --help' exited $rc"; cat "$tmp/help"; return 1; }
		grep -qi 'usage' "$tmp/help" || { echo "'wbtrace $c --help' printed no usage"; return 1; }
		[ ! -e "$mark" ] || { echo "'wbtrace $c --help' ran: $(cat "$mark")"; return 1; }
	done <<'EOF'
setup
lab
lab build
vm
vm run
vm shell
vm accel
list
run
trace
compare
compare fio-randwrite
gate
flamegraph
report
validate
digest
bench
fstests
demo
test
EOF
	after=$(ls -A "$top/results"; ls -A "$tmp/cache" 2>/dev/null)
	[ "$before" = "$after" ] || { echo "--help left files behind"; return 1; }
}
check "every command's --help prints help and does nothing else" help_only
check "wbtrace --version names the revision and the series" exits 0 "^wbtrace .+ \(kernel-patch series [0-9a-f]{12}" "$top/wbtrace" --version
check "demo takes no arguments" exits 2 "takes no arguments" "$top/wbtrace" demo --reps 3
check "test takes no arguments" exits 2 "takes no arguments" "$top/wbtrace" test now

# demo.sh's outcome, in a copy of the tree whose build, tracer, wbtrace and
# writeback check are stubs: compare --until-decided exits with the gate's status
# once every rep passed (and writes gate.json then only); a failed rep exits 1
# without it.  DEMO_STUB="compare_rc gate_json(0|1) gate_rc".
demo_stubbed() { # demo_stubbed CODE PATTERN COMPARE_RC GATE_JSON GATE_RC [ENV...]
	local code=$1 pat=$2 d=$tmp/demo-tree
	rm -rf "$d"; mkdir -p "$d/workloads" "$d/kernel-patch/lab" "$d/loader" "$d/results"
	cp "$top/workloads/demo.sh" "$d/workloads/"
	printf '#!/bin/sh\nexit 0\n' >"$d/kernel-patch/lab/build.sh"
	printf 'all:\n\t@true\n' >"$d/loader/Makefile"
	printf 'import sys\nsys.exit(0)\n' >"$d/workloads/wbpasses.py"
	cat >"$d/wbtrace" <<'STUB'
#!/usr/bin/env bash
read -r compare_rc gate_json gate_rc <<<"$DEMO_STUB"
case $1 in
vm) echo tcg,thread=single ;;
compare) echo "compare $*" >>"$(dirname "$0")/compare.args"
	while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
	mkdir -p "$out"; [ "$gate_json" = 1 ] && echo '{}' >"$out/gate.json"; exit "$compare_rc" ;;
report) echo "$2/report.html" ;;
gate) echo "GATE-TABLE exit $gate_rc"; exit "$gate_rc" ;;
esac
STUB
	chmod +x "$d/wbtrace" "$d/kernel-patch/lab/build.sh" "$d/workloads/demo.sh"
	shift 2
	DEMO_STUB="$1 $2 $3" exits "$code" "$pat" env "${@:4}" "$d/workloads/demo.sh" || return 1
}
demo_outcomes() {
	demo_stubbed 0 "exit 0 = pass" 0 1 0 || return 1
	grep -q -- "--reps 3 --until-decided 8" "$tmp/demo-tree/compare.args" ||
		{ echo "compare was not asked for 3 reps until decided up to 8:"; cat "$tmp/demo-tree/compare.args"; return 1; }
	# compare prints the gate's table; step 5 keeps its own in gate.txt, not on the terminal
	! grep -q GATE-TABLE "$tmp/o" || { echo "the demo printed the gate's table a second time:"; cat "$tmp/o"; return 1; }
	grep -q "GATE-TABLE exit 0" "$tmp"/demo-tree/results/cmp-demo-*/gate.txt ||
		{ echo "step 5's table is not in gate.txt"; return 1; }
	demo_stubbed 0 "exit 1 = REGRESSION" 1 1 1 || return 1
	demo_stubbed 0 "exit 2 = cannot judge / inconclusive" 2 1 2 || return 1
	demo_stubbed 1 "demo FAILED.*A/B run .*exit 1, no gate verdict" 1 0 1 || return 1
	demo_stubbed 1 "demo FAILED.*A/B run .*exit 3" 3 0 0 || return 1
	demo_stubbed 1 "gate said exit 0 .* said exit 1" 1 1 0 || return 1
	grep -q "GATE-TABLE exit 0" "$tmp/o" || { echo "a disagreeing gate's table was not shown"; cat "$tmp/o"; return 1; }
	demo_stubbed 2 "WBTRACE_DEMO_REPS \\(5\\) and WBTRACE_DEMO_MAX_REPS \\(4\\)" 0 1 0 WBTRACE_DEMO_REPS=5 WBTRACE_DEMO_MAX_REPS=4 || return 1
	demo_stubbed 0 "exit 0 = pass" 0 1 0 WBTRACE_DEMO_REPS=4 WBTRACE_DEMO_MAX_REPS=4 || return 1
	grep -q -- "--reps 4 --until-decided 4" "$tmp/demo-tree/compare.args" || { cat "$tmp/demo-tree/compare.args"; return 1; }
}
check "demo: the gate's verdict is a result; a failed A/B run or bad settings are not" demo_outcomes

# config-sides.sh: the lab and alt.config trees take opposite sides of every
# option alt.config names; "n" and "not set" are one side.
config_sides() {
	local d=$tmp/sides
	rm -rf "$d"; mkdir -p "$d"
	printf 'CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=m\n' >"$d/lab"
	printf '# CONFIG_A is not set\nCONFIG_B=n\nCONFIG_C=y\n' >"$d/alt"
	printf '# comment\nCONFIG_A=n\nCONFIG_B=n\n\nCONFIG_C=y\n' >"$d/frag"
	"$lab/config-sides.sh" "$d/lab" "$d/alt" "$d/frag" || return 1
	# D is m in the lab tree and missing from the alt tree: n is asked, n is had
	printf 'CONFIG_D=n\n' >>"$d/frag"
	"$lab/config-sides.sh" "$d/lab" "$d/alt" "$d/frag" || return 1
	# the same side in both trees is named
	printf 'CONFIG_E=n\n' >>"$d/frag"
	exits 1 "CONFIG_E is n in both trees" "$lab/config-sides.sh" "$d/lab" "$d/alt" "$d/frag" || return 1
	# and an option set to y in both
	printf 'CONFIG_A=y\n' >"$d/alt2"
	exits 1 "CONFIG_A is y in both trees" "$lab/config-sides.sh" "$d/lab" "$d/alt2" "$d/frag" || return 1
	exits 2 "not an option line" "$lab/config-sides.sh" "$d/lab" "$d/alt" <(echo 'F2FS_FS_XATTR=n') || return 1
	exits 2 "names no option" "$lab/config-sides.sh" "$d/lab" "$d/alt" <(echo '# nothing') || return 1
	exits 2 "cannot read" "$lab/config-sides.sh" "$d/lab" "$d/nonexistent" "$d/frag" || return 1
	exits 2 "usage" "$lab/config-sides.sh" "$d/lab" || return 1
	exits 0 "opposite sides" "$lab/config-sides.sh" --help
}
check "config-sides: lab and alt.config trees on opposite sides, or each option named" config_sides

# Mirror derivation reads the machine's own sources (deb822 and one-line), skips security.
mk_apt() {
	rm -rf "$tmp/apt"; mkdir -p "$tmp/apt/sources.list.d"
}
mirror_deb822() {
	mk_apt
	printf 'Types: deb\nURIs: http://mirror.example.test/debian\nSuites: bookworm\n\nTypes: deb\nURIs: http://mirror.example.test/debian-security\nSuites: bookworm-security\n' \
		>"$tmp/apt/sources.list.d/debian.sources"
	[ "$(WB_APT_ETC=$tmp/apt "$lab/install-deps.sh" --print-mirror)" = http://mirror.example.test/debian ]
}
mirror_oneline() {
	mk_apt
	printf 'deb http://security.example.test/debian-security bookworm-security main\ndeb [arch=amd64] http://other.example.test/debian/ bookworm main\n' \
		>"$tmp/apt/sources.list"
	[ "$(WB_APT_ETC=$tmp/apt "$lab/install-deps.sh" --print-mirror)" = http://other.example.test/debian ]
}
mirror_none() {
	mk_apt
	exits 1 "no Debian mirror found" env WB_APT_ETC="$tmp/apt" "$lab/install-deps.sh" --print-mirror
}
check "install-deps: mirror from deb822 sources" mirror_deb822
check "install-deps: mirror from one-line sources" mirror_oneline
check "install-deps: no mirror is a clear error" mirror_none
check "install-deps: never uses -t <suite>" bash -c "! grep -vE '^\s*#' '$lab/install-deps.sh' | grep -nE 'apt-get[^#]*(-t |--target-release)'"

# lab_tree [DIR...]: a copy of the lab in $tmp/top (and the DIRs under it) to key.
lab_tree() {
	rm -rf "$tmp/top"; mkdir -p "$tmp/top/kernel-patch"
	for d in "$@"; do mkdir -p "$tmp/top/$d"; done
	cp -r "$lab" "$tmp/top/kernel-patch/lab"
}
# lab_paths OUT: the build products' paths (their keys) of that copy, in $tmp/OUT.
lab_paths() { WBTRACE_CACHE=$tmp/cache "$tmp/top/kernel-patch/lab/build.sh" --print-paths >"$tmp/$1"; }
# Cache keys: a patch changes only the patched module's key; the fragment changes the kernel's.
keys() {
	lab_tree
	printf '# series\n' >"$tmp/top/kernel-patch/series"
	lab_paths k1
	printf 'x.patch\n' >>"$tmp/top/kernel-patch/series"; printf 'diff\n' >"$tmp/top/kernel-patch/x.patch"
	lab_paths k2
	echo "CONFIG_FOO=y" >>"$tmp/top/kernel-patch/lab/lab.config"
	lab_paths k3
	[ "$(grep KERNEL_DIR "$tmp/k1")" = "$(grep KERNEL_DIR "$tmp/k2")" ] || { echo "patch changed the kernel key"; return 1; }
	[ "$(grep MODULE_STOCK "$tmp/k1")" = "$(grep MODULE_STOCK "$tmp/k2")" ] || { echo "patch changed the stock key"; return 1; }
	[ "$(grep MODULE_PATCHED "$tmp/k1")" != "$(grep MODULE_PATCHED "$tmp/k2")" ] || { echo "patch did not change the patched key"; return 1; }
	[ "$(grep KERNEL_DIR "$tmp/k2")" != "$(grep KERNEL_DIR "$tmp/k3")" ] || { echo "fragment did not change the kernel key"; return 1; }
	[ "$(grep MODULE_STOCK "$tmp/k2")" != "$(grep MODULE_STOCK "$tmp/k3")" ] || { echo "new kernel did not change the module key"; return 1; }
}
check "build: cache keys follow their inputs" keys
# A commit message reworded builds the same module: the patched key follows the
# patch's code (from its "---" line on), not its header or message.
message_keys() {
	lab_tree
	printf 'x.patch\n' >"$tmp/top/kernel-patch/series"
	printf 'Subject: [PATCH] x\n\nWhy.\n---\n a.c | 1 +\ndiff --git a/a.c b/a.c\n+x\n' >"$tmp/top/kernel-patch/x.patch"
	lab_paths m1
	printf 'Subject: [PATCH] x\n\nWhy, said better.\n---\n a.c | 1 +\ndiff --git a/a.c b/a.c\n+x\n' >"$tmp/top/kernel-patch/x.patch"
	lab_paths m2
	printf 'Subject: [PATCH] x\n\nWhy, said better.\n---\n a.c | 1 +\ndiff --git a/a.c b/a.c\n+y\n' >"$tmp/top/kernel-patch/x.patch"
	lab_paths m3
	[ "$(grep MODULE_PATCHED "$tmp/m1")" = "$(grep MODULE_PATCHED "$tmp/m2")" ] || { echo "a reworded message changed the patched key"; return 1; }
	[ "$(grep MODULE_PATCHED "$tmp/m2")" != "$(grep MODULE_PATCHED "$tmp/m3")" ] || { echo "a code change did not change the patched key"; return 1; }
}
check "build: the patched key follows the patches' code, not their messages" message_keys
# The test-only canary (stock + tests/canary/*.patch): its key follows its own patches only,
# and a canary patch changes no other product's key.
canary_keys() {
	lab_tree tests/canary
	printf '# series\n' >"$tmp/top/kernel-patch/series"
	printf 'one\n' >"$tmp/top/tests/canary/0001-a.patch"
	lab_paths c1
	printf 'two\n' >"$tmp/top/tests/canary/0001-a.patch"
	lab_paths c2
	printf 'x.patch\n' >>"$tmp/top/kernel-patch/series"; printf 'diff\n' >"$tmp/top/kernel-patch/x.patch"
	lab_paths c3
	grep -q '^MODULE_CANARY=.*-canary/f2fs.ko$' "$tmp/c1" || { echo "no MODULE_CANARY path"; return 1; }
	[ "$(grep MODULE_CANARY "$tmp/c1")" != "$(grep MODULE_CANARY "$tmp/c2")" ] || { echo "a canary patch did not change the canary key"; return 1; }
	[ "$(grep -v MODULE_CANARY "$tmp/c1")" = "$(grep -v MODULE_CANARY "$tmp/c2")" ] || { echo "a canary patch changed another key"; return 1; }
	[ "$(grep MODULE_CANARY "$tmp/c2")" = "$(grep MODULE_CANARY "$tmp/c3")" ] || { echo "the series changed the canary key"; return 1; }
}
check "build: the canary's key follows tests/canary/*.patch only" canary_keys
check "lab build: canary is a variant" exits 2 "(stock, patched, canary, all)" "$lab/build.sh" --variant blue
check "vm: canary is a variant" exits 0 "--variant stock\|patched\|canary" "$lab/vm.sh" --help

# The guest kernel's command line per accelerator mode, read from the arguments vm.sh
# gives a stand-in QEMU: a faked lab build in a scratch cache, and a QEMU stub that
# reports the guest command done at once.  Under TCG without -icount the guest is
# told the host's TSC rate (tsc_early_khz=); under -icount and KVM it is not.
vm_append() { # vm_append [VAR=VALUE...] -- VM.SH-RUN-OPTIONS...: print QEMU's -append
	local c=$tmp/vmcache stubs=$tmp/vmstubs envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
	if [ ! -e "$stubs/qemu-system-x86_64" ]; then
		(
			eval "$(WBTRACE_CACHE=$c "$lab/build.sh" --print-paths)"
			mkdir -p "$KERNEL_DIR" "$(dirname "$MODULE_STOCK")" "$(dirname "$MODULE_PATCHED")"
			touch "$KERNEL_DIR/.done" "$(dirname "$MODULE_STOCK")/.done" "$(dirname "$MODULE_PATCHED")/.done"
			echo 7.3.4 >"$KERNEL_DIR/release"
		) || return 1
		mkdir -p "$stubs"
		# shellcheck disable=SC2016 # expanded by the stub
		printf '#!/bin/sh\nprev=""\nfor a; do\n\t[ "$prev" = -append ] && printf "%%s\\n" "$a" >"%s"\n\tcase "$a" in local,id=wbctl,path=*) d=${a#*path=}; echo 0 >"${d%%%%,*}/exit_status" ;; esac\n\tprev=$a\ndone\n' \
			"$tmp/append" >"$stubs/qemu-system-x86_64"
		chmod +x "$stubs/qemu-system-x86_64"
	fi
	rm -f "$tmp/append"
	env PATH="$stubs:$PATH" WBTRACE_CACHE="$c" WBTRACE_ICOUNT= WBTRACE_ACCEL= WBTRACE_TSC_KHZ= "${envs[@]}" \
		"$lab/vm.sh" run --no-build -q "$@" -- true >"$tmp/vm-append.out" 2>&1 ||
		{ echo "vm.sh run with a stub QEMU failed:"; cat "$tmp/vm-append.out"; return 1; }
	cat "$tmp/append"
}
append_has() { # append_has ERE [VAR=VALUE...] -- VM.SH-RUN-OPTIONS...
	local ere=$1 a; shift
	a=$(vm_append "$@") || { echo "$a"; return 1; }
	grep -qE -- "$ere" <<<"$a" || { echo "-append lacks /$ere/: $a"; return 1; }
}
append_lacks() { # append_lacks ERE [VAR=VALUE...] -- VM.SH-RUN-OPTIONS...
	local ere=$1 a; shift
	a=$(vm_append "$@") || { echo "$a"; return 1; }
	[ -n "$a" ] || { echo "no -append seen"; return 1; }
	! grep -qE -- "$ere" <<<"$a" || { echo "-append has /$ere/: $a"; return 1; }
}
tsc_measured() { # the measured rate, or the one-line note that it is unknown
	local a
	a=$(vm_append -- --accel tcg --icount off) || { echo "$a"; return 1; }
	if grep -qE ' tsc_early_khz=[1-9][0-9]{4,7}( |$)' <<<"$a"; then return 0; fi
	grep -q "host TSC rate unknown" "$tmp/vm-append.out" || { echo "neither tsc_early_khz= nor a note: $a"; cat "$tmp/vm-append.out"; return 1; }
}
check "vm: TCG tells the guest the host TSC rate" append_has ' no_timer_check tsc_early_khz=2345678$' WBTRACE_TSC_KHZ=2345678 -- --accel tcg --icount off
check "vm: TCG measures the host TSC rate (or says it cannot)" tsc_measured
check "vm: WBTRACE_TSC_KHZ=off omits tsc_early_khz" append_lacks tsc_early_khz WBTRACE_TSC_KHZ=off -- --accel tcg --icount off
check "vm: -icount keeps the guest's own TSC calibration" append_lacks tsc_early_khz WBTRACE_TSC_KHZ=2345678 -- --accel tcg --icount shift=3,align=off
check "vm: KVM gets no tsc_early_khz" append_lacks tsc_early_khz WBTRACE_TSC_KHZ=2345678 -- --accel kvm
check "vm: bad WBTRACE_TSC_KHZ" exits 2 "WBTRACE_TSC_KHZ='2.6GHz'" env WBTRACE_TSC_KHZ=2.6GHz "$lab/vm.sh" run -- true
# build.sh records the kernel release with `make kernelrelease`; under a parent
# make (`make test`) MAKEFLAGS carries -w, and the release file once held the
# "Entering directory" lines.  The recipe's command, run the same way on a
# stand-in Makefile, must print the release alone.
release_one_line() {
	local d=$tmp/krel cmd
	mkdir -p "$d/sub"
	printf 'kernelrelease:
	@echo 7.3.4
' >"$d/sub/Makefile"
	cmd=$(grep -E '^\s*make .*kernelrelease' "$lab/build.sh") || { echo "no kernelrelease command in build.sh"; return 1; }
	cmd=${cmd%%>*}
	cmd=${cmd//\"\$src\"/$d/sub}
	cmd=${cmd//O=\"\$kdir\/build\"/}
	# shellcheck disable=SC2086 # the command words split on purpose
	out=$(cd "$d" && MAKEFLAGS=w $cmd) || return 1
	[ "$out" = 7.3.4 ] || { echo "release printed as: $out"; return 1; }
}
check "build: the kernel release is recorded alone under a parent make" release_one_line
check "build: debug kernel has its own key" bash -c "[ \"\$('$lab/build.sh' --print-paths | grep KERNEL_DIR)\" != \"\$('$lab/build.sh' --debug --print-paths | grep KERNEL_DIR)\" ]"

# Pruning old runs/builds: no match is fine under set -e/pipefail (an unmatched
# `ls GLOB` once made every successful `vm run` exit 2 on a machine with no kept
# failed runs); otherwise the newest KEEP stay, and .lock files are not counted.
keep_newest() {
	local d=$tmp/prune i
	rm -rf "$d"; mkdir -p "$d"
	bash -c "set -euo pipefail; . '$lab/common.sh'; wb_keep_newest 10 '$d' 'run.*'; echo survived" | grep -qx survived ||
		{ echo "wb_keep_newest failed on an empty dir"; return 1; }
	for i in 01 02 03 04 05; do mkdir "$d/run.$i"; touch -d "2020-01-01 00:00:$i" "$d/run.$i"; done
	touch "$d/run.05.lock" "$d/run.01.lock"
	bash -c "set -euo pipefail; . '$lab/common.sh'; wb_keep_newest 2 '$d' 'run.*'"
	[ "$(cd "$d" && echo run.*)" = "run.04 run.05 run.05.lock" ] || { echo "kept: $(cd "$d" && echo run.*)"; return 1; }
}
check "common: wb_keep_newest prunes old entries, no match is not an error" keep_newest

# The line vm.sh prints for a guest that died without reporting, from kernel
# logs of the three shapes seen: an oops that panics (the CI's int3 oops in
# release_pages), a panic without an oops (sysrq-c: no RIP line), no panic line.
death_cause() {
	local log=$tmp/console.log got
	cause_of() { bash -c "set -euo pipefail; . '$lab/common.sh'; wb_death_cause '$log'"; }
	printf '%s\n' '[  690.2] wbtrace-run: start' '[  694.3] Oops: int3: 0000 [#1] SMP' \
		'[  694.3] RIP: 0010:release_pages+0x5/0x120' '[  694.3] Call Trace:' \
		'[  694.3] RIP: 0033:0x7fcb743a3409' '[  694.3] RIP: 0010:release_pages+0x5/0x120' \
		'[  694.3] Kernel panic - not syncing: Fatal exception in interrupt' >"$log"
	got=$(cause_of) || { echo "oops log: exit $?"; return 1; }
	[ "$got" = "Kernel panic - not syncing: Fatal exception in interrupt; first: Oops: int3: 0000 [#1] SMP; RIP: 0010:release_pages+0x5/0x120" ] ||
		{ echo "oops log gave: $got"; return 1; }
	printf '%s\n' '[   9.1] sysrq: Trigger a crash' '[   9.1] Kernel panic - not syncing: sysrq triggered crash' \
		'[   9.1] Call Trace:' >"$log"
	got=$(cause_of) || { echo "sysrq log: exit $?"; return 1; }
	[ "$got" = "Kernel panic - not syncing: sysrq triggered crash" ] || { echo "sysrq log gave: $got"; return 1; }
	printf '%s\n' '[   3.0] guest-init: running: true' >"$log"
	got=$(cause_of) || { echo "quiet log: exit $?"; return 1; }
	[ "$got" = "no panic line in the kernel log" ] || { echo "quiet log gave: $got"; return 1; }
}
check "common: wb_death_cause names panic, first splat and RIP; a missing part is no error" death_cause

# README's layout table against the tree: every path its first column names
# exists, and every folder at the top and in tests/ and workloads/ has a row
# (its own, or one of a path inside it).
layout_table() {
	local paths p d
	paths=$(sed -n '/^## Layout/,/^## [^L]/p' "$top/README.md" | awk -F'|' '/^\| `/ { print $2 }' |
		grep -o '`[^`]*`' | tr -d '`')
	[ -n "$paths" ] || { echo "README.md: no layout table"; return 1; }
	for p in $paths; do
		[ -e "$top/$p" ] || { echo "README.md's layout names $p, which does not exist"; return 1; }
	done
	for d in $(cd "$top" && git ls-files | awk -F/ 'NF > 1 { print $1 } NF > 2 && ($1 == "tests" || $1 == "workloads") { print $1 "/" $2 }' | sort -u); do
		grep -qE "^$d(/|\$)" <<<"$paths" || { echo "README.md's layout has no row for $d/"; return 1; }
	done
}
check "README's layout table matches the tree" layout_table

# run-inside.sh: a test's own "# run-inside: timeout SEC" raises its hang limit
# above WB_TEST_TIMEOUT (never lowers it).  The hang path itself (sysrq, kill)
# is proven in a real guest by tests/lab/vm-guest.sh.
own_timeout() {
	local d=$tmp/own-timeout out
	mkdir -p "$d"
	printf '#!/bin/bash\n# run-inside: timeout 30\nsleep 3\n' >"$d/slow.sh"
	printf '#!/bin/bash\n# run-inside: timeout 1\ntrue\n' >"$d/quick.sh"
	out=$(WB_TEST_TIMEOUT=1 WBTRACE_VARIANT=host WBTRACE_SCRATCH=/dev/null-wbtrace \
		"$top/tests/guest/run-inside.sh" "$d/slow.sh" "$d/quick.sh") || { echo "$out"; return 1; }
	grep -qx 'ok 1 slow \[host\] ([0-9]*s)' <<<"$out" || { echo "slow.sh not ok: $out"; return 1; }
	grep -qx 'ok 2 quick \[host\] ([0-9]*s)' <<<"$out" || { echo "quick.sh not ok: $out"; return 1; }
}
check "run-inside: a test's declared timeout raises its limit" own_timeout

# check-series' judgement of checkpatch --strict: clean, or CHECKs that are only
# CamelCase on f2fs's Opt_* mount option names; anything else fails it.
cp_out() { # cp_out FILE TOTAL [CHECK-LINE...]: a checkpatch output
	local f=$1 total=$2; shift 2
	{ for l in "$@"; do printf '%s\n#1: FILE: fs/f2fs/super.c:1:\n\n' "$l"; done
	  echo "total: $total, 100 lines checked"; } >"$f"
}
cp_out "$tmp/cp-clean" "0 errors, 0 warnings, 0 checks"
cp_out "$tmp/cp-clean-old" "0 errors, 0 warnings"
cp_out "$tmp/cp-opt" "0 errors, 0 warnings, 1 checks" "CHECK: Avoid CamelCase: <Opt_large_folio>"
cp_out "$tmp/cp-camel" "0 errors, 0 warnings, 1 checks" "CHECK: Avoid CamelCase: <largeFolio>"
cp_out "$tmp/cp-optupper" "0 errors, 0 warnings, 1 checks" "CHECK: Avoid CamelCase: <Opt_LargeFolio>"
cp_out "$tmp/cp-mixed" "0 errors, 0 warnings, 2 checks" "CHECK: Avoid CamelCase: <Opt_large_folio>" "CHECK: Alignment should match open parenthesis"
cp_out "$tmp/cp-warn" "0 errors, 1 warnings, 1 checks" "CHECK: Avoid CamelCase: <Opt_large_folio>"
cp_out "$tmp/cp-miscount" "0 errors, 0 warnings, 2 checks" "CHECK: Avoid CamelCase: <Opt_large_folio>"
echo "no summary" >"$tmp/cp-empty"
check "checkpatch verdict: clean" exits 0 "^checkpatch --strict clean$" "$lab/checkpatch-verdict.sh" "$tmp/cp-clean"
check "checkpatch verdict: clean (no check count)" exits 0 "^checkpatch --strict clean$" "$lab/checkpatch-verdict.sh" "$tmp/cp-clean-old"
check "checkpatch verdict: Opt_ CamelCase named" exits 0 "but for CamelCase .* Opt_large_folio" "$lab/checkpatch-verdict.sh" "$tmp/cp-opt"
check "checkpatch verdict: other CamelCase fails" exits 1 "1 checks" "$lab/checkpatch-verdict.sh" "$tmp/cp-camel"
check "checkpatch verdict: Opt_ with capitals fails" exits 1 "1 checks" "$lab/checkpatch-verdict.sh" "$tmp/cp-optupper"
check "checkpatch verdict: Opt_ plus another check fails" exits 1 "2 checks" "$lab/checkpatch-verdict.sh" "$tmp/cp-mixed"
check "checkpatch verdict: a warning fails" exits 1 "1 warnings" "$lab/checkpatch-verdict.sh" "$tmp/cp-warn"
check "checkpatch verdict: count without its lines fails" exits 1 "CHECK line" "$lab/checkpatch-verdict.sh" "$tmp/cp-miscount"
check "checkpatch verdict: no summary fails" exits 1 "no summary" "$lab/checkpatch-verdict.sh" "$tmp/cp-empty"

# host_tsc_khz.py (vm.sh's measurement of the host TSC rate), with pytest.
check "host_tsc_khz.py unit tests" /usr/bin/python3 -m pytest -q -p no:cacheprovider "$top/tests/lab/test_host_tsc_khz.py"

# Lint every shell script we ship.  A missing shellcheck fails this check: a
# lint that silently does not run looks exactly like a clean one.
shellcheck_all() {
	command -v shellcheck >/dev/null ||
		{ echo "shellcheck not installed: the scripts were not linted (./wbtrace setup installs it)"; return 1; }
	local scripts
	mapfile -t scripts < <(cd "$top" && ls wbtrace kernel-patch/lab/*.sh tests/*.sh tests/lab/*.sh tests/guest/*.sh tests/workloads/*.sh workloads/*.sh loader/*.sh .ci/run 2>/dev/null)
	[ "${#scripts[@]}" -gt 0 ] || { echo "no shell scripts found to lint"; return 1; }
	echo "linting ${#scripts[@]} scripts"
	(cd "$top" && shellcheck -x -S warning "${scripts[@]}")
}
check "shellcheck (every shell script we ship)" shellcheck_all

# Lint every Python file we ship (pyflakes: unused names, undefined names,
# imports that shadow).  Missing pyflakes fails, as for shellcheck.
pyflakes_all() {
	command -v pyflakes3 >/dev/null ||
		{ echo "pyflakes3 not installed: the Python was not linted (./wbtrace setup installs it)"; return 1; }
	local files
	mapfile -t files < <(cd "$top" && git ls-files '*.py' 2>/dev/null)
	[ "${#files[@]}" -gt 0 ] || mapfile -t files < <(cd "$top" && find . -name '*.py' -not -path './.git/*')
	[ "${#files[@]}" -gt 0 ] || { echo "no Python files found to lint"; return 1; }
	echo "linting ${#files[@]} Python files and workloads/wbtrace-run"
	(cd "$top" && pyflakes3 "${files[@]}" workloads/wbtrace-run)
}
check "pyflakes (every Python file we ship)" pyflakes_all

echo "$((n - bad)) passed, $bad failed"
[ "$bad" = 0 ]
