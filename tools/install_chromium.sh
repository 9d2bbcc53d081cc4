#!/bin/sh
# `make test`'s browser step: Debian's Chromium for tests/test_serve_browser.py, installed with apt when it is
# missing and this machine allows it (root, apt-get). It never fails the build: when it cannot install, it
# says why, and the browser tests skip with the same reason. (Not `playwright install`: it downloads from a
# CDN; the Debian package comes from the distribution's mirrors.)
CHROMIUM="${CONVGRAD_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
skip="the browser tests (tests/test_serve_browser.py) will skip"
if [ "$(id -u)" != 0 ]; then
    echo "make: no Chromium at $CHROMIUM and not root, so no apt-get install chromium: $skip"
elif ! command -v apt-get >/dev/null 2>&1; then
    echo "make: no Chromium at $CHROMIUM and no apt-get on this machine: $skip"
else
    echo "make: installing Debian's chromium for the browser tests (apt-get install chromium)"
    # the package lists may be missing (fresh containers) or stale (a 404 on the .deb): update once then
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/tmp/convgrad-chromium.log 2>&1 ||
       { apt-get update -q >>/tmp/convgrad-chromium.log 2>&1 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >>/tmp/convgrad-chromium.log 2>&1; }; then
        if [ -x "$CHROMIUM" ]; then
            echo "make: $("$CHROMIUM" --version 2>/dev/null) installed"
        else
            echo "make: the chromium package installed no $CHROMIUM: $skip"
        fi
    else
        echo "make: apt-get install chromium failed ($(tail -n 1 /tmp/convgrad-chromium.log)): $skip"
    fi
fi
exit 0
