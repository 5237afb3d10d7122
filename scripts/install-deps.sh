#!/usr/bin/env bash
# Installs the system packages the tests use, from Debian's archive. Quick when
# everything is already there; needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  chromium               # the preview page is tested in headless Chromium
  dosfstools             # mkfs.vfat, fsck.vfat: FAT images (fusefat, and kernel vfat in the guest)
  exfatprogs             # mkfs.exfat, fsck.exfat: the exFAT image the guest backs up into
  e2fsprogs              # mkfs.ext4, e2fsck, debugfs: the guest's ext4 images, read back without a mount
  sqlite3                # the guest reads DEST's manifest with the sqlite3 shell
  mtools                 # mcopy: reads the guest's FAT image back on the host without a mount
  fusefat                # FAT through FUSE: no hard links, no RENAME_NOREPLACE
  ntfs-3g                # NTFS through FUSE (and mkntfs)
  libimage-exiftool-perl # fixtures and the sort benchmark's peer
  udev                   # udevadm: the auto-backup rule is tested with udevadm test
  systemd                # systemd-analyze verify checks the installed units
  g++                    # libfuzzer-sys compiles libFuzzer (C++) for the fuzz smoke
  util-linux             # flock(1) and unshare(1) (essential on Debian; listed because tests need them)
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo_if_needed=()
  [ "$(id -u)" -eq 0 ] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_if_needed[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
