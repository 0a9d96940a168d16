#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up the machine, build everything with
# AddressSanitizer + UndefinedBehaviorSanitizer (host) and the RP2040 cross build, check
# formatting, check the demo (README's first command) comes up, run every test under ctest,
# then the integration tests again with picod under valgrind. Usage: tools/test.sh [extra ctest args]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${PICOD_TEST_BUILD:-$here/build-test}

"$here/tools/setup.sh"
cmake -S "$here" -B "$build" -DPICOD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)"
cmake --build "$build" --target format-check
# The optimised build the benchmarks use (docs/PERFORMANCE.md: -DCMAKE_BUILD_TYPE=Release) must
# build too: gcc at -O3 warns where -O0 and -O2 do not (it once stopped on two fuzz harnesses).
cmake -S "$here" -B "$build-rel" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build-rel" -j"$(nproc)"
# The README's first command, end to end (optimised build, emulated Pico, picod, picoctl).
PICOD_DEMO_BUILD="$build-demo" "$here/tools/demo.sh" --check
# Sanitizer findings (leaks included) fail the test that hit them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ctest --test-dir "$build" --output-on-failure -j2 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Tests skip themselves when a part is missing (no node, no firmware). After setup.sh nothing
# may be missing, so a skip here is a failure that would otherwise hide.
# The same for cases skipped inside a test (unittest "skipped=N", node:test "# skipped N"):
# ctest counts those tests as passed, so look at every test's output in ctest's log.
if [ "$status" -eq 0 ] && [ -z "${PICOD_ALLOW_SKIP:-}" ]; then
    inner=$(grep -E 'skipped=[1-9]|# skipped [1-9]|^SKIP: ' "$build/Testing/Temporary/LastTest.log" || true)
    if grep -q '(Skipped)' "$log" || [ -n "$inner" ]; then
        printf '%s\n' "$inner" >&2
        echo "test: tests skipped although setup.sh installed everything (see above)" >&2
        status=1
    fi
fi
# The integration tests again with picod under valgrind (memory errors, definite and indirect
# leaks: exit 99, tests/integration/harness.py), on a build without sanitizers (valgrind and
# ASan do not mix) that has only what they run. Left out: the two classes that measure
# picod's open-file limit, which valgrind lowers for the programs it runs; TestInstall (it
# installs the whole build, which this one is not) and TestDoctorUsb (doctor tells picod from
# other holders of a tty by its process name, valgrind's here).
vg=${PICOD_TEST_VG_BUILD:-$here/build-vg}
cmake -S "$here" -B "$vg" -DPICOD_SANITIZE=OFF -DPICOD_FIRMWARE=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$vg" -j"$(nproc)" --target picod picoctl picosim picod-mqtt shim_write_eio \
    monitor_fault_shim
PICOD_VALGRIND=1 ctest --test-dir "$vg" --output-on-failure -j2 -R '^integration\.' \
    -E 'TestClientLimit|TestTenThousandClients|TestInstall|TestDoctorUsb' \
    2>&1 | tee "$log"
vg_status=${PIPESTATUS[0]}
if [ "$vg_status" -eq 0 ] && [ -z "${PICOD_ALLOW_SKIP:-}" ] &&
    { grep -q '(Skipped)' "$log" || grep -qE 'skipped=[1-9]' "$vg/Testing/Temporary/LastTest.log"; }; then
    echo "test: tests skipped in the valgrind run (see above)" >&2
    vg_status=1
fi
[ "$vg_status" -eq 0 ] || status=1
exit "$status"
