#!/usr/bin/env bash
# Runs every test of webgan, in the order a failure is cheapest to find:
#
#   1. scripts/setup.sh            the pinned tools (skips what is there)
#   2. cargo test --workspace      native tests; GPU tests run on lavapipe
#   3. trunk build --release       the page, into dist/
#   4. tests/browser/*.test.mjs    the page in headless Chromium (SwiftShader)
#
#   scripts/test.sh                everything (what CI runs, with CI=true)
#   scripts/test.sh --native-only  steps 1 and 2 only
#
# With CI=true the GPU tests fail instead of skipping when no adapter is
# found; the tests read CI themselves, this script only passes it through.
# Exits non-zero as soon as a step fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

native_only=0
for arg in "$@"; do
    case "$arg" in
        --native-only) native_only=1 ;;
        -h | --help)
            sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "test.sh: unknown option $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

step() {
    echo
    echo "== $* ($(date +%H:%M:%S))"
}

step "setup"
if ((native_only)); then
    scripts/setup.sh --native-only
else
    scripts/setup.sh
fi

# The dev profile already optimises dependencies (opt-level 2), where the GPU
# tests spend their time; --release would only rebuild them a second time.
step "cargo test --workspace (CI=${CI:-unset})"
cargo test --workspace

if ((native_only)); then
    exit 0
fi

# Trunk passes --offline on to cargo, so fetch the wasm-only crates first.
step "trunk build --release --offline"
cargo fetch --quiet
trunk build --release --offline

step "browser tests"
for test in tests/browser/*.test.mjs; do
    node "$test"
done
