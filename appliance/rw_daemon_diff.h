/* What a reload changed: the running policy compared with the one that
 * replaces it, for the reload's answer and regwalld's log (issue 8.2). */
#ifndef RW_DAEMON_DIFF_H
#define RW_DAEMON_DIFF_H

#include <jansson.h>

#include "rules/rw_policy.h"

/* The changes as JSON (caller decrefs; NULL only when out of memory):
 *   {"listeners":{"added":["tls2"],"removed":[],"changed":[{"name":"https",
 *                 "what":["allow_from"]}]},
 *    "networks":{"added":[{"name":"lab","prefixes":2}],"removed":[...],
 *                "changed":[{"name":"office","added":1,"removed":0}]},
 *    "identities":{"added":[],"removed":[],"changed":["alice"]},
 *    "peers":{"added":[],"removed":[],"changed":[]},
 *    "settings":["registry","policy","limits"],
 *    "summary":["listener added: tls2","network office: +1 -0 prefixes",...]}
 * "summary" says it in words, one change a line ("nothing changed" when
 * nothing did). Live changes replayed onto both policies count as no
 * change; cert and key files are compared by path (their contents are
 * re-read by every reload anyway). */
json_t *rw_daemon_diff(const struct rw_policy *old, const struct rw_policy *new);

#endif
