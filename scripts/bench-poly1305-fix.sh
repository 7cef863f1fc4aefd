#!/usr/bin/env bash
# Runs the token benchmarks against poly1305 0.9.1 with the upstream fix in
# docs/upstream/poly1305-0.9.1-avx2-inline.patch applied, to show what the
# issue / sign target measures once that fix is released
# (docs/upstream/poly1305-avx2.md). Nothing here changes tessera's own build:
# the patched copy lives in a scratch directory.
#
#   scripts/bench-poly1305-fix.sh            # the crate's tests, tessera's AEAD
#                                            # vectors, then the benches
#   scripts/bench-poly1305-fix.sh --table    # also print the BENCHMARKS.md table
#
# Scratch directory: $TESSERA_POLY1305_WORK (default /tmp/tessera-poly1305-fix);
# the first run builds everything there (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${TESSERA_POLY1305_WORK:-${TMPDIR:-/tmp}/tessera-poly1305-fix}
patch_file="$root/docs/upstream/poly1305-0.9.1-avx2-inline.patch"

for arg in "$@"; do
    case "$arg" in
        --table) ;;
        *) echo "usage: $0 [--table]" >&2; exit 2 ;;
    esac
done

# The registry copy of the exact poly1305 in Cargo.lock.
cargo fetch --locked --quiet
src=$(cargo metadata --format-version 1 --locked | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "poly1305" and p["version"] == "0.9.1":
        print(os.path.dirname(p["manifest_path"]))
        break
else:
    sys.exit("poly1305 0.9.1 is not in Cargo.lock: update the patch and this script")
')

# A fresh patched copy of poly1305 and of this working tree (keeping a
# previous build, if any, to save the rebuild).
mkdir -p "$work/tessera"
rm -rf "$work/poly1305"
cp -r "$src" "$work/poly1305"
chmod -R u+w "$work/poly1305"
patch --quiet -d "$work/poly1305" -p1 < "$patch_file"
# Every file git does not ignore, as it is in the working tree (the scratch
# copy keeps only its build directory from last time).
find "$work/tessera" -mindepth 1 -maxdepth 1 ! -name target ! -name benches -exec rm -rf {} +
find "$work/tessera/benches" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} + 2>/dev/null || true
git ls-files -z --cached --others --exclude-standard |
    tar -C "$root" --null --ignore-failed-read -T - -cf - | tar -C "$work/tessera" -xf -
# Both workspaces: tessera's (for its tests) and the benches crate's own.
for manifest in "$work/tessera/Cargo.toml" "$work/tessera/benches/Cargo.toml"; do
    printf '\n[patch.crates-io]\npoly1305 = { path = "%s" }\n' "$work/poly1305" >> "$manifest"
done

# The patched crate's own tests (run on this CPU, so on the AVX2 backend where
# it has AVX2), and tessera's XChaCha20-Poly1305 Wycheproof and known-answer
# vectors through the patched build.
(cd "$work/poly1305" && cargo test --release --quiet >&2)
(cd "$work/tessera" && cargo test --release --quiet --features test-util \
    --test wycheproof --test known_answers >&2)

cd "$work/tessera"
scripts/bench-ratios.sh "$@"
