#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up the machine, build everything with
# AddressSanitizer + UndefinedBehaviorSanitizer (host) and the RP2040 cross build, check
# formatting, check the demo (README's first command) comes up, run every test under ctest. Usage: tools/test.sh [extra ctest args]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PICOD_TEST_BUILD:-$here/build-test}

"$here/tools/setup.sh"
cmake -S "$here" -B "$build" -DPICOD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
cmake --build "$build" --target format-check
# The README's first command, end to end (optimised build, emulated Pico, picod, picoctl).
PICOD_DEMO_BUILD="$build-demo" "$here/tools/demo.sh" --check
# ASan's leak checker cannot run under ptrace-restricted sandboxes; everything else stays on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$build" --output-on-failure -j2 "$@"
