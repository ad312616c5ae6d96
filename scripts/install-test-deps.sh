#!/usr/bin/env bash
# Installs what digesta's tests need that npm does not bring: a real registry server (Debian's docker-registry,
# distribution 2.8), htpasswd for its Basic-auth run, openssl for its token-auth run, zstd for zstd layers,
# ripgrep for the scan benchmark's reference figure, redis-server for fleet mode (queue, schedule, caches), rpm
# (rpm, rpmbuild), whose databases and rpm.vercmp the package-diff tests check digesta against, sqlite3 to hold a
# reader on those databases (so rpm leaves its write-ahead log), db5.3-util to write Berkeley DB ones, and tinyproxy,
# the forward proxy registry and GitHub traffic is sent through in the proxy tests.
# Needs root (or sudo) on Debian/Ubuntu.
set -euo pipefail
declare -A package_of=([docker-registry]=docker-registry [redis-server]=redis-server [htpasswd]=apache2-utils [openssl]=openssl [zstd]=zstd [rg]=ripgrep [rpm]=rpm [rpmbuild]=rpm [sqlite3]=sqlite3 [db5.3_load]=db5.3-util [tinyproxy]=tinyproxy)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing ${missing[*]}" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# The package starts a system registry on :5000; the tests start their own on free ports.
$sudo systemctl disable --now docker-registry >/dev/null 2>&1 || true
# Likewise a system Redis on :6379.
$sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
# And a system tinyproxy on :8888.
$sudo systemctl disable --now tinyproxy >/dev/null 2>&1 || true
