#!/usr/bin/env bash
# Builds the page and serves it at http://127.0.0.1:$PORT/ (default 8080),
# rebuilding on every change under crates/, shaders/ and www/.
#
#   scripts/serve.sh               serve on 127.0.0.1:8080
#   PORT=9000 scripts/serve.sh     another port
#
# 127.0.0.1 counts as a secure context, so browsers offer WebGPU there; from
# another machine the page would need https.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

port="${PORT:-8080}"

# Chromium and playwright-core are for the browser tests only.
scripts/setup.sh --no-browser-test

# Trunk passes --offline on to cargo, so fetch the crates first.
cargo fetch --quiet

echo
echo "webgan: open http://127.0.0.1:$port/ in a browser with WebGPU"
echo "        (the first build takes a few minutes; Ctrl-C stops the server)"
echo
exec trunk serve --release --offline --address 127.0.0.1 --port "$port"
