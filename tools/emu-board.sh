#!/bin/sh
# emu-board.sh - an emulated Pico running the picod firmware, as a tty.
#
#   tools/emu-board.sh [--pty PATH] [--firmware ELF|BIN] [--control SOCK] [--speed X]
#
# Runs the firmware in rp2040js (tests/emu/usb/bridge.mjs) and puts its USB CDC data on a
# pseudo-terminal through socat, so picod opens PATH like /dev/ttyACM0:
#   picod --device PATH --socket SOCK
# Prints "emu-board: ready pty=PATH control=SOCK serial=ID" once the pty exists and the
# emulated device is configured. Stop it with Ctrl-C or SIGTERM: socat and the emulator end.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
pty=${XDG_RUNTIME_DIR:-/tmp}/picod-emu-board.pty
firmware=${PICOD_FIRMWARE:-}
control=""
speed=1

usage() {
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
    --pty) [ $# -ge 2 ] || usage; pty=$2; shift 2 ;;
    --firmware) [ $# -ge 2 ] || usage; firmware=$2; shift 2 ;;
    --control) [ $# -ge 2 ] || usage; control=$2; shift 2 ;;
    --speed) [ $# -ge 2 ] || usage; speed=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "emu-board: unknown argument '$1'" >&2; usage ;;
    esac
done

if [ -z "$firmware" ]; then
    for f in "$here/build/firmware/firmware.elf" "$here"/build-*/firmware/firmware.elf; do
        if [ -f "$f" ]; then firmware=$f; break; fi
    done
fi
[ -n "$firmware" ] && [ -f "$firmware" ] || {
    echo "emu-board: no firmware (build it, or pass --firmware PATH)" >&2; exit 1; }
command -v socat >/dev/null || { echo "emu-board: socat is not installed" >&2; exit 1; }
command -v node >/dev/null || { echo "emu-board: node is not installed" >&2; exit 1; }
[ -d "$here/tests/emu/node_modules/rp2040js" ] || {
    echo "emu-board: rp2040js is missing (run tools/setup.sh)" >&2; exit 1; }

rundir=$(mktemp -d "${TMPDIR:-/tmp}/emu-board.XXXXXX")
ready="$rundir/ready"
bridge_args="--stdio --firmware '$firmware' --ready-file '$ready' --speed $speed"
[ -n "$control" ] && bridge_args="$bridge_args --control '$control'"

socat_pid=""
cleanup() {
    trap - EXIT INT TERM
    if [ -n "$socat_pid" ]; then kill "$socat_pid" 2>/dev/null || true; wait "$socat_pid" 2>/dev/null || true; fi
    rm -rf "$rundir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# socat's EXEC child gets the pty's data on stdin/stdout; its stderr (the bridge's log) is ours.
socat PTY,link="$pty",raw,echo=0 EXEC:"node $here/tests/emu/usb/bridge.mjs $bridge_args" &
socat_pid=$!

# Wait for the pty link and the configured device (ready file), or socat's death.
while ! { [ -e "$ready" ] && [ -L "$pty" ]; }; do
    kill -0 "$socat_pid" 2>/dev/null || { echo "emu-board: the bridge failed to start" >&2; exit 1; }
    sleep 0.05
done
echo "emu-board: ready pty=$pty${control:+ control=$control} $(cat "$ready")"
wait "$socat_pid"
