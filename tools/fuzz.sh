#!/usr/bin/env bash
# Grow the fuzz corpus with libFuzzer (clang): tools/fuzz.sh [SECONDS]. Runs the proto fuzz target
# for SECONDS (default 60), then minimises tests/fuzz/corpus/proto to the inputs that add
# coverage (-merge=1). Commit the result: ctest replays every input (fuzz.proto.replay).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=$here/tests/fuzz/corpus/proto
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$here/proto/include" \
    "$here/tests/fuzz/fuzz_proto.c" "$here"/proto/src/*.c -o "$out/fuzz_proto"
"$out/fuzz_proto" -max_total_time="${1:-60}" -max_len=4096 "$corpus"
mkdir "$out/min"
"$out/fuzz_proto" -merge=1 "$out/min" "$corpus" 2>&1 | tail -n 1
rm -f "$corpus"/*
cp "$out/min"/* "$corpus"/
echo "fuzz: corpus now $(ls "$corpus" | wc -l) inputs"
