#!/usr/bin/env bash
# Installs what the Redis compatibility tests run: redis-server (the
# reference the tests are checked against with COMPAT_TARGET=redis),
# redis-cli and redis-benchmark, from Debian's redis-server and
# redis-tools packages.
#
# Idempotent: with all three programs present it installs nothing. Either
# way it leaves the package's own redis-server service stopped: the tests
# start their own servers on ephemeral ports, and port 6379 must stay free
# for `go run ./cmd/sessiond`.
#
# Called from scripts/test.sh; runs as root or through sudo.
set -euo pipefail

missing=()
for program in redis-server redis-cli redis-benchmark; do
	command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

if ((${#missing[@]} > 0)); then
	echo "setup-redis: installing redis-server redis-tools (missing: ${missing[*]})"
	export DEBIAN_FRONTEND=noninteractive
	# Another apt-get may hold the lock (a parallel setup step): wait for it
	# rather than fail.
	apt=("${sudo[@]}" apt-get -q -o DPkg::Lock::Timeout=300)
	"${apt[@]}" update
	"${apt[@]}" install -y --no-install-recommends redis-server redis-tools
	for program in redis-server redis-cli redis-benchmark; do
		command -v "$program" >/dev/null 2>&1 || {
			echo "setup-redis: $program is still missing after apt-get install" >&2
			exit 1
		}
	done
fi

# Where an init system ran the package's postinst, the service may be up
# on 6379 and enabled at boot. Stop and disable it; nothing needs it.
if [[ -d /run/systemd/system ]]; then
	"${sudo[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
elif [[ -x /etc/init.d/redis-server ]] && command -v service >/dev/null 2>&1; then
	if "${sudo[@]}" service redis-server status >/dev/null 2>&1; then
		"${sudo[@]}" service redis-server stop >/dev/null 2>&1 || true
	fi
fi
