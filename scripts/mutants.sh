#!/usr/bin/env bash
# Mutation testing: how many deliberate bugs in the security-critical
# modules do the tests catch? Not run in CI: it takes tens of minutes (on two
# busy cores: claims.rs 5 to 10 minutes, the revocation filter about 18).
#
#   scripts/mutants.sh                    # token, ed25519, claims, keys, revocation
#   scripts/mutants.sh src/claims.rs      # one module
#
# One module at a time, one job, niced, with a per-mutant timeout, because the
# machine is shared. Doc tests are left out: each is a separate compile, and
# what they show is also asserted in tests/ or unit tests. Each module is
# tested by the test targets that reach its code (`tests_for` below), passed
# to every cargo invocation (`--cargo-arg`), so a mutant's build links only
# those binaries and its test run runs only them; the library's own unit tests
# (`--lib`) run first, so most mutants fail within a second. Results per
# module land in mutants.out.d/<module>/mutants.out/ (git-ignored):
# caught.txt, missed.txt, timeout.txt, unviable.txt.
# Score = caught / viable, viable = caught + missed + timeout.
#
# Extra cargo-mutants arguments come from MUTANTS_ARGS, for example
#   MUTANTS_ARGS="--iterate" scripts/mutants.sh src/token.rs
#       (re-test only what the previous run of that module did not catch; the
#       summary still counts every mutant since the last full run. Mutant
#       names carry line numbers: iterate only after changes to tests, or
#       below the code, or the shifted mutants are tested again)
#   MUTANTS_ARGS="--shard 0/2 --sharding round-robin" scripts/mutants.sh src/revocation/mod.rs
#       (every other mutant, for a module too large to finish in one sitting)
# and MUTANTS_TIMEOUT sets the per-mutant test timeout (default 30 s: the
# unmutated test runs take under 10 s; a mutant that makes an operation loop
# forever costs the whole timeout).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo mutants --version >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(src/token.rs src/ed25519.rs src/claims.rs src/keys.rs
        src/revocation/mod.rs src/revocation/bloom.rs src/revocation/snapshot.rs)
fi

# The test targets that exercise a module: for the token format, every target
# that issues or verifies tokens (not cli, which only runs the binary, nor
# revocation); for keys, the same plus cli (keyset files); for the Ed25519
# check, the unit tests, Wycheproof, the known answers and the fuzz corpus
# replay (the ed25519_strict differential target); for claims, every target;
# for the revocation filter, the unit tests and the
# integration tests that use it (`grep -l 'RevocationFilter\|revoke\|snapshot'
# tests/*.rs`; fuzz_replay replays the revocation_snapshot corpus). Not
# known_answers, properties or wycheproof, which never reach it.
tests_for() {
    case "$1" in
    src/token.rs)
        echo --lib --test api --test known_answers --test tamper --test limits --test properties \
            --test wycheproof --test allocations --test cache --test fuzz_replay
        ;;
    src/keys.rs)
        echo --lib --test api --test cli --test known_answers --test tamper --test limits \
            --test properties --test wycheproof --test allocations --test cache --test fuzz_replay
        ;;
    src/ed25519.rs)
        echo --lib --test wycheproof --test known_answers --test fuzz_replay
        ;;
    src/revocation/*)
        echo --lib --test allocations --test api --test cache --test cli --test fuzz_replay \
            --test limits --test revocation --test tamper
        ;;
    *) echo --lib --tests ;;
    esac
}

count() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

total_caught=0
total_viable=0
for file in "${files[@]}"; do
    # src/revocation/mod.rs -> revocation-mod
    name=$(echo "${file#src/}" | sed 's/\.rs$//; s#/#-#g')
    out="mutants.out.d/$name"
    mkdir -p "$out"
    echo "== $file"
    # cargo-mutants exits non-zero when mutants are missed or time out; the
    # summary below says how many.
    cargo_args=()
    for arg in $(tests_for "$file"); do
        cargo_args+=("--cargo-arg=$arg")
    done
    # `--iterate` lists what earlier runs caught *or* found unviable in
    # previously_caught.txt and leaves unviable.txt empty, so the unviable
    # mutants of every run since the last full one are kept here.
    unviable_all="$out/unviable-all.txt"
    case " ${MUTANTS_ARGS:-} " in
    *" --iterate "*)
        if [ ! -f "$unviable_all" ] && [ -f "$out/mutants.out/unviable.txt" ]; then
            cp "$out/mutants.out/unviable.txt" "$unviable_all"
        fi
        ;;
    *) rm -f "$unviable_all" ;;
    esac
    start=$(date +%s)
    # shellcheck disable=SC2086 # MUTANTS_ARGS is a list of arguments
    nice -n 19 cargo mutants --all-features --jobs 1 --timeout "${MUTANTS_TIMEOUT:-30}" \
        --build-timeout 300 ${MUTANTS_ARGS:-} --output "$out" --file "$file" "${cargo_args[@]}" ||
        true
    elapsed=$(($(date +%s) - start))
    dir="$out/mutants.out"
    earlier_unviable=$(count "$unviable_all")
    if [ -f "$dir/unviable.txt" ]; then cat "$dir/unviable.txt" >>"$unviable_all"; fi
    caught=$(($(count "$dir/caught.txt") + $(count "$dir/previously_caught.txt") - earlier_unviable))
    missed=$(count "$dir/missed.txt")
    timeout=$(count "$dir/timeout.txt")
    unviable=$(count "$unviable_all")
    viable=$((caught + missed + timeout))
    total_caught=$((total_caught + caught))
    total_viable=$((total_viable + viable))
    echo "$file: caught $caught / viable $viable (missed $missed, timeout $timeout; unviable $unviable) in ${elapsed}s"
    if [ -s "$dir/missed.txt" ]; then
        echo "missed:"
        sed 's/^/  /' "$dir/missed.txt"
    fi
    if [ -s "$dir/timeout.txt" ]; then
        echo "timeout:"
        sed 's/^/  /' "$dir/timeout.txt"
    fi
done
if [ "$total_viable" -gt 0 ]; then
    echo "total: caught $total_caught / viable $total_viable = $((100 * total_caught / total_viable))%"
fi
