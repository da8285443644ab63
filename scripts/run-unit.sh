#!/bin/sh
# Runs each cmocka unit-test binary given; fails if any fails.
fail=0; pass=0
for t in "$@"; do
    if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
