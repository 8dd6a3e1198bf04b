# shellcheck shell=bash
# The installed layout, shared by the install and AUR checks (sourced).
#
# Both list a tree one entry a line: "MODE PATH" for a file, "link PATH ->
# TARGET" for a symbolic link, paths relative to the root, sorted. What is
# expected follows the source tree: a program for every tools/virtdev and
# tools/virtdev-* directory, a page for every man/*.scd, the three
# completions; the directories are the ones Arch (and the FHS) use.

# expected_layout SOURCE [MANSUFFIX]: what `make install PREFIX=/usr` must
# install from SOURCE. MANSUFFIX is appended to every man page (.gz where
# makepkg compresses them).
expected_layout() {
  local source=$1 mansuffix=${2:-} dir name page section
  {
    for dir in "$source"/tools/virtdev "$source"/tools/virtdev-*; do
      [ -d "$dir" ] || continue
      name=${dir##*/}
      echo "755 usr/bin/$name"
      if [ "$name" != virtdev ]; then
        echo "link usr/share/bash-completion/completions/$name -> virtdev"
        echo "link usr/share/fish/vendor_completions.d/$name.fish -> virtdev.fish"
      fi
    done
    for page in "$source"/man/*.scd; do
      [ -f "$page" ] || continue
      page=${page##*/}
      page=${page%.scd}
      section=${page##*.}
      echo "644 usr/share/man/man$section/$page$mansuffix"
    done
    echo "644 usr/share/bash-completion/completions/virtdev"
    echo "644 usr/share/zsh/site-functions/_virtdev"
    echo "644 usr/share/fish/vendor_completions.d/virtdev.fish"
  } | LC_ALL=C sort
}

# installed_layout ROOT: what is under ROOT (directories left out: they
# follow from the files).
installed_layout() {
  (cd "$1" && find . -mindepth 1 ! -type d \
    \( -type l -printf 'link %P -> %l\n' -o -printf '%m %P\n' \)) | LC_ALL=C sort
}

# compare_layout WHAT EXPECTED ACTUAL: fail, showing the difference (- for
# what is missing or different, + for what is there instead), unless the
# two listings are the same.
compare_layout() {
  local what=$1
  if ! diff -u --label expected --label "$what" "$2" "$3" >&2; then
    echo "$what: the layout above differs from the expected one (- expected, + found)" >&2
    return 1
  fi
}
