#!/usr/bin/env bash
# Drives the bash completion of regwallctl and regwalld as bash would
# (words, cursor) and checks the candidates; run by test_cli. Exit 77 when
# bash-completion is not installed.
set -u
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || exit 77
# shellcheck disable=SC1090
source "$bc"
# shellcheck disable=SC1091
source "$(dirname "$0")/../../appliance/regwall.bash-completion"
fail=0
expect() { # expect FUNC LINE WANT
	local f=$1 want=$3
	COMP_LINE=$2
	COMP_POINT=${#COMP_LINE}
	read -ra COMP_WORDS <<<"$COMP_LINE"
	[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	$f
	if [ "${COMPREPLY[*]}" != "$want" ]; then
		echo "completion of '$2': got '${COMPREPLY[*]}', want '$want'"
		fail=1
	fi
}
expect _regwallctl "regwallctl " "status network ban counters reload explain peer"
expect _regwallctl "regwallctl peer " "add del list"
expect _regwallctl "regwallctl peer add alice --q" "--qr"
expect _regwallctl "regwallctl explain --li" "--listener"
expect _regwallctl "regwallctl net" "network"
expect _regwallctl "regwallctl network " "add del list"
expect _regwallctl "regwallctl -s /tmp/x.sock ban " "add del list"
expect _regwallctl "regwallctl --js" "--json"
expect _regwallctl "regwallctl status " ""
# network names come from `regwallctl --json network list` (here a stand-in
# answering as regwalld does: the keys holding a prefix list, not "cidr")
regwallctl() {
	echo '{"ok":true,"networks":{"office":[{"cidr":"203.0.113.0/25","source":"file"},{"cidr":"192.0.2.0/28","source":"live"}],"ci-2":[]}}'
}
expect _regwallctl "regwallctl network add " "office ci-2"
expect _regwallctl "regwallctl network list o" "office"
unset -f regwallctl
expect _regwalld "regwalld --dump" "--dump-rules --dump-netlink"
expect _regwalld "regwalld --dump-n" "--dump-netlink"
expect _regwalld "regwalld --check" "--check-config"
expect _regwalld "regwalld --li" "--list-settings"
exit $fail
