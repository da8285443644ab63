#!/bin/sh
# Builds the UI (web/dist) with npm: installs web/'s packages when missing
# (once; the built bundle then works with no internet) and copies them.
set -e
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/echarts/dist/echarts.min.js ]; then
    echo "web: installing packages (npm)"
    npm install --no-audit --no-fund --silent
fi
node build.mjs
