#!/usr/bin/env bash
# Chromium for tests/browser (driven by Playwright with executable_path=/usr/bin/chromium;
# `playwright install` is never used). Idempotent and quiet; needs root on Debian/Ubuntu.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x /usr/bin/chromium
