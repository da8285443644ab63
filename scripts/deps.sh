#!/bin/sh
# Installs the Debian packages citybrain needs, when any is missing.
# Runs as root (apt-get) or through sudo; prints what it installs.
set -e
need="build-essential clang libclang-rt-14-dev clang-format pkg-config \
libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libcmocka-dev \
sqlite3 curl jq lz4 zstd chromium fonts-wqy-zenhei prometheus-alertmanager \
prometheus"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
# Node.js (with npm) runs the integration and browser tests; any install
# that provides both commands will do, else Debian's packages.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing >/dev/null
echo "deps: done"
