# Benchmarks and reports (issue 8).
#   make bench               every micro-benchmark and sweep; writes reports/ (under 60 min on 2 cores)
#   make bench-quick         a few-minute version of the same path (CI)
#   make bench-analysis-test the unit tests of bench/analysis.py (part of make test)
# Both bench targets build into $(BUILD) and call scripts/bench-run.sh; a binary
# that does not build fails them.

BENCH_CXX_SRC := $(wildcard bench/*.cc)
BENCH_BIN     := $(BUILD)/bin/bckm-bench
RES_BIN       := $(BUILD)/bin/bckm-resilience
BENCH_CXXFLAGS := -std=c++17 -O2 -g -Wall -Wextra -Werror -Wshadow $(INCS)

$(BUILD)/obj/bench/%.o: bench/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -MMD -MP -c $< -o $@

$(BENCH_BIN): $(patsubst bench/%.cc,$(BUILD)/obj/bench/%.o,$(BENCH_CXX_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -o $@ $^ -lbenchmark -lpthread $(LDLIBS)

# From the simulator library the linker takes only the objects the
# resilience analysis needs.
$(RES_BIN): $(BUILD)/obj/bench/resilience_main.o $(SIMLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-bins bench-analysis-test
bench-bins: $(BENCH_BIN) $(RES_BIN) $(SIM_BIN)

bench bench-quick:
	scripts/deps.sh bench
	$(MAKE) --no-print-directory BUILD=$(BUILD) bench-bins
	BUILD=$(BUILD) scripts/bench-run.sh $(if $(filter bench-quick,$@),quick,full)

# Closes with "N passed, N failed" like scripts/run-tests.sh; fails on a failure.
bench-analysis-test:
	python3 bench/test_analysis.py
