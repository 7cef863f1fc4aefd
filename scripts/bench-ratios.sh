#!/usr/bin/env bash
# Runs the token benchmarks (tessera, the floor and the peers, side by side in
# one run) and prints the ratios the performance targets are stated in.
#
#   scripts/bench-ratios.sh              # run the benches, print the ratios
#   scripts/bench-ratios.sh --no-run     # only read the last run's results
#   scripts/bench-ratios.sh --table      # also print the BENCHMARKS.md table
#
# The benches are their own crate in benches/ (with the peers as its
# dependencies). Reads the medians criterion writes to
# benches/target/criterion/tokens/*/new/estimates.json.
set -euo pipefail
cd "$(dirname "$0")/../benches"

run=1
table=0
for arg in "$@"; do
    case "$arg" in
        --no-run) run=0 ;;
        --table) table=1 ;;
        *) echo "usage: $0 [--no-run] [--table]" >&2; exit 2 ;;
    esac
done

if [ "$run" = 1 ]; then
    cargo bench --bench tokens -- --warm-up-time 1 --measurement-time 3 >&2
fi

TABLE="$table" python3 - <<'PY'
import json, os, sys

base = "target/criterion/tokens"

def median(name):
    path = os.path.join(base, name.replace("/", "_"), "new", "estimates.json")
    try:
        with open(path) as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        sys.exit(f"no result for {name} ({path}): run the benches first")

