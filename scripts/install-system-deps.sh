#!/usr/bin/env bash
# Debian packages the system tests need: chromium + chromium-driver (the widget's browser tests),
# redis-server (the resilience tests' conversation lock), postgresql and nginx (the cluster tests).
# Installs only what is missing; without root or apt it says so (with CI=true those tests then fail).
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ ${#missing[@]} -eq 0 ] && { echo "System packages: present (chromium, chromium-driver, redis-server, postgresql, nginx)"; exit 0; }
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Missing Debian packages: ${missing[*]}. Install them as root (apt-get install ${missing[*]});" \
       "until then the tests that need them are skipped (CI=true: they fail)." >&2
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
