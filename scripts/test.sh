#!/usr/bin/env bash
# The one command that runs every test: bash scripts/test.sh
#
# It checks formatting, vet and staticcheck, then runs every package's tests with the
# race detector. CI runs it through .ci/run; run it the same way by hand.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# setup installs what the tests need beyond Go itself: the real clients and
# reference servers the compatibility tests run (redis-server, redis-cli,
# redis-benchmark from Debian's packages; Node and the npm packages of
# compat/node from its lockfile), so that a fresh machine and CI need no
# step of their own. Each script installs only what is missing.
setup() {
	bash scripts/setup-servers.sh
	if [[ -f scripts/setup-node.sh ]]; then
		bash scripts/setup-node.sh
	fi
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

# run_staticcheck runs the pinned staticcheck over both modules, installing
# it from the Go module proxy into the Go cache's bin directory if needed.
run_staticcheck() {
	local version=0.8.2 # staticcheck 2026.2.2
	local bin
	bin="$(go env GOPATH)/bin/staticcheck"
	if [[ -n "$(go env GOBIN)" ]]; then
		bin="$(go env GOBIN)/staticcheck"
	fi
	if ! "$bin" -version 2>/dev/null | grep -qF "($version)"; then
		go install "honnef.co/go/tools/cmd/staticcheck@v$version"
	fi
	"$bin" ./...
	(cd compat && "$bin" ./...)
}

setup
echo "--- gofmt"
check_gofmt
echo "--- go vet ./..."
go vet ./...
echo "--- staticcheck ./..."
run_staticcheck
echo "--- it builds elsewhere: everything on macOS, FreeBSD and 32-bit ARM Linux, the embedded store and the cluster on Windows"
GOOS=darwin go build ./...
GOOS=freebsd go build ./...
# internal/ops serves the binary, which (with its server) is not built for
# Windows.
GOOS=windows go build . $(go list ./internal/... | grep -v /internal/ops) ./cluster/
GOOS=linux GOARCH=arm go build ./...
echo "--- go test -race -count=1 ./..."
go test -race -count=1 ./...
echo "--- the server's tests again with RESP served by event loops"
go test -race -count=1 ./server/ -args -loops 2
# compat is a module of its own, so that the clients it tests with
# (go-redis, scs, gomemcache) are never dependencies of sessiond itself.
echo "--- compat: go vet ./... && go test -race -count=1 ./..."
(cd compat && go vet ./... && go test -race -count=1 ./...)
# sessiond serves RESP from one event loop by default; the clients and the
# sync replicas again with a goroutine per connection.
echo "--- compat: the real clients against sessiond --event-loops 0"
(cd compat && COMPAT_SESSIOND_ARGS="--event-loops 0" go test -race -count=1 ./goclients ./node)
echo "--- compat: sync replicas with --event-loops 0"
(cd compat && COMPAT_SESSIOND_ARGS="--event-loops 0" go test -race -count=1 -run 'TestKill9SyncReplicas|TestNoReplicas|TestKillWriterSurvivorsHaveAckedWrites' ./cluster)
