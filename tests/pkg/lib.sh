# Shared by tests/pkg/test_*.sh (run by tests/net/run.sh: exit 0 pass,
# 77 skip, else fail; under CI=true a skip is a failure).
# DEB: the package under test (make pkg-test passes $(BUILD)/regwall_*.deb).
set -euo pipefail
PKG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$PKG_DIR/../../build}
: "${DEB:?DEB=path of the .deb under test (make pkg-test sets it)}"
[ -f "$DEB" ] || { echo "no package $DEB (make deb)"; exit 1; }

skip() {
	echo "SKIP $*"
	exit 77
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, namespaces)"
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c missing (scripts/install-deps.sh)"
	done
}

# The clean root: Debian bookworm, essential packages plus apt, made by
# mmdebstrap from this machine's own apt sources (so no mirror name lives
# in the repository). Built once and kept as a tarball in $BUILD/pkg/.
pkg_base_tar() {
	local tar=$BUILD/pkg/bookworm-apt.tar
	if [ ! -s "$tar" ]; then
		local src=() f
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
			/etc/apt/sources.list.d/*.sources; do
			[ -s "$f" ] && src+=("$f")
		done
		[ ${#src[@]} -gt 0 ] || skip "no apt sources on this machine"
		mkdir -p "$BUILD/pkg"
		echo "making the base root (mmdebstrap bookworm, variant apt) once: $tar" >&2
		mmdebstrap --quiet --variant=apt --mode=root --format=tar bookworm "$tar.tmp" "${src[@]}" </dev/null >&2 ||
			{ rm -rf "$tar.tmp"; echo "mmdebstrap failed"; exit 1; }
		mv "$tar.tmp" "$tar"
	fi
	echo "$tar"
}
