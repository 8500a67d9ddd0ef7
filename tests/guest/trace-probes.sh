#!/bin/bash
# Guest test (run inside the lab VM on each f2fs variant): the tracer's BPF
# object passes the verifier and every probe attaches, in the preferred modes
# and in the forced fallback modes; bad environments give their exit codes.
. "$(dirname "$0")/lib.sh"

need_tracer
PY=/usr/bin/python3
TP=$(dirname "$0")/trace_probes.py   # the Python of this test
out=$(mktemp -d /tmp/trace-probes.XXXXXX)

# check_json FILE "<python expression over s (the summary) that must hold>" "what"
check_json() {
	if ! "$PY" "$TP" holds "$1" "$2"; then
		fail "$3"
		"$PY" "$TP" sites "$1" 2>/dev/null || true
	fi
}

# 1. Preferred modes: everything loads and attaches.
rc=0; "$TRACE" --check --json >"$out/check.json" 2>"$out/check.err" || rc=$?
[ "$rc" = 0 ] || { fail "--check exited $rc: $(cat "$out/check.err")"; }
log "preferred: $("$PY" "$TP" probes "$out/check.json")"
check_json "$out/check.json" 'all(v not in ("failed",) for v in s["probes"].values())' "a required probe failed"
check_json "$out/check.json" 's["probes"]["writepages"] == "fentry" and s["probes"]["folio"] == "fentry"' \
	"writepages/folio not on fentry"
check_json "$out/check.json" 'all(s["probes"][p] == "tracepoint" for p in ("bio", "bio_path", "folio_io", "compress", "fsync"))' \
	"tracepoint probes not on tp_btf"
# page_write: f2fs_submit_page_write on fentry/fexit (its CO-RE relocations of
# struct f2fs_io_info / f2fs_bio_info resolved) with the per-folio tracepoint.
check_json "$out/check.json" 's["probes"]["page_write"] == "fentry" and all(x["status"] == "attached" and x["mode"] == ("fentry" if x["kind"] == "function" else "tp_btf") for x in s["probe_sites"] if x["probe"] == "page_write")' \
	"page_write not on fentry/fexit + tp_btf"
check_json "$out/check.json" 's["bio_ends"]["complete"] is True' "bio end causes not complete in the preferred modes"
check_json "$out/check.json" 's["probes"]["cluster"] == "fentry" and s["probes"]["handout"] == "fexit"' \
	"cluster/handout not on fentry/fexit"
# The loop: each variant has exactly its own loop function, out of line (the
# loop probe needs it), and the tracer attaches to it.  Stock: the old
# f2fs_write_cache_pages() only; patched: f2fs_write_cache_folios() only (the
# series renames the old loop, then removes f2fs_write_cache_pages_compressed()).
# A loop function missing from the module (inlined, renamed, wrong module) fails.
in_f2fs_kallsyms() { awk -v s="$1" '$3 == s && $4 == "[f2fs]" { f = 1 } END { exit !f }' /proc/kallsyms; }
case "${WBTRACE_VARIANT:-}" in
stock) loop_fns=(f2fs_write_cache_pages) not_fns=(f2fs_write_cache_folios f2fs_write_cache_pages_compressed) ;;
patched) loop_fns=(f2fs_write_cache_folios) not_fns=(f2fs_write_cache_pages f2fs_write_cache_pages_compressed) ;;
*) fail "WBTRACE_VARIANT '${WBTRACE_VARIANT:-}' is neither stock nor patched: cannot tell which loop to expect"
	loop_fns=() not_fns=() ;;
esac
for fn in "${loop_fns[@]}"; do
	if in_f2fs_kallsyms "$fn"; then
		check_json "$out/check.json" "any(x['target'] == '$fn' and x['status'] == 'attached' for x in s['probe_sites'])" \
			"$fn is in the $WBTRACE_VARIANT module but the loop probe did not attach to it"
		log "$fn: in the $WBTRACE_VARIANT module, attached"
	else
		fail "$fn: not in the $WBTRACE_VARIANT f2fs module's kallsyms (inlined or renamed?): the loop probe cannot work"
	fi
done
for fn in "${not_fns[@]}"; do
	if in_f2fs_kallsyms "$fn"; then
		fail "$fn is in the $WBTRACE_VARIANT f2fs module: not the module this variant should load"
	fi
	check_json "$out/check.json" "not any(x['target'] == '$fn' and x['status'] == 'attached' for x in s['probe_sites'])" \
		"$fn attached on $WBTRACE_VARIANT, where it does not exist"
done
check_json "$out/check.json" 's["probes"]["loop"] == "fentry"' "loop probe not on fentry"

# 2. Forced fallbacks: kprobe/kretprobe and raw_tp for every site that attached above.
rc=0; "$TRACE" --check --json --no-fentry --no-tp-btf >"$out/fallback.json" 2>"$out/fallback.err" || rc=$?
[ "$rc" = 0 ] || fail "--check --no-fentry --no-tp-btf exited $rc: $(cat "$out/fallback.err")"
log "fallback: $("$PY" "$TP" probes "$out/fallback.json")"
check_json "$out/fallback.json" 'all(v in ("kprobe", "kretprobe", "raw_tracepoint") for v in s["probes"].values())' \
	"fallback modes not used everywhere"
check_json "$out/fallback.json" 's["probes"]["page_write"] == "kprobe" and s["bio_ends"]["complete"] is True' \
	"page_write not on kprobe/kretprobe + raw_tp, or its bio end causes incomplete"
