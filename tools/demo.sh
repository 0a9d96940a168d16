#!/usr/bin/env bash
# The main job, from a fresh clone: set up, build, start a board and picod, show picoctl.
#
#   tools/demo.sh            a plugged-in Pico if present, else the emulated Pico (real firmware
#                            in rp2040js, bridged to a pty), else picosim
#   tools/demo.sh --emu      force the emulated Pico
#   tools/demo.sh --sim      force picosim (the firmware core compiled for Linux)
#   tools/demo.sh --check    start everything, print `picoctl status` once the board is online,
#                            then stop (used by the test suite to keep this script honest)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PICOD_DEMO_BUILD:-$here/build}
run=$here/run
mode=auto check=0
for arg in "$@"; do
    case $arg in
    --sim) mode=sim ;;
    --emu) mode=emu ;;
    --check) check=1 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

"$here/tools/setup.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

picod=$build/daemon/picod
picoctl=$build/client/picoctl
picosim=$(find "$build/firmware" -type f -name picosim -perm -u+x | head -n 1)
firmware=$(find "$build/firmware" -type f -name firmware.elf | head -n 1)
mkdir -p "$run"
sock=$run/picod.sock
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A real Pico running our firmware shows up under /dev/serial/by-id with our vendor ID.
real=()
for dev in /dev/serial/by-id/usb-*picod*; do [ -e "$dev" ] && real+=("$dev"); done
if [ "$mode" = auto ]; then
    if [ "${#real[@]}" -gt 0 ]; then mode=real
    elif [ -n "$firmware" ] && [ -x "$here/tools/emu-board.sh" ]; then mode=emu
    else mode=sim; fi
fi

devices=()
ctl=""
case $mode in
real)
    echo "demo: using the Pico(s) on USB: ${real[*]}"
    devices=("${real[@]}")
    ;;
emu)
    [ -n "$firmware" ] || { echo "demo: no firmware.elf was built (arm-none-eabi-gcc missing?)" >&2; exit 1; }
    echo "demo: starting the emulated Pico (rp2040js running $firmware)"
    "$here/tools/emu-board.sh" --pty "$run/emu-pico" --control "$run/emu-pico.ctl" \
        --firmware "$firmware" 2>"$run/emu-pico.log" &
    pids+=($!)
    devices=("$run/emu-pico")
    ctl=$run/emu-pico.ctl
    ;;
sim)
    echo "demo: starting picosim (the firmware core on a pty)"
    rm -f "$run/picosim" "$run/picosim.ctl"
    "$picosim" --pty "$run/picosim" --control "$run/picosim.ctl" 2>"$run/picosim.log" &
    pids+=($!)
    devices=("$run/picosim")
    ctl=$run/picosim.ctl
    ;;
esac
for dev in "${devices[@]}"; do
    for _ in $(seq 600); do [ -e "$dev" ] && break; sleep 0.1; done
    [ -e "$dev" ] || { echo "demo: board did not come up at $dev" >&2; exit 1; }
done

args=(--socket "$sock")
for dev in "${devices[@]}"; do args+=(--device "$dev"); done
"$picod" "${args[@]}" &
picod_pid=$!
pids+=("$picod_pid")

# Wait until picod serves and the board is online, then show it.
for _ in $(seq 600); do
    "$picoctl" --socket "$sock" status 2>/dev/null | grep -q online && break
    kill -0 "$picod_pid" 2>/dev/null || { echo "demo: picod exited" >&2; exit 1; }
    sleep 0.1
done
# The first sensor poll follows HELLO within a couple of seconds: show it when it is there.
for _ in $(seq 50); do
    "$picoctl" --socket "$sock" status 2>/dev/null | grep -q ' °C ' && break
    sleep 0.1
done
"$picoctl" --socket "$sock" status
[ "$check" = 1 ] && exit 0

cat <<MSG

picod is running ($mode board) and serving $sock. In another terminal:

  export PATH=$build/client:\$PATH PICOD_SOCKET=$sock
  picoctl status                 # boards, LED, button, sensors
  picoctl led <board> toggle     # <board>: the ID above, or any unique prefix of it
  picoctl led <board> blink 200 50
  picoctl watch                  # button presses and sensor readings as they happen
  picoctl i2c <board> scan
MSG
[ -n "$ctl" ] && cat <<MSG

The board's simulated hardware answers on $ctl:
  echo click | socat - UNIX-CONNECT:$ctl          # press and release the button (GP15)
  echo "set temp 25.5" | socat - UNIX-CONNECT:$ctl  # the BME280's temperature
  echo led | socat - UNIX-CONNECT:$ctl            # what GP25 shows right now
  (also: press, release, set humidity PCT, set pressure PA, nack on|off, reset)
MSG
echo
echo "Ctrl-C here stops picod and the board."
wait "$picod_pid"
