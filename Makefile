# wbtrace — top-level targets.  The lab (kernel + f2fs modules) is cached outside
# the clone; see kernel-patch/lab/build.sh.
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

.PHONY: all tracer setup lab test demo clean

all: tracer

# The tracer (bpf/ + loader/) builds with its own Makefile.
tracer:
	$(MAKE) -C $(TOP)/loader

setup:
	$(TOP)/wbtrace setup

lab:
	$(TOP)/kernel-patch/lab/build.sh

test: all
	$(TOP)/tests/run-all.sh

demo:
	$(TOP)/wbtrace demo

clean:
	$(MAKE) -C $(TOP)/loader clean
	rm -rf $(TOP)/tests/out
