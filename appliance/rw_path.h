/* Small filesystem helpers of the control plane. */
#ifndef RW_PATH_H
#define RW_PATH_H

#include <sys/types.h>

/* Create the directories above the file `path` (intermediate ones 0755,
 * the file's own directory `mode`); existing ones are left as they are.
 * Returns 0 or -errno. */
int rw_path_mkparents(const char *path, mode_t mode);

/* fsync the directory holding the file `path`, so a rename into it
 * survives a power cut. Returns 0 or -errno. */
int rw_path_sync_dir(const char *path);

#endif
