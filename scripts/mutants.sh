#!/usr/bin/env bash
# Mutation testing (issue 5): how many deliberate bugs in the security-critical
# modules do the tests catch? Not run in CI: it takes tens of minutes.
#
#   scripts/mutants.sh                    # token, claims, keys, revocation
#   scripts/mutants.sh src/claims.rs      # one module
#
# One job, niced, with a per-mutant timeout, because the machine is shared.
# Doc tests are left out (`--lib --tests`): each one is a separate compile,
# and every behaviour they show is also asserted in tests/ or unit tests.
# Results land in mutants.out/ (git-ignored): caught.txt, missed.txt,
# timeout.txt, unviable.txt. Score = caught / (caught + missed + timeout).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(src/keys.rs src/claims.rs src/token.rs src/revocation.rs)
fi
args=()
for f in "${files[@]}"; do
    args+=(--file "$f")
done

status=0
nice -n 19 cargo mutants --all-features --jobs 1 --timeout 120 --build-timeout 300 \
    "${args[@]}" -- --lib --tests || status=$?

caught=$(wc -l <mutants.out/caught.txt)
missed=$(wc -l <mutants.out/missed.txt)
timeout=$(wc -l <mutants.out/timeout.txt)
unviable=$(wc -l <mutants.out/unviable.txt)
viable=$((caught + missed + timeout))
echo "caught $caught / viable $viable (missed $missed, timeout $timeout; unviable $unviable)"
if [ "$viable" -gt 0 ]; then
    echo "score: $((100 * caught / viable))%"
fi
# cargo-mutants exits 2 when mutants were missed, 3 on timeouts.
exit "$status"
