#!/usr/bin/env bash
# Installs the browser of the explorer's browser test (tests/test_explorer_browser.py): Debian's
# chromium and chromium-driver packages. Needs root (CI runs as root) and Debian's package
# registry; does nothing when both are already installed. Exit status: 0 when both are there
# afterwards, 1 otherwise (the test then skips and says why).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "install_browser: chromium and chromedriver already installed"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install_browser: run as root (apt-get install chromium chromium-driver)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
chromium --version
chromedriver --version
