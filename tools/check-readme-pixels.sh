#!/usr/bin/env bash
# Runs the README's first command and compares every image with the hashes recorded in
# tools/reference/readme-first-command.sha256 (made by that command at commit 5559d5d, before the redesign of
# issue 12, and unchanged since): a refactor that changes one pixel of the 240 images fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
dotnet run --project src/HierDiff.Cli -- generate --prompts samples/mixed-prompts.txt --out "$out/mixed" --target-savings 0.5 >/dev/null
(cd "$out/mixed/images" && sha256sum --quiet -c "$OLDPWD/tools/reference/readme-first-command.sha256")
echo "all $(wc -l < tools/reference/readme-first-command.sha256) images match"
