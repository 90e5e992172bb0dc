# sim-cluster extras. `make sim-check SEEDS=1-1000 [BPS=4] [BYZ=1]` runs the
# swarm over a seed range; `make sim-fork` shows the checker catching a fork
# with f+1 equivocating BPs. bckm-sim exits 0 ok, 1 safety, 2 usage,
# 3 liveness, 4 out of memory (bckm-sim check --help).
SEEDS ?= 1-200

.PHONY: sim-check sim-fork

sim-check: $(SIM_BIN)
	$(SIM_BIN) check --seeds $(SEEDS) $(if $(BPS),--bps $(BPS)) $(if $(BYZ),--byzantine $(BYZ))

sim-fork: $(SIM_BIN)
	$(SIM_BIN) check --seeds 1-10 --bps 4 --byzantine 2 --expect-violation
