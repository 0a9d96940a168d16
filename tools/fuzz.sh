#!/usr/bin/env bash
# Fuzz with libFuzzer: tools/fuzz.sh TARGET|all [SECONDS] [-- LIBFUZZER-OPTIONS...]
# e.g. tools/fuzz.sh msg 600 -- -runs=10000000 (stops at 10 million executions or 600 s).
#
# Builds the fuzz targets of tests/fuzz/ with clang (-fsanitize=fuzzer,address,undefined, in
# build-fuzz/), runs TARGET (or each target in turn for "all") for SECONDS (default 60) on one
# core under nice, then minimises tests/fuzz/corpus/TARGET to the inputs that keep every covered
# edge (-merge=1 -use_counters=0: a few dozen to a few hundred files) and prints the run's figures: executions, exec/s, and coverage (libFuzzer's cov:
# edges and ft: features), also appended to build-fuzz/fuzz-stats.txt. Commit the corpus: ctest
# replays every input in the normal gcc build (fuzz.TARGET.replay). A crash leaves its input in
# build-fuzz/artifacts/; copy it to tests/fuzz/regress/TARGET/ with the fix.
#
# Needs clang with libFuzzer (Debian/Ubuntu: apt-get install clang; clang 14 is what the figures
# in docs/RELIABILITY.md were measured with). Not part of CI; the replays are.
#
# Two runs of one target at once (one per core): give each its own FUZZ_TAG (FUZZ_TAG=a
# tools/fuzz.sh api ... & FUZZ_TAG=b tools/fuzz.sh api ...): each keeps its own scratch corpus
# and log; the build and the minimising into the committed corpus take a lock, one at a time.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
targets=(proto msg fw usb api options)
target=${1:-}
secs=${2:-60}
shift $(($# < 2 ? $# : 2))
[[ ${1:-} == -- ]] && shift
if [[ -z $target ]]; then
    echo "usage: tools/fuzz.sh TARGET|all [SECONDS] [-- LIBFUZZER-OPTIONS]; targets: ${targets[*]}" >&2
    exit 2
fi
if [[ $target == all ]]; then
    for t in "${targets[@]}"; do "$0" "$t" "$secs" -- "$@"; done
    exit 0
fi
if [[ ! " ${targets[*]} " == *" $target "* ]]; then
    echo "fuzz: unknown target '$target' (targets: ${targets[*]})" >&2
    exit 2
fi
command -v clang >/dev/null || { echo "fuzz: needs clang with libFuzzer (apt-get install clang)" >&2; exit 2; }

build=$here/build-fuzz
if [[ ! -f $build/CMakeCache.txt ]]; then
    CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPICOD_SANITIZE=ON \
        -DPICOD_FIRMWARE=OFF -DPICOD_FUZZ=ON \
        -DCMAKE_C_FLAGS="-O1 -gline-tables-only -fsanitize=fuzzer-no-link" >/dev/null
fi
tag=${FUZZ_TAG:+-$FUZZ_TAG}
lock=$build/.fuzz.lock
flock "$lock" nice -n 10 cmake --build "$build" -j1 --target "fuzz_$target" >/dev/null

corpus=$here/tests/fuzz/corpus/$target
dict=$here/tests/fuzz/dict/$target.dict
seeds=()
[[ -d $here/tests/fuzz/regress/$target ]] && seeds+=("$here/tests/fuzz/regress/$target")
opts=(-max_total_time="$secs" -print_final_stats=1 -close_fd_mask=3 -rss_limit_mb=4096
      -artifact_prefix="$build/artifacts/$target-")
[[ -f $dict ]] && opts+=(-dict="$dict")
case $target in
# picod keeps state across inputs (the history, the board): LeakSanitizer's check after every
# input that allocated more than it freed cost 3/4 of the time. Leaks are valgrind's job.
api) opts+=(-detect_leaks=0) ;;
esac
# libFuzzer writes new inputs into its first corpus directory: a scratch one in the build tree
# (kept between runs), seeded with the committed corpus and the regression inputs.
work=$build/corpus/$target$tag
mkdir -p "$corpus" "$work" "$build/artifacts" "$build/logs"
log=$build/logs/$target$tag.log
cd "$build" # libFuzzer's own files (fuzz-*.log with -jobs) stay in the build tree
start=$SECONDS
set +e
nice -n 10 "$build/tests/fuzz/fuzz_$target" "${opts[@]}" "$@" "$work" "$corpus" "${seeds[@]}" \
    >"$log" 2>&1
rc=$?
set -e
took=$((SECONDS - start))
if [[ $rc -ne 0 ]]; then
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED (exit $rc); log $log, input in $build/artifacts/" >&2
    exit 1
fi
# The figures: executions and exec/s (final stats), coverage at the end (the last status line).
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")

min=$(mktemp -d)
trap 'rm -rf "$min"' EXIT
exec 9>"$lock"
flock 9
nice -n 10 "$build/tests/fuzz/fuzz_$target" -merge=1 -use_counters=0 -close_fd_mask=3 "$min" "$corpus" \
    "$work" \
    >"$build/logs/$target$tag-merge.log" 2>&1
rm -f "$corpus"/*
cp "$min"/* "$corpus"/
line="$target$tag: $execs executions in ${took}s, $rate exec/s, cov $cov edges, ft $ft features, corpus $(ls "$corpus" | wc -l) inputs, clean"
echo "$line" | tee -a "$build/fuzz-stats.txt"
