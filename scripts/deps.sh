#!/usr/bin/env bash
# Installs every Debian 12 package bckm uses, only when missing, and prepares
# what they need (Why3's prover configuration). Safe to run any number of times.
#
#   scripts/deps.sh            all groups
#   scripts/deps.sh test       only what `make test` needs
#   scripts/deps.sh prove|fuzz|bench|lint
set -euo pipefail

group="${1:-all}"

pkgs_build=(build-essential pkg-config libsodium-dev liblmdb-dev)
pkgs_test=(clang libclang-rt-14-dev python3)
pkgs_prove=(frama-c-base why3 z3 cvc4 python3)
pkgs_fuzz=(afl++ clang llvm python3)
pkgs_bench=(libbenchmark-dev g++ gnuplot-nox python3)
pkgs_lint=(cppcheck clang-tidy clang-format)

case "$group" in
  test)  want=("${pkgs_build[@]}" "${pkgs_test[@]}") ;;
  prove) want=("${pkgs_build[@]}" "${pkgs_prove[@]}") ;;
  fuzz)  want=("${pkgs_build[@]}" "${pkgs_fuzz[@]}") ;;
  bench) want=("${pkgs_build[@]}" "${pkgs_bench[@]}") ;;
  lint)  want=("${pkgs_build[@]}" "${pkgs_lint[@]}") ;;
  all)   want=("${pkgs_build[@]}" "${pkgs_test[@]}" "${pkgs_prove[@]}" "${pkgs_fuzz[@]}" "${pkgs_bench[@]}" "${pkgs_lint[@]}") ;;
  *) echo "deps.sh: unknown group '$group' (test|prove|fuzz|bench|lint|all)" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps.sh: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Why3 must know the provers before Frama-C WP can call them.
if [ "$group" = prove ] || [ "$group" = all ]; then
  if ! why3 config list-provers 2>/dev/null | grep -qi z3; then
    why3 config detect >/dev/null
  fi
fi
exit 0
