#!/usr/bin/env bash
# Mutation testing (issue 5): how many deliberate bugs in the security-critical
# modules do the tests catch? Not run in CI: it takes tens of minutes.
#
#   scripts/mutants.sh                    # token, claims, keys, revocation
#   scripts/mutants.sh src/claims.rs      # one module
#
# One module at a time, one job, niced, with a per-mutant timeout, because the
# machine is shared. Doc tests are left out (`--lib --tests`): each is a
# separate compile, and what they show is also asserted in tests/ or unit
# tests. Results per module land in mutants.out.d/<module>/mutants.out/
# (git-ignored): caught.txt, missed.txt, timeout.txt, unviable.txt.
# Score = caught / viable, viable = caught + missed + timeout.
#
# Extra cargo-mutants arguments come from MUTANTS_ARGS, for example
#   MUTANTS_ARGS="--iterate" scripts/mutants.sh src/token.rs
#       (re-test only what the previous run of that module did not catch)
#   MUTANTS_ARGS="--shard 0/2 --sharding round-robin" scripts/mutants.sh src/revocation.rs
#       (every other mutant, for a module too large to finish in one sitting)
# and MUTANTS_TIMEOUT sets the per-mutant test timeout (default 120 s).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(src/token.rs src/claims.rs src/keys.rs src/revocation.rs)
fi

count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

total_caught=0
total_viable=0
for file in "${files[@]}"; do
    name=$(basename "$file" .rs)
    out="mutants.out.d/$name"
    mkdir -p "$out"
    echo "== $file"
    # cargo-mutants exits non-zero when mutants are missed or time out; the
    # summary below says how many.
    # shellcheck disable=SC2086 # MUTANTS_ARGS is a list of arguments
    nice -n 19 cargo mutants --all-features --jobs 1 --timeout "${MUTANTS_TIMEOUT:-120}" \
        --build-timeout 300 ${MUTANTS_ARGS:-} --output "$out" --file "$file" -- --lib --tests ||
        true
    dir="$out/mutants.out"
    caught=$(count "$dir/caught.txt")
    missed=$(count "$dir/missed.txt")
    timeout=$(count "$dir/timeout.txt")
    unviable=$(count "$dir/unviable.txt")
    viable=$((caught + missed + timeout))
    total_caught=$((total_caught + caught))
    total_viable=$((total_viable + viable))
    echo "$file: caught $caught / viable $viable (missed $missed, timeout $timeout; unviable $unviable)"
    if [ -s "$dir/missed.txt" ]; then
        echo "missed:"
        sed 's/^/  /' "$dir/missed.txt"
    fi
done
if [ "$total_viable" -gt 0 ]; then
    echo "total: caught $total_caught / viable $total_viable = $((100 * total_caught / total_viable))%"
fi
