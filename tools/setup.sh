#!/usr/bin/env bash
# Installs everything picod needs to build, run and test on Debian 12: compilers, libraries,
# the ARM cross toolchain, socat, umockdev, systemd tools, and the emulator's npm packages
# (rp2040js, pinned in tests/emu/package-lock.json). Safe to run again: it only installs what is
# missing. Needs root (uses sudo when not root).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
    build-essential cmake pkg-config git clang-format clang-tidy cppcheck valgrind
    libuv1-dev libjansson-dev libsystemd-dev libudev-dev libinih-dev libcmocka-dev
    gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi
    socat umockdev libumockdev-dev gir1.2-umockdev-1.0 python3 python3-gi
    systemd nodejs npm
    mosquitto mosquitto-clients libmosquitto-dev scdoc bash-completion
    groff-base
)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from elsewhere than Debian's package (e.g. a newer build): accept any node >= 18.
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]; then
    missing=("${missing[@]/nodejs/}")
    command -v npm >/dev/null && missing=("${missing[@]/npm/}")
fi
read -r -a missing <<<"${missing[*]}"
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_ apt-get update -qq
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The emulator's npm dependencies, exactly as locked.
if [ ! -d "$here/tests/emu/node_modules/rp2040js" ] ||
    [ "$here/tests/emu/package-lock.json" -nt "$here/tests/emu/node_modules/.package-lock.json" ]; then
    echo "setup: installing the emulator (npm ci in tests/emu)"
    (cd "$here/tests/emu" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: done"
