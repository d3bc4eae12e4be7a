#!/usr/bin/env bash
# Debian's chromium for the @pytest.mark.browser tests (driven by Playwright's
# Python package with executable_path; never `playwright install`).
# No-op when /usr/bin/chromium is there. Needs root (or sudo) for apt.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get; install chromium yourself (browser tests will skip)" >&2
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        echo "install-browser: not root and no sudo; browser tests will skip" >&2
        exit 0
    fi
fi
echo "install-browser: apt-get install chromium" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
