# sim-cluster extras. `make sim-check SEEDS=1-1000 [BPS=4] [BYZ=1]` runs the
# swarm over a seed range; `make sim-fork` shows the checker catching a fork
# with f+1 equivocating BPs.
SEEDS ?= 1-200

.PHONY: sim-check sim-fork

sim-check: $(SIM_BIN)
	$(SIM_BIN) check --seeds $(SEEDS) $(if $(BPS),--bps $(BPS)) $(if $(BYZ),--byzantine $(BYZ))

sim-fork: $(SIM_BIN)
	$(SIM_BIN) check --seeds 1-10 --bps 4 --byzantine 2 --expect-violation
