#!/usr/bin/env sh
# The test command behind `npm test`: type-check everything, run every test, print one closing line
# "N passed, N failed, N skipped" that CI reads. Exit code is vitest's (or tsc's).
set -u
cd "$(dirname "$0")/.."
tsc -p tsconfig.json || { echo "tests: 0 passed, 1 failed (type check)"; exit 1; }
out=$(mktemp -d)
vitest run --reporter=default --reporter=json --outputFile="$out/results.json" "$@"
rc=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  const skipped = r.numPendingTests + r.numTodoTests
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`)
  if (r.numTotalTests === 0) { console.error("no test ran"); process.exit(1) }
' "$out/results.json" || rc=1
rm -rf "$out"
exit $rc
