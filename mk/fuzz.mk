# AFL++ fuzzing: `make fuzz`, `make fuzz-smoke`, `make fuzz-build`.
#
# Every fuzz/<name>.c is one harness. Each is built four ways under
# $(BUILD)/fuzz/, each flavour with its own copy of the library sources so the
# instrumentation covers the code under test and nothing depends on build/lib:
#   afl/<name>     afl-clang-fast, persistent mode (AFL++'s libFuzzer driver)
#   asan/<name>    the same with ASan+UBSan, no recovery (the fuzzed target)
#   cmplog/<name>  AFL_LLVM_CMPLOG=1 build, given to afl-fuzz with -c
#   repro/<name>   plain cc build with support/repro_main.c: replays files
# See fuzz/README.md.

FUZZ_SECONDS       ?= 300
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_JOBS          ?= 1
FUZZ_SEED          ?= 1
FUZZ_TIMEOUT_MS    ?= 1000
FUZZ_ONLY          ?=
AFL_CC             ?= afl-clang-fast

FUZZ_DIR   := $(BUILD)/fuzz
FUZZ_NAMES := $(sort $(basename $(notdir $(wildcard fuzz/*.c))))
ifneq ($(strip $(FUZZ_ONLY)),)
FUZZ_NAMES := $(filter $(FUZZ_ONLY),$(FUZZ_NAMES))
endif
FUZZ_LIBSRC := $(CORE_SRC) $(SIM_SRC)
FUZZ_FLAVOURS := afl asan cmplog repro

# The library is compiled without -Werror here: clang may warn where the
# project's gcc build does not, and that must not stop the fuzzers. The
# harnesses themselves keep -Werror.
FUZZ_LIBWARN := $(filter-out -Werror,$(WARN))
FUZZ_INCS    := $(INCS) -Ifuzz/support

FUZZ_CC_afl     := AFL_QUIET=1 $(AFL_CC)
FUZZ_CC_asan    := AFL_QUIET=1 $(AFL_CC)
FUZZ_CC_cmplog  := AFL_QUIET=1 AFL_LLVM_CMPLOG=1 $(AFL_CC)
FUZZ_CC_repro   := $(CC)
FUZZ_OPT_afl    := -O2 -g
FUZZ_OPT_asan   := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OPT_cmplog := -O2 -g
FUZZ_OPT_repro  := -O1 -g
# -fsanitize=fuzzer under afl-clang-fast links AFL++'s libFuzzer-compatible
# driver (libAFLDriver.a), which runs LLVMFuzzerTestOneInput in persistent,
# shared-memory mode.
FUZZ_LINK_afl    := -fsanitize=fuzzer
FUZZ_LINK_asan   := -fsanitize=fuzzer
FUZZ_LINK_cmplog := -fsanitize=fuzzer
FUZZ_LINK_repro  :=

define fuzz_flavour
$(FUZZ_DIR)/$(1)/obj/fuzz/support/%.o: fuzz/support/%.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC_$(1)) $(CSTD) $(WARN) $(FUZZ_INCS) $(FUZZ_OPT_$(1)) -MMD -MP -c $$< -o $$@

$(FUZZ_DIR)/$(1)/obj/fuzz/%.o: fuzz/%.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC_$(1)) $(CSTD) $(WARN) $(FUZZ_INCS) $(FUZZ_OPT_$(1)) -MMD -MP -c $$< -o $$@

$(FUZZ_DIR)/$(1)/obj/core/%.o: core/%.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC_$(1)) $(CSTD) $(FUZZ_LIBWARN) $(INCS) $(FUZZ_OPT_$(1)) -MMD -MP -c $$< -o $$@

$(FUZZ_DIR)/$(1)/obj/sim-cluster/%.o: sim-cluster/%.c
	@mkdir -p $$(dir $$@)
	$(FUZZ_CC_$(1)) $(CSTD) $(FUZZ_LIBWARN) $(INCS) $(FUZZ_OPT_$(1)) -MMD -MP -c $$< -o $$@

$(FUZZ_DIR)/$(1)/libfuzzbckm.a: $(patsubst %.c,$(FUZZ_DIR)/$(1)/obj/%.o,$(FUZZ_LIBSRC))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^

$(FUZZ_DIR)/$(1)/%: $(FUZZ_DIR)/$(1)/obj/fuzz/%.o $(if $(filter repro,$(1)),$(FUZZ_DIR)/$(1)/obj/fuzz/support/repro_main.o) $(FUZZ_DIR)/$(1)/libfuzzbckm.a
	$(FUZZ_CC_$(1)) $(FUZZ_OPT_$(1)) $(FUZZ_LINK_$(1)) -o $$@ $$^ $(LDLIBS)
endef

$(foreach f,$(FUZZ_FLAVOURS),$(eval $(call fuzz_flavour,$(f))))

FUZZ_BINS := $(foreach f,$(FUZZ_FLAVOURS),$(addprefix $(FUZZ_DIR)/$(f)/,$(FUZZ_NAMES)))
# Keep the objects: the pattern chain would otherwise delete them.
.SECONDARY: $(foreach f,$(FUZZ_FLAVOURS),$(patsubst %.c,$(FUZZ_DIR)/$(f)/obj/%.o,$(FUZZ_LIBSRC) $(wildcard fuzz/*.c) fuzz/support/repro_main.c))

FUZZ_ENV := BUILD=$(BUILD) FUZZ_DIR=$(FUZZ_DIR) FUZZ_NAMES="$(FUZZ_NAMES)" \
	FUZZ_JOBS=$(FUZZ_JOBS) FUZZ_SEED=$(FUZZ_SEED) FUZZ_TIMEOUT_MS=$(FUZZ_TIMEOUT_MS)

.PHONY: fuzz-deps fuzz-build fuzz-repro fuzz-replay

fuzz-deps:
	@command -v afl-fuzz >/dev/null 2>&1 && command -v $(AFL_CC) >/dev/null 2>&1 || scripts/deps.sh fuzz

fuzz-build: $(FUZZ_BINS)

fuzz-repro: $(addprefix $(FUZZ_DIR)/repro/,$(FUZZ_NAMES))

# Replays the seed corpora and the regression inputs through the reproducers.
fuzz-replay: fuzz-repro
	$(FUZZ_ENV) fuzz/scripts/replay.sh

fuzz: fuzz-deps
	$(MAKE) --no-print-directory fuzz-build
	$(FUZZ_ENV) fuzz/scripts/replay.sh
	$(FUZZ_ENV) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_REPORT=reports/fuzz.md fuzz/scripts/run.sh

fuzz-smoke: fuzz-deps
	$(MAKE) --no-print-directory fuzz-build
	$(FUZZ_ENV) fuzz/scripts/replay.sh
	$(FUZZ_ENV) FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) FUZZ_REPORT=$(FUZZ_DIR)/smoke-report.md fuzz/scripts/run.sh
