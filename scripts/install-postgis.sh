#!/usr/bin/env bash
# Install PostgreSQL 15 + PostGIS 3 from Debian/Ubuntu packages when missing.
# Idempotent: does nothing (and needs no network) when already installed.
set -euo pipefail

PACKAGES=(postgresql-15-postgis-3)

missing=()
for pkg in "${PACKAGES[@]}"; do
    # dpkg -s exits non-zero for unknown or removed-but-not-purged packages.
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

# Use sudo only when we are not root and sudo exists.
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-postgis: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "install-postgis: installing ${missing[*]} ..." >&2
# apt-get update can hit a mirror mid-sync; retry a few times.
for attempt in 1 2 3; do
    if "${SUDO[@]}" apt-get update -qq; then break; fi
    [ "$attempt" -eq 3 ] && { echo "install-postgis: apt-get update failed" >&2; exit 1; }
    sleep 5
done
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
