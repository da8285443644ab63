#!/bin/sh
# Replays each fuzz target's committed corpus once under ASan+UBSan.
fail=0
for f in "$@"; do
    name=${f##*/fuzz_}
    dir=fuzz/corpus/$name
    [ -d "$dir" ] || { echo "fuzz: no corpus for $name"; fail=1; continue; }
    n=$(ls "$dir" | wc -l)
    if "$f" -runs=0 "$dir" >build/fuzz/$name.log 2>&1; then
        echo "fuzz: $name replayed $n inputs"
    else
        echo "fuzz: $name FAILED (see build/fuzz/$name.log)"; tail -30 build/fuzz/$name.log; fail=1
    fi
done
[ "$fail" -eq 0 ]
