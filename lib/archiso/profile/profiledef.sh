#!/usr/bin/env bash
# virtdev's archiso profile: a small live system whose only job is to install
# virtdev's Arch Linux base on the two empty disks of the installer machine
# and power it off. mkarchiso sources this file.
# shellcheck disable=SC2034

iso_name="virtdev"
iso_label="VIRTDEV"
iso_publisher="virtdev"
iso_application="virtdev Arch Linux base installer"
iso_version="$(date --date="@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y.%m.%d)"
install_dir="arch"
buildmodes=('iso')
# The installer machine boots OVMF, so UEFI is the only boot mode.
bootmodes=('uefi.systemd-boot')
pacman_conf="pacman.conf"
airootfs_image_type="squashfs"
airootfs_image_tool_options=('-comp' 'zstd')
# mkarchiso copies airootfs without modes; these are the ones that matter.
file_permissions=(
  ["/root"]="0:0:750"
  ["/usr/local/bin/virtdev-install"]="0:0:755"
)
