#!/usr/bin/env bash
# The manual pages (docs/man/) against the code; run by test_manual from the
# repository root with BUILD set. One check per call:
#   settings       every path `regwalld --list-settings` prints is an entry
#                  (".It Cm PATH") of regwall.conf.5's SETTINGS section, and
#                  every entry there is a path it prints; none twice
#   commands FILE  the control commands in FILE (one a line: the protocol's
#                  table, written out by test_manual) against the entries
#                  (".It Cm WORDS ...") of regwallctl.8's COMMANDS section
#   options        every long option a program's --help names appears in
#                  its page as "Fl \-name" (regwalld.8, regwallctl.8)
#   render         each page renders without a warning (man -l, groff -ww);
#                  exit 77 when man or groff is not installed
# Prints each difference as "PAGE[:LINE]: what is missing where"; exit 1 if
# there is one.
set -u
dir=${MAN_DIR:-docs/man}
fail=0

# entries PAGE SECTION: "LINE<TAB>WORDS" for each ".It Cm" of .Sh SECTION,
# WORDS being the arguments before the first macro (Ar, Op, Fl, ...)
entries() {
	awk -v sec="$2" '
		/^\.Sh / { in_sec = ($2 == sec); next }
		in_sec && /^\.It Cm / {
			s = ""
			for (i = 3; i <= NF && $i !~ /^[A-Z][a-z]$/; i++)
				s = s (s == "" ? "" : " ") $i
			print NR "\t" s
		}' "$1"
}

# compare PAGE SECTION WHAT_CODE CODE_LIST: both directions, duplicates
compare() {
	local page=$dir/$1 sec=$2 what=$3 code=$4 doc
	doc=$(entries "$page" "$sec")
	if [ -z "$doc" ]; then
		echo "$page: no '.It Cm' entries in section $sec"
		fail=1
		return
	fi
	awk -F'\t' -v page="$page" -v sec="$sec" -v what="$what" '
		FNR == NR { if ($0 != "" && code[$0]++ == 0) order[++n] = $0; next }
		{
			if (doc[$2]++) { print page ":" $1 ": \047" $2 "\047 is documented twice"; bad = 1 }
			if (!($2 in code)) {
				print page ":" $1 ": documents \047" $2 "\047, which " what " does not have"
				bad = 1
			}
		}
		END {
			for (i = 1; i <= n; i++) {
				w = order[i]
				if (code[w] > 1) { print what " lists \047" w "\047 " code[w] " times"; bad = 1 }
				if (!(w in doc)) {
					print page ": missing entry \047.It Cm " w "\047 in " sec " (" what " has it)"
					bad = 1
				}
			}
			exit bad
		}' <(printf '%s\n' "$code") <(printf '%s\n' "$doc") || fail=1
}

case ${1:-} in
settings)
	bin=${BUILD:-build}/regwalld
	list=$("$bin" --list-settings) || { echo "$bin --list-settings failed"; exit 1; }
	[ -n "$list" ] || { echo "$bin --list-settings printed nothing"; exit 1; }
	compare regwall.conf.5 SETTINGS "regwalld --list-settings" "$list"
	;;
commands)
	[ -r "${2:-}" ] || { echo "usage: $0 commands FILE"; exit 2; }
	compare regwallctl.8 COMMANDS "the control protocol (rw_ctl_names[])" "$(cat "$2")"
	;;
options)
	for prog in regwalld regwallctl; do
		page=$dir/$prog.8
		help=$("${BUILD:-build}/$prog" --help) || { echo "$prog --help failed"; exit 1; }
		for opt in $(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			# the page writes --dump-rules as "Fl \-dump\-rules"
			esc=$(printf '%s' "${opt#--}" | sed 's/-/\\\\-/g')
			grep -qE "Fl \\\\-$esc( |\$)" "$page" ||
				{ echo "$page: no 'Fl \\-$esc' for $opt ($prog --help has it)"; fail=1; }
		done
	done
	;;
render)
	command -v man >/dev/null && command -v groff >/dev/null || exit 77
	for f in "$dir"/*.[1-8]; do
		out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
		[ -z "$out" ] || { printf '%s: man -l warns:\n%s\n' "$f" "$out"; fail=1; }
		out=$(groff -mandoc -ww -z "$f" 2>&1)
		[ -z "$out" ] || { printf '%s: groff -ww warns:\n%s\n' "$f" "$out"; fail=1; }
		# an empty rendering would pass the two above
		LC_ALL=C.UTF-8 MANWIDTH=80 man -E UTF-8 -l "$f" 2>/dev/null | grep -q '^NAME' ||
			{ echo "$f: renders without a NAME section"; fail=1; }
	done
	;;
*)
	echo "usage: $0 settings | commands FILE | options | render"
	exit 2
	;;
esac
exit $fail
