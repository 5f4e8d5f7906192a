#!/usr/bin/env bash
# Debian packages the tests need: chromium + chromium-driver for the widget's browser tests.
# Installs only what is missing; without root or apt it says so and the browser tests skip.
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
[ ${#missing[@]} -eq 0 ] && { echo "System packages: present (chromium, chromium-driver)"; exit 0; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Missing Debian packages: ${missing[*]}. Install them as root (apt-get install ${missing[*]});" \
       "until then the browser tests are skipped." >&2
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
