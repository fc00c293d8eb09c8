#!/usr/bin/env bash
# Installs what compat/node's tests need: node and npm from Debian's
# packages when node is missing, then the packages pinned in
# compat/node/package-lock.json. Safe to run again: it does nothing when
# node_modules already matches the lock file.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../compat/node"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	sudo=""
	if [[ $(id -u) -ne 0 ]]; then
		sudo=sudo
	fi
	echo "--- apt-get install nodejs npm"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi

# npm ci starts from an empty node_modules, so the stamp is written after
# it: a failed or interrupted install runs again next time.
stamp=node_modules/.setup-node.stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node $(node --version)"
if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
	exit 0
fi
echo "--- npm ci in compat/node"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
