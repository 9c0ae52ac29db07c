#!/usr/bin/env bash
# Debian packages the test suite needs (fonts so Qt can render text offscreen, libs Qt loads).
set -euo pipefail
need=()
for pkg in fonts-dejavu-core libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
  libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "missing Debian packages: ${need[*]} (install them with apt-get)" >&2
    exit 1
  fi
fi

# PostgreSQL for the throwaway test cluster (issue 10): initdb/pg_ctl from Debian's `postgresql`.
have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
if ! have_initdb; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Only the binaries are wanted: no system cluster on port 5432 (the tests start their own).
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      mkdir -p /etc/postgresql-common
      echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "PostgreSQL is missing: install Debian's 'postgresql' package (apt-get install" \
      "postgresql) so the tests can start a throwaway cluster" >&2
    exit 1
  fi
fi
