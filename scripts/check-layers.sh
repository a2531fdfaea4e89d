#!/usr/bin/env bash
# The layer check: each folder may use only the folders before it in the
# list (base inspect rules fwd appliance). Fails on
#  - an #include "X/..." of a later folder (file:line named), and
#  - a symbol a folder's archive needs that only a later folder's archive
#    defines (a call upward that an include trick could hide).
# Usage: check-layers.sh BUILD LAYER...   (archives BUILD/libLAYER.a)
set -u
build=$1; shift
layers=("$@")
nm=${NM:-nm}
rc=0
rank() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }

for i in "${!layers[@]}"; do
	d=${layers[$i]}
	while IFS=: read -r file line inc; do
		[ -n "$file" ] || continue
		to=${inc#*\"}; to=${to%%/*}
		r=$(rank "$to")
		if [ "$r" -gt "$i" ]; then
			echo "layers: $file:$line: $d/ includes $to/ (a later layer): ${inc}" >&2
			rc=1
		fi
	done < <(grep -Hn '^#include "[a-z]*/' "$d"/*.[ch] 2>/dev/null)
done

defined() { "$nm" --defined-only -g "$1" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }
undefined() { "$nm" -u -g "$1" 2>/dev/null | awk 'NF == 2 { print $2 }' | sort -u; }
for i in "${!layers[@]}"; do
	lib="$build/lib${layers[$i]}.a"
	[ -f "$lib" ] || { echo "layers: $lib missing" >&2; rc=1; continue; }
	for ((j = i + 1; j < ${#layers[@]}; j++)); do
		up="$build/lib${layers[$j]}.a"
		[ -f "$up" ] || continue
		bad=$(comm -12 <(undefined "$lib") <(defined "$up"))
		if [ -n "$bad" ]; then
			echo "layers: ${layers[$i]}/ uses symbols of ${layers[$j]}/ (a later layer):" $bad >&2
			rc=1
		fi
	done
done
exit $rc
