#!/usr/bin/env bash
# Installs the reference servers and tools the compatibility tests and
# benchmarks run, from Debian's packages: redis-server (the reference the
# tests are checked against with COMPAT_TARGET=redis), redis-cli and
# redis-benchmark (redis-server, redis-tools), memcached (the reference
# for the memcached protocol, COMPAT_TARGET=memcached), and ip (iproute2,
# for the network namespaces of the cluster's partition test), chromium
# (the status page's browser test, compat/cluster) and curl (the README's
# commands, run by compat/readme).
#
# Idempotent: with every program present it installs nothing. Either way it
# leaves the packages' own services stopped: the tests start their own
# servers on ephemeral ports, and ports 6379 and 11211 must stay free for
# `go run ./cmd/sessiond`.
#
# Called from scripts/test.sh; runs as root or through sudo.
set -euo pipefail

missing=()
# program -> the Debian package that has it
declare -A package=(
	[redis-server]=redis-server
	[redis-cli]=redis-tools
	[redis-benchmark]=redis-tools
	[memcached]=memcached
	[ip]=iproute2 # network namespaces for the cluster's partition test
	[chromium]=chromium # the status page's browser test
	[curl]=curl   # the README's commands, which compat/readme runs
)
for program in "${!package[@]}"; do
	command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

if ((${#missing[@]} > 0)); then
	echo "setup-servers: installing redis-server redis-tools memcached iproute2 chromium curl (missing: ${missing[*]})"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get may hold the lock (a parallel setup step): wait for it
	# rather than fail.
	apt=("${sudo[@]}" apt-get -q -o DPkg::Lock::Timeout=300)
	"${apt[@]}" update
	"${apt[@]}" install -y --no-install-recommends redis-server redis-tools memcached iproute2 chromium curl
	for program in "${!package[@]}"; do
		command -v "$program" >/dev/null 2>&1 || {
			echo "setup-servers: $program is still missing after apt-get install" >&2
			exit 1
		}
	done
fi

# Where an init system ran a package's postinst, its service may be up (on
# 6379 or 11211) and enabled at boot. Stop and disable it; nothing needs it.
for service in redis-server memcached; do
	if [[ -d /run/systemd/system ]]; then
		"${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
	elif [[ -x /etc/init.d/$service ]] && command -v service >/dev/null 2>&1; then
		if "${sudo[@]}" service "$service" status >/dev/null 2>&1; then
			"${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
		fi
	fi
done