"$PY" "$TP" same-sites "$out/check.json" "$out/fallback.json" || fail "a site attached in one mode set but not the other"

# 3. No function probes at all: writepages and folio fall back to their
#    tracepoint sites (rank 1); optional function probes are off.
rc=0; "$TRACE" --check --json --no-fentry --no-kprobe >"$out/tponly.json" 2>"$out/tponly.err" || rc=$?
[ "$rc" = 0 ] || fail "--check --no-fentry --no-kprobe exited $rc: $(cat "$out/tponly.err")"
check_json "$out/tponly.json" 's["probes"]["writepages"] == "tracepoint" and s["probes"]["folio"] == "tracepoint" and s["probes"]["loop"] == "off" and s["probes"]["cluster"] == "off"' \
	"tracepoint-only fallback not used"
# page_write without its function: no page is told merged or new, no cause: null, not 0
check_json "$out/tponly.json" 's["bio_ends"]["complete"] is False and s["bio_ends"]["pages"] is None and s["bio_ends"]["by_end"] is None' \
	"tracepoint-only: bio_ends not absent"

# 4. Idle hist-mode run with a duration.
rc=0; "$TRACE" -m hist -d 1 --json >"$out/hist.json" 2>"$out/hist.err" || rc=$?
[ "$rc" = 0 ] || fail "-m hist -d 1 exited $rc: $(cat "$out/hist.err")"
check_json "$out/hist.json" 's["mode"] == "hist" and s["valid"] and s["drops"] == 0' "idle hist run not valid"

# 5. Ctrl-C: links detached, the summary written and marked interrupted.
links_before=$(bpftool link show 2>/dev/null | grep -c '^[0-9]' || true)
"$TRACE" -O "$out/intr" >"$out/intr.out" 2>"$out/intr.err" &
tpid=$!
for _ in $(seq 300); do grep -q "Tracing f2fs writeback" "$out/intr.err" && break; sleep 0.1; done
links_during=$(bpftool link show 2>/dev/null | grep -c '^[0-9]' || true)
kill -INT "$tpid"
rc=0; wait "$tpid" || rc=$?
links_after=$(bpftool link show 2>/dev/null | grep -c '^[0-9]' || true)
[ "$rc" = 0 ] || fail "SIGINT: exit $rc: $(cat "$out/intr.err")"
[ "$links_during" -gt "$links_before" ] || fail "no BPF links while tracing ($links_before -> $links_during)"
[ "$links_after" = "$links_before" ] || fail "BPF links left after SIGINT ($links_before -> $links_after)"
check_json "$out/intr/summary.json" 's["interrupted"] is True and s["valid"]' "SIGINT summary not written/valid"
[ -f "$out/intr/events.jsonl" ] || fail "SIGINT: events.jsonl missing"
log "SIGINT: exit $rc, links $links_before -> $links_during -> $links_after"

# 6. Bad input and environments: one line on stderr, the documented exit code.
expect_rc() { # expect_rc CODE "what" CMD...
	local want=$1 what=$2 rc=0 lines; shift 2
	"$@" >"$out/x.out" 2>"$out/x.err" || rc=$?
	lines=$(grep -c . "$out/x.err" || true)
	[ "$rc" = "$want" ] || fail "$what: exit $rc, want $want ($(head -2 "$out/x.err"))"
	[ "$lines" -ge 1 ] || fail "$what: no message on stderr"
	log "$what: exit $rc: $(head -1 "$out/x.err")"
}
expect_rc 2 "bad option" "$TRACE" --no-such-option
expect_rc 2 "bad duration" "$TRACE" -d 0
expect_rc 2 "bad dev" "$TRACE" -D /nonexistent --check
# As nobody, from a copy nobody can reach: the clone may sit under /root (0700).
mkdir "$out/nobody" && cp "$TRACE" "$out/nobody/" && chmod 755 "$out" "$out/nobody"
expect_rc 3 "not root" setpriv --reuid=65534 --regid=65534 --clear-groups "$out/nobody/${TRACE##*/}" --check
# CAP_BPF + CAP_PERFMON cannot list module BTF: refused, and the line says why.
expect_rc 3 "CAP_BPF + CAP_PERFMON only" setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all,+bpf,+perfmon --ambient-caps=-all,+bpf,+perfmon "$out/nobody/${TRACE##*/}" --check
grep -q "CAP_SYS_ADMIN" "$out/x.err" || fail "CAP_BPF + CAP_PERFMON only: the message does not name CAP_SYS_ADMIN"
expect_rc 10 "command not found" "$TRACE" -q -- /nonexistent/cmd
expect_rc 10 "command fails" "$TRACE" -q -- false
expect_rc 6 "required probe without any mode" "$TRACE" --check --no-tp-btf --no-raw-tp
# In the lab guest f2fs is a module that nothing holds here: the case always runs.
if [ -z "${WBTRACE_MODULE:-}" ]; then
	fail "f2fs not loaded: WBTRACE_MODULE is not set (not in the lab guest?)"
elif grep -q ' f2fs ' /proc/mounts; then
	fail "f2fs not loaded: an f2fs is still mounted, the case cannot run: $(grep ' f2fs ' /proc/mounts | head -1)"
elif rmmod f2fs 2>"$out/rmmod.err"; then
	expect_rc 5 "f2fs not loaded" "$TRACE" --check
	insmod "$WBTRACE_MODULE" || fail "could not re-insert $WBTRACE_MODULE"
else
	fail "f2fs not loaded: rmmod f2fs refused ($(head -1 "$out/rmmod.err"))"
fi

rm -rf "$out"
finish
