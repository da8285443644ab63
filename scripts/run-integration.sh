#!/bin/sh
# Runs the integration tests: the real binary on loopback, driven by Node's
# test runner (tests/integration/*.test.mjs).  Installs the tests' npm
# packages first (the official InfluxDB client) when missing.
set -e
cd "$(dirname "$0")/.."
if [ ! -d tests/node_modules/@influxdata/influxdb-client ]; then
    echo "integration: installing test packages (npm)"
    (cd tests && npm install --no-audit --no-fund --silent)
fi
# Under the sanitizers (CITYBRAIN_SANITIZED set by `make integration-asan`)
# the server stops at its first report; leaks are reported at a clean stop.
if [ -n "$CITYBRAIN_SANITIZED" ]; then
    echo "integration: against the ASan+UBSan server ($CITYBRAIN_BIN)"
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
fi
node --test --test-concurrency=1 tests/integration/*.test.mjs
