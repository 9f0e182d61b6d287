#!/usr/bin/env bash
# Installs Varnish and the xkey vmod (Debian packages `varnish` and `varnish-modules`) for the
# VarnishBackend end-to-end tests. Idempotent: does nothing when both are already present.
# Runs non-interactively as root (CI containers); uses sudo when run by another user.
set -euo pipefail

find_xkey() {
  # The vmod directory depends on the architecture (e.g. /usr/lib/x86_64-linux-gnu/varnish/vmods).
  find /usr/lib /usr/local/lib -name 'libvmod_xkey.so' -print -quit 2>/dev/null || true
}

if command -v varnishd >/dev/null 2>&1 && [ -n "$(find_xkey)" ]; then
  echo "install-varnish: varnishd and the xkey vmod are already installed ($(varnishd -V 2>&1 | head -n1))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-varnish: must run as root (or with passwordless sudo) to apt-get install varnish" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends varnish varnish-modules

if ! command -v varnishd >/dev/null 2>&1; then
  # Debian installs varnishd in /usr/sbin, which is not on every user's PATH.
  if [ -x /usr/sbin/varnishd ]; then echo "install-varnish: varnishd is at /usr/sbin/varnishd (add /usr/sbin to PATH)"; else
    echo "install-varnish: varnishd is still missing after apt-get install" >&2; exit 1
  fi
fi
if [ -z "$(find_xkey)" ]; then
  echo "install-varnish: the xkey vmod (libvmod_xkey.so) is still missing after installing varnish-modules" >&2
  exit 1
fi
echo "install-varnish: installed $(/usr/sbin/varnishd -V 2>&1 | head -n1) with xkey at $(find_xkey)"
