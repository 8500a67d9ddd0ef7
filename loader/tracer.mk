# --- tracer ---
# Included by the top-level Makefile (owned by the lead):  include loader/tracer.mk
# Targets: tracer (build loader/build/wbtrace-trace), tracer-test (C unit tests),
# tracer-clean.  The real rules live in loader/Makefile.
.PHONY: tracer tracer-test tracer-clean
tracer:
	$(MAKE) --no-print-directory -C loader all
tracer-test:
	$(MAKE) --no-print-directory -C loader test
tracer-clean:
	$(MAKE) --no-print-directory -C loader clean
