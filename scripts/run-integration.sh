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
node --test --test-concurrency=1 tests/integration/*.test.mjs
