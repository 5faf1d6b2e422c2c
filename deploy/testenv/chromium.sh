#!/usr/bin/env bash
# Install what the browser tests (test/browser, test/console) need:
# headless Chromium, a CJK font so Chinese labels render and print, and
# poppler-utils (pdftotext) to read the printed PDF back.
#
# Idempotent: when chromium, a Noto CJK font and pdftotext are present,
# nothing is done. Otherwise the missing Debian/Ubuntu packages (chromium,
# fonts-noto-cjk, poppler-utils) are installed with apt-get (as root, or
# through sudo).
#
# Usage: deploy/testenv/chromium.sh
set -euo pipefail

log() { printf 'testenv-chromium: %s\n' "$*" >&2; }
# shellcheck source=deploy/testenv/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

missing=()
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if ! ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 &&
	! { command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; }; then
	missing+=(fonts-noto-cjk)
fi
if ! command -v pdftotext >/dev/null 2>&1; then missing+=(poppler-utils); fi

if [ ${#missing[@]} -eq 0 ]; then
	log "chromium, a CJK font and pdftotext are installed; nothing to do"
	exit 0
fi

apt_install "or point the browser tests at a Chromium with MEDGATE_CHROMIUM=/path/to/chromium" "${missing[@]}"
