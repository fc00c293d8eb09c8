#!/usr/bin/env bash
# The one command that runs every test: bash scripts/test.sh
#
# It checks formatting and vet, then runs every package's tests with the
# race detector. CI runs it through .ci/run; run it the same way by hand.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# setup installs what the tests need beyond Go itself. Nothing yet: when
# the compat tests bring real clients (node, redis-server, memcached), their
# apt-get and npm install steps go here, so that a fresh machine and CI
# need no step of their own.
setup() {
	:
}

check_gofmt() {
	local unformatted
	unformatted=$(gofmt -l .)
	if [[ -n $unformatted ]]; then
		echo "gofmt: these files need gofmt -w:" >&2
		echo "$unformatted" >&2
		return 1
	fi
}

setup
echo "--- gofmt"
check_gofmt
echo "--- go vet ./..."
go vet ./...
echo "--- go test -race -count=1 ./..."
go test -race -count=1 ./...
