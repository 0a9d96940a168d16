#!/usr/bin/env bash
# Grow the fuzz corpus with libFuzzer (clang): tools/fuzz.sh [SECONDS]. New interesting inputs land
# in tests/fuzz/corpus/proto; commit the ones worth keeping (ctest replays them all).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$here/proto/include" \
    "$here/tests/fuzz/fuzz_proto.c" "$here"/proto/src/*.c -o "$out/fuzz_proto"
"$out/fuzz_proto" -max_total_time="${1:-60}" -max_len=4096 "$here/tests/fuzz/corpus/proto"
