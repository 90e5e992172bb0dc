#!/usr/bin/env bash
# Formats the project's C sources with clang-format and the root .clang-format.
#
#   scripts/format.sh           rewrite every file in place
#   scripts/format.sh --check   rewrite nothing; list the files that would
#                               change and exit 1 if there is any
#
# The files are the tracked *.c and *.h under core/ sim-cluster/ tests/ fuzz/
# bench/ proofs/ (git ls-files), less EXCLUDE.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"

# Not ours to lay out:
#   proofs/libsodium.h  libsodium's prototypes, kept as libsodium's headers
#                       write them so the two read side by side
EXCLUDE='^(proofs/libsodium\.h)$'

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac

mapfile -t files < <(git ls-files -- 'core/*.[ch]' 'sim-cluster/*.[ch]' 'tests/*.[ch]' \
                       'fuzz/*.[ch]' 'bench/*.[ch]' 'proofs/*.[ch]' | grep -Ev "$EXCLUDE")

if [ "$check" -eq 0 ]; then
  "$CLANG_FORMAT" -i --style=file "${files[@]}"
  exit 0
fi

changed=0
for f in "${files[@]}"; do
  if ! "$CLANG_FORMAT" --style=file "$f" | cmp -s - "$f"; then
    echo "$f"
    changed=$((changed + 1))
  fi
done
if [ "$changed" -gt 0 ]; then
  echo "format-check: $changed of ${#files[@]} files need formatting (make format)" >&2
  exit 1
fi
echo "format-check: ${#files[@]} files formatted"
