#!/usr/bin/env bash
# lintian on the package: no error at all, and no warning other than those
# tests/pkg/lintian-allowed names with a reason. Info and pedantic tags are
# printed, not judged.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v lintian >/dev/null || skip "lintian missing (scripts/install-deps.sh)"

# --fail-on none: the exit status then says only whether lintian ran
rc=0
out=$(lintian --fail-on none --display-info --pedantic "$DEB" 2>&1) || rc=$?
out=$(grep -v '^running with root privileges' <<<"$out" || true)
printf '%s\n' "$out"
allowed=$(grep -v '^#' "$PKG_DIR/lintian-allowed" | cut -f1 || true)
bad=0
while read -r sev pkg tag rest; do
	case $sev in
	E:)
		echo "FAIL: lintian error $tag $rest"
		bad=1
		;;
	W:)
		if ! grep -qx -- "$tag" <<<"$allowed"; then
			echo "FAIL: lintian warning $tag is not in tests/pkg/lintian-allowed"
			bad=1
		fi
		;;
	esac
done <<<"$out"
[ "$rc" -eq 0 ] || { echo "FAIL: lintian exited $rc"; exit 1; }
[ "$bad" -eq 0 ] || exit 1
echo "lintian: no errors; warnings all listed with a reason"
