#!/bin/sh
# Install everything mamhw needs on a fresh machine: Debian packages (as root, when missing) and the
# Python package with its test extra. Safe to run again; `make` runs it when pyproject.toml changes.
set -eu
PYTHON="${PYTHON:-python3}"
APT_PACKAGES="iverilog g++"

missing=""
for pkg in $APT_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: apt-get install$missing"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "setup: please install the Debian packages:$missing (needs root)" >&2
        exit 1
    fi
fi

echo "setup: pip install -e .[test,data,torch]"
"$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test,data,torch]"
