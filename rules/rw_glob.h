/* Repository globs of roles, e.g. the role string "push:team-a/" + "*".
 *
 *   *     any characters within one path segment (never '/'), also none
 *   **    any characters including '/', also none
 *   other characters match themselves (globs use a-z 0-9 . _ - / and stars)
 *
 * A glob made only of stars ("*", "**") matches every repository: the
 * design's "pull:*" means "all", and reading a lone star as "top-level
 * repositories only" would surprise every admin who writes it. Otherwise
 * (examples as // lines: a slash-star would end a block comment):
 */
// "team-a/*"  matches "team-a/app", not "team-a/app/x", never "team-a"
// "team-a/**" matches "team-a/app" and "team-a/app/x", not "team-a"
// "*/app"     matches "team-a/app", not "x/team-a/app"
#ifndef RW_GLOB_H
#define RW_GLOB_H

#include <stdbool.h>

/* Whole-string match. Repository names longer than 255 never match.
 * O(len(glob) * len(name)), no recursion, no heap. */
bool rw_glob_match(const char *glob, const char *name);

/* Does the glob match every repository? */
bool rw_glob_is_all(const char *glob);

#endif
