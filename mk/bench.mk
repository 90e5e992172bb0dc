# Benchmarks and reports (issue 8).
#   make bench        every micro-benchmark and sweep; writes reports/ (under 60 min on 2 cores)
#   make bench-quick  a few-minute version of the same path (CI)
# Both build into $(BUILD) and call scripts/bench-run.sh.

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

# Linked from its own objects (the analysis and the device fleet it builds
# on), not the whole simulator library, so the resilience sweeps do not
# depend on the cluster code compiling.
$(RES_BIN): $(BUILD)/obj/bench/resilience_main.o $(BUILD)/obj/sim-cluster/src/resilience.o $(BUILD)/obj/sim-cluster/src/fleet.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench-bins
bench-bins: $(BENCH_BIN) $(RES_BIN)

# bckm-sim is optional here: when it is missing or does not build, the
# cluster reports say so and everything else still runs.
bench bench-quick:
	scripts/deps.sh bench
	$(MAKE) --no-print-directory BUILD=$(BUILD) bench-bins
	-$(if $(wildcard sim-cluster/src/main.c),$(MAKE) --no-print-directory BUILD=$(BUILD) $(SIM_BIN) >$(BUILD)/bckm-sim-build.log 2>&1 || echo "bckm-sim did not build; see $(BUILD)/bckm-sim-build.log")
	BUILD=$(BUILD) scripts/bench-run.sh $(if $(filter bench-quick,$@),quick,full)
