# bckm: every entry point. `make help` lists them.
# Out-of-tree: everything built lands under $(BUILD) (default build/).

BUILD   ?= build
CC      ?= cc
CXX     ?= c++
OPT     ?= -O2
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# The library (core/src) is held to the conversion, qualifier and format
# warnings as well.
CORE_WARN := -Wconversion -Wsign-conversion -Wcast-qual -Wformat=2
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L
INCS    := -Icore/include -Isim-cluster/include -Itests
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS = $(CSTD) $(WARN) $(INCS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := -lsodium -llmdb -lm

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

CORE_SRC := $(wildcard core/src/*.c)
SIM_SRC  := $(filter-out sim-cluster/src/main.c,$(wildcard sim-cluster/src/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
TEST_SUPPORT := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))

define objs
$(patsubst %.c,$(1)/obj/%.o,$(2))
endef

LIB      := $(BUILD)/lib/libbckm.a
SIMLIB   := $(BUILD)/lib/libbckmsim.a
ASAN_LIB := $(BUILD)/asan/lib/libbckm.a
ASAN_SIMLIB := $(BUILD)/asan/lib/libbckmsim.a
SIM_BIN  := $(BUILD)/bin/bckm-sim
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
ASAN_TEST_BINS := $(patsubst tests/%.c,$(BUILD)/asan/tests/%,$(TEST_SRC))

.PHONY: all help deps lib sim tests test test-fast test-asan prove fuzz fuzz-smoke bench bench-quick clean
.DEFAULT_GOAL := all

all: $(LIB) $(if $(wildcard sim-cluster/src/main.c),$(SIM_BIN))

help:
	@echo "bckm make targets:"
	@echo "  make, make all  build build/lib/libbckm.a and build/bin/bckm-sim"
	@echo "  make lib        build/lib/libbckm.a only"
	@echo "  make sim        build/bin/bckm-sim only"
	@echo "  make tests      build the plain test binaries without running them"
	@echo "  make test       install missing packages, then unit, property and simulation"
	@echo "                  tests, plain and under ASan+UBSan; prints 'N passed, N failed'"
	@echo "  make test-fast  the plain test build only (no sanitizers, no deps check)"
	@echo "  make test-asan  the ASan+UBSan test build only"
	@echo "  make prove      Frama-C WP proof of the annotated core; fails on any unproved goal"
	@echo "  make fuzz       AFL++ on every harness, FUZZ_SECONDS each (default 300)"
	@echo "  make fuzz-smoke replay the corpora and fuzz each harness briefly"
	@echo "  make fuzz-build build every harness in every flavour (afl, asan, cmplog, repro)"
	@echo "  make fuzz-repro build the plain reproducers only"
	@echo "  make fuzz-replay replay the seed corpora and regression inputs"
	@echo "  make fuzz-deps  install AFL++ when it is missing"
	@echo "  make bench      micro-benchmarks and cluster sweeps; writes reports/"
	@echo "  make bench-quick a few-minute version of make bench"
	@echo "  make bench-bins build bckm-bench, bckm-resilience and bckm-sim"
	@echo "  make bench-analysis-test the unit tests of bench/analysis.py (part of make test)"
	@echo "  make sim-check  swarm-test the cluster over SEEDS=A-B [BPS=n] [BYZ=k]"
	@echo "  make sim-fork   show the checker catching a fork (f+1 equivocating BPs)"
	@echo "  make vectors-layer2 regenerate the Layer 2 known-answer vectors"
	@echo "  make format     clang-format every tracked C file in place"
	@echo "  make format-check list the files clang-format would change; fails if any"
	@echo "  make lint       cppcheck, clang-tidy and gcc -fanalyzer; fails on any finding"
	@echo "  make lint-cppcheck / lint-tidy / lint-analyzer  one lint pass only"
	@echo "                  (lint-tidy/FILE, lint-analyzer/FILE: one file)"
	@echo "  make deps       install every Debian package the project uses"
	@echo "  make clean      remove $(BUILD)/"
	@echo "  make help       this list"
	@echo "Variables: BUILD=dir (build directory), OPT=-O2, FUZZ_SECONDS=300, SEEDS=1-200,"
	@echo "           PROVE_TIMEOUT=30, PROVE_JOBS=2"

deps:
	scripts/deps.sh all

# ---- library -------------------------------------------------------------
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/core/src/%.o $(BUILD)/asan/obj/core/src/%.o: WARN += $(CORE_WARN)

$(BUILD)/asan/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INCS) $(SAN_FLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(call objs,$(BUILD),$(CORE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ASAN_LIB): $(call objs,$(BUILD)/asan,$(CORE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SIMLIB): $(call objs,$(BUILD),$(SIM_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(ASAN_SIMLIB): $(call objs,$(BUILD)/asan,$(SIM_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SIM_BIN): $(BUILD)/obj/sim-cluster/src/main.o $(SIMLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

lib: $(LIB)
sim: $(SIM_BIN)

# ---- tests ---------------------------------------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(call objs,$(BUILD),$(TEST_SUPPORT)) $(if $(SIM_SRC),$(SIMLIB)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/tests/%: $(BUILD)/asan/obj/tests/%.o $(call objs,$(BUILD)/asan,$(TEST_SUPPORT)) $(if $(SIM_SRC),$(ASAN_SIMLIB)) $(ASAN_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(INCS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

tests: $(TEST_BINS)

# The plain build runs the full-size tests; the sanitizer build runs the same
# tests with BCKM_TEST_SCALE=small (same code paths, smaller networks).
test: 
	scripts/deps.sh test
	$(MAKE) --no-print-directory all $(TEST_BINS) $(ASAN_TEST_BINS)
	$(MAKE) --no-print-directory bench-analysis-test
	BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BINS) -- $(ASAN_TEST_BINS)

test-fast: all $(TEST_BINS)
	BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BINS)

test-asan: $(ASAN_TEST_BINS)
	BUILD=$(BUILD) scripts/run-tests.sh -- $(ASAN_TEST_BINS)

clean:
	rm -rf $(BUILD)

-include mk/*.mk
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
