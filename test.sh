#!/usr/bin/env bash
# Runs every test. Needs the .NET 10 SDK and Node.js: installs the Azure Storage emulator (Azurite, from npm, into
# .azurite/) on first use, starts it on 127.0.0.1 unless one is already listening there, and stops it afterwards.
# The report tests open pages in a real headless browser: Chromium, installed with apt where it is missing.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

started=""
if ! (exec 3<>/dev/tcp/127.0.0.1/10000) 2>/dev/null; then
  if [ ! -x .azurite/node_modules/.bin/azurite ]; then
    npm install --prefix .azurite --no-audit --no-fund --loglevel=error azurite@3.35.0 >/dev/null
  fi
  # In memory: nothing to clean up, and no periodic save of its whole database, which slows every request once a
  # run has written thousands of blobs.
  .azurite/node_modules/.bin/azurite --silent --skipApiVersionCheck --disableTelemetry --inMemoryPersistence \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 &
  started=$!
  trap 'kill "$started" 2>/dev/null || true; wait "$started" 2>/dev/null || true' EXIT
  for _ in $(seq 1 60); do
    (exec 3<>/dev/tcp/127.0.0.1/10000) 2>/dev/null && break
    sleep 0.5
  done
fi

status=0
dotnet test HierDiff.Functions.sln "$@" || status=$?
exit "$status"
