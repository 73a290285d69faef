#!/usr/bin/env bash
# Installs what webgan's build, tests and dev server need, and skips what is
# already installed at the pinned version, so a warm machine (or CI runner)
# pays only for the checks.
#
#   scripts/setup.sh                  everything (the default)
#   scripts/setup.sh --no-browser-test   skip Chromium and playwright-core
#   scripts/setup.sh --native-only    only what native `cargo test` needs
#
# Prints one line per tool: "ok <tool> <version>" or "installing <tool>".
# Versions are pinned to what was verified on Debian 12 with rustc 1.95.0;
# see the workspace Cargo.toml (wasm-bindgen) and Trunk.toml (wasm_bindgen).
set -euo pipefail

WASM_BINDGEN_VERSION=0.2.130
TRUNK_VERSION=0.21.14
WASM_TARGET=wasm32-unknown-unknown

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

want_web=1
want_browser_test=1
for arg in "$@"; do
    case "$arg" in
        --native-only) want_web=0 want_browser_test=0 ;;
        --no-browser-test) want_browser_test=0 ;;
        -h | --help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "setup.sh: unknown option $arg (try --help)" >&2
            exit 2
            ;;
    esac
done

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
    sudo_cmd=(sudo)
fi

# The second word of `<tool> --version`, or nothing when the tool is absent.
tool_version() {
    if command -v "$1" >/dev/null 2>&1; then
        "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'
    fi
}

# The installed version of a Debian package, or nothing. dpkg-query fails
# for a package it has never seen, which pipefail would turn into an exit.
deb_version() {
    { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } \
        | awk '$1 == "install" && $3 == "installed" { print $4 }'
}

# --- Debian packages: apt-get update only when one is missing ---------------
apt_packages=(mesa-vulkan-drivers)
if ((want_browser_test)); then
    # CHROMIUM names another build (e.g. Ubuntu's snap), as the browser test
    # reads it; Debian's package is the default.
    if [[ -n "${CHROMIUM:-}" && -x "${CHROMIUM}" ]]; then
        echo "ok chromium $("$CHROMIUM" --version 2>/dev/null | awk '{ print $2 }') ($CHROMIUM)"
    else
        apt_packages+=(chromium)
    fi
fi
if ((want_browser_test)) && ! command -v npm >/dev/null 2>&1; then
    apt_packages+=(nodejs npm)
fi

missing=()
for package in "${apt_packages[@]}"; do
    version="$(deb_version "$package")"
    if [[ -n "$version" ]]; then
        echo "ok $package $version"
    else
        echo "installing $package"
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    # Wait for another apt (e.g. unattended upgrades) instead of failing.
    apt_wait=(-o DPkg::Lock::Timeout=900)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_wait[@]}" update -q
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get "${apt_wait[@]}" install -y -q --no-install-recommends "${missing[@]}"
fi

if ((!want_web)); then
    exit 0
fi

# --- Rust: the wasm target, wasm-bindgen-cli, trunk -------------------------
# rust-toolchain.toml names the channel; rustup picks it up from the repo root
# (rustup installs that toolchain on first use if it is missing).
echo "ok rust $(rustc --version | awk '{ print $2 }')"
if rustup target list --installed | grep -qx "$WASM_TARGET"; then
    echo "ok $WASM_TARGET"
else
    echo "installing $WASM_TARGET"
    rustup target add "$WASM_TARGET"
fi

# Without --locked: one locked dependency of 0.2.130 is not in the registry.
if [[ "$(tool_version wasm-bindgen)" == "$WASM_BINDGEN_VERSION" ]]; then
    echo "ok wasm-bindgen $WASM_BINDGEN_VERSION"
else
    echo "installing wasm-bindgen $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# With --locked: unlocked, 0.21.14 pulls a CSS parser that no longer fits.
if [[ "$(tool_version trunk)" == "$TRUNK_VERSION" ]]; then
    echo "ok trunk $TRUNK_VERSION"
else
    echo "installing trunk $TRUNK_VERSION"
    cargo install trunk --version "$TRUNK_VERSION" --locked --force
fi

if ((!want_browser_test)); then
    exit 0
fi

# --- Node: playwright-core, as locked in tests/browser ----------------------
browser_dir="$root/tests/browser"
locked="$(node -p "require('$browser_dir/package-lock.json') \
    .packages['node_modules/playwright-core'].version")"
installed="$(node -p "try { require('$browser_dir/node_modules/playwright-core/package.json') \
    .version } catch { '' }")"
if [[ "$installed" == "$locked" ]]; then
    echo "ok playwright-core $installed"
else
    echo "installing playwright-core $locked"
    (cd "$browser_dir" && npm ci --no-audit --no-fund)
fi
