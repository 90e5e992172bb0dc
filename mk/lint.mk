# Formatting and static analysis (issue 15).
#   make format        clang-format every tracked C file in place (scripts/format.sh)
#   make format-check  list the files clang-format would change; fails if any
#   make lint          cppcheck, clang-tidy and gcc -fanalyzer; fails on any finding
# The three lint passes are also targets of their own: lint-cppcheck,
# lint-tidy, lint-analyzer. Each target installs what it needs first
# (scripts/deps.sh lint).

ANALYZER_CC ?= gcc

.PHONY: format format-check lint lint-cppcheck lint-tidy lint-analyzer

format:
	scripts/deps.sh lint
	scripts/format.sh

format-check:
	scripts/deps.sh lint
	scripts/format.sh --check

lint:
	scripts/deps.sh lint
	$(MAKE) --no-print-directory lint-cppcheck lint-tidy lint-analyzer

# ---- cppcheck ------------------------------------------------------------
# Every C directory of the project; a false positive is silenced on its line
# (// cppcheck-suppress id, with the reason).
CPPCHECK_SRC   := core/src sim-cluster/src tests fuzz bench/resilience_main.c
CPPCHECK_FLAGS := --std=c11 -D_POSIX_C_SOURCE=200809L --enable=warning,performance,portability \
	--error-exitcode=1 --inline-suppr --quiet $(INCS) -Ifuzz/support

lint-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) -j2 $(CPPCHECK_SRC)

# ---- clang-tidy ----------------------------------------------------------
# The checks are in .clang-tidy. One target per file so that make -j runs
# them in parallel.
TIDY_SRC     := $(CORE_SRC) $(wildcard sim-cluster/src/*.c)
TIDY_TARGETS := $(addprefix lint-tidy/,$(TIDY_SRC))
TIDY_FLAGS   := $(CSTD) $(INCS)
.PHONY: $(TIDY_TARGETS)


lint-tidy: $(TIDY_TARGETS)

# clang-tidy counts the findings it hid (system headers, disabled checks) on
# stderr even with --quiet; that line is dropped, the rest is shown.
$(TIDY_TARGETS): lint-tidy/%:
	@echo "clang-tidy $*"
	@out=$$(clang-tidy --quiet $(if $(TIDY_EXCLUDE_$*),--checks='$(TIDY_EXCLUDE_$*)') $* -- $(TIDY_FLAGS) 2>&1); \
	rc=$$?; printf '%s\n' "$$out" | grep -v -e '^$$' -e '^[0-9]* warnings\{0,1\} generated\.$$' || true; exit $$rc

# ---- gcc -fanalyzer ------------------------------------------------------
# Compile only, every warning an error. A false positive is silenced around
# its function with #pragma GCC diagnostic and the reason.
ANALYZER_SRC     := $(CORE_SRC) $(wildcard sim-cluster/src/*.c)
ANALYZER_TARGETS := $(addprefix lint-analyzer/,$(ANALYZER_SRC))
.PHONY: $(ANALYZER_TARGETS)

lint-analyzer: $(ANALYZER_TARGETS)

$(ANALYZER_TARGETS): lint-analyzer/%:
	$(ANALYZER_CC) $(CSTD) $(WARN) $(if $(filter core/src/%,$*),$(CORE_WARN)) $(INCS) -O0 -fanalyzer \
		-c $* -o /dev/null