def length(name):
    try:
        with open(os.path.join(base, name + ".length")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return None

m = {name: median(name) for name in [
    "floor/ed25519_sign", "floor/ed25519_verify_strict", "floor/ed25519_verify",
    "floor/xchacha_seal", "floor/xchacha_open", "floor/os_random_40",
    "tessera/issue", "tessera/verify_cold", "tessera/verify_nocache",
    "tessera/verify_hot", "tessera/renew", "tessera/reject_forged",
    "tessera/reject_garbage", "tessera/revocation_lookup",
    "pasetors/v4_public_sign", "pasetors/v4_public_verify",
    "pasetors/v4_local_encrypt", "pasetors/v4_local_decrypt",
    "jsonwebtoken/eddsa_encode", "jsonwebtoken/eddsa_decode",
    "branca/encode", "branca/decode",
]}
cold = m["tessera/verify_cold"]
paseto_verify = m["pasetors/v4_public_verify"] + m["pasetors/v4_local_decrypt"]
paseto_issue = m["pasetors/v4_public_sign"] + m["pasetors/v4_local_encrypt"]

# The acceptance ratios: (label, paired.json key, value from the medians, target, passes)
targets = [
    ("cold verify / raw verify_strict", "cold_verify_over_verify_strict",
     cold / m["floor/ed25519_verify_strict"], "<= 1.10", lambda r: r <= 1.10),
    ("issue / raw sign", "issue_over_sign",
     m["tessera/issue"] / m["floor/ed25519_sign"], "<= 1.15", lambda r: r <= 1.15),
    ("cold verify / forged-token rejection", "cold_verify_over_forged_rejection",
     cold / m["tessera/reject_forged"], ">= 20", lambda r: r >= 20),
    ("cold verify / hot verify (cache hit)", "cold_verify_over_hot_verify",
     cold / m["tessera/verify_hot"], ">= 20", lambda r: r >= 20),
    ("cold verify / (pasetors v4.public verify + v4.local decrypt)",
     "cold_verify_over_pasetors_public_verify_plus_local_decrypt",
     cold / paseto_verify, "< 1", lambda r: r < 1),
    ("cold verify / jsonwebtoken EdDSA decode", "cold_verify_over_jsonwebtoken_decode",
     cold / m["jsonwebtoken/eddsa_decode"], "< 1", lambda r: r < 1),
]
try:
    with open(os.path.join(base, "paired.json")) as f:
        paired = json.load(f)
except (OSError, ValueError):
    paired = {}

def mark(passes, value):
    return "ok" if passes(value) else "MISSED"

print(f"{'paired':>8}  {'medians':>8}  ratio (target): verdict on the paired figure")
for label, key, value, target, passes in targets:
    p = paired.get(key)
    shown = f"{p:8.3f}" if p is not None else f"{'-':>8}"
    verdict = mark(passes, p if p is not None else value)
    print(f"{shown}  {value:8.3f}  {label} ({target}): {verdict}")
print()
print("where the overhead goes (paired):")
for label, key in [
    ("cold verify / (raw verify_strict + raw XChaCha open)", "cold_verify_over_verify_strict_plus_xchacha_open"),
    ("cold verify / (raw plain verify + raw XChaCha open)", "cold_verify_over_plain_verify_plus_xchacha_open"),
    ("issue / (raw sign + raw XChaCha seal + one 40-byte OS draw)", "issue_over_sign_plus_xchacha_seal_plus_os_random"),
    ("raw verify_strict / jsonwebtoken EdDSA decode (plain verify)", "verify_strict_over_jsonwebtoken_decode"),
    ("raw XChaCha open / hot verify", "xchacha_open_over_hot_verify"),
]:
    p = paired.get(key)
    print(f"{p:8.3f}  {label}" if p is not None else f"{'-':>8}  {label}")
print()
print("other ratios, from the medians:")
others = [
    ("verify without cache / raw verify_strict", m["tessera/verify_nocache"] / m["floor/ed25519_verify_strict"]),
    ("cold verify / pasetors v4.public verify", cold / m["pasetors/v4_public_verify"]),
    ("cold verify / branca decode (no signature)", cold / m["branca/decode"]),
    ("issue / (pasetors v4.public sign + v4.local encrypt)", m["tessera/issue"] / paseto_issue),
    ("issue / jsonwebtoken EdDSA encode", m["tessera/issue"] / m["jsonwebtoken/eddsa_encode"]),
    ("issue / branca encode (no signature)", m["tessera/issue"] / m["branca/encode"]),
    ("renew / raw sign", m["tessera/renew"] / m["floor/ed25519_sign"]),
]
for label, value in others:
    print(f"{value:8.3f}  {label}")

if os.environ.get("TABLE") == "1":
    lengths = {
        "tessera": length("tessera"),
        "pasetors/v4_public": length("pasetors_v4_public"),
        "pasetors/v4_local": length("pasetors_v4_local"),
        "jsonwebtoken": length("jsonwebtoken_eddsa"),
        "branca": length("branca"),
    }
    print()
    print("| operation | median ns/op | ops/s per core | vs floor | vs tessera | token chars |")
    print("|---|---:|---:|---:|---:|---:|")
    floor_of = {
        "tessera/issue": "floor/ed25519_sign", "tessera/renew": "floor/ed25519_sign",
        "tessera/verify_cold": "floor/ed25519_verify_strict",
        "tessera/verify_nocache": "floor/ed25519_verify_strict",
        "tessera/verify_hot": "floor/ed25519_verify_strict",
        "tessera/reject_forged": "floor/ed25519_verify_strict",
        "tessera/reject_garbage": "floor/ed25519_verify_strict",
        "pasetors/v4_public_sign": "floor/ed25519_sign",
        "pasetors/v4_public_verify": "floor/ed25519_verify_strict",
        "jsonwebtoken/eddsa_encode": "floor/ed25519_sign",
        "jsonwebtoken/eddsa_decode": "floor/ed25519_verify_strict",
        "pasetors/v4_local_encrypt": "floor/xchacha_seal",
        "pasetors/v4_local_decrypt": "floor/xchacha_open",
        "branca/encode": "floor/xchacha_seal", "branca/decode": "floor/xchacha_open",
    }
    tessera_of = {
        "pasetors/v4_public_sign": "tessera/issue", "pasetors/v4_local_encrypt": "tessera/issue",
        "jsonwebtoken/eddsa_encode": "tessera/issue", "branca/encode": "tessera/issue",
        "pasetors/v4_public_verify": "tessera/verify_cold",
        "pasetors/v4_local_decrypt": "tessera/verify_cold",
        "jsonwebtoken/eddsa_decode": "tessera/verify_cold",
        "branca/decode": "tessera/verify_cold",
    }
    token_of = {
        "tessera": lengths["tessera"], "pasetors/v4_public": lengths["pasetors/v4_public"],
        "pasetors/v4_local": lengths["pasetors/v4_local"],
        "jsonwebtoken": lengths["jsonwebtoken"], "branca": lengths["branca"],
    }
    for name, ns in m.items():
        f = floor_of.get(name)
        t = tessera_of.get(name)
        vs_floor = f"{ns / m[f]:.2f}x" if f else ""
        vs_tessera = f"{ns / m[t]:.2f}x" if t else ""
        chars = ""
        for prefix, n in token_of.items():
            if name.startswith(prefix) and n and not name.startswith("tessera/revocation"):
                chars = str(n)
        print(f"| {name} | {ns:,.0f} | {1e9 / ns:,.0f} | {vs_floor} | {vs_tessera} | {chars} |")
PY
