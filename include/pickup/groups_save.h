/* SPDX-License-Identifier: MIT */
/*
 * Saving the live pickup groups back to a groups file (docs/groups.md,
 * "Saving"), so that changes made through the control socket survive a
 * restart. The file written is one that pk_groups_conf_load() reads back to
 * the same settings, groups (ascending group id), names, members (in the
 * group's order) and rights.
 *
 * Threading: both functions read a view (struct pk_groups_view) for as long
 * as they run, and write files: control plane only, never a worker. The
 * caller must keep the view valid for the whole call: in pickupd that is
 * the control thread (the index's single writer) calling it between its own
 * changes, with v = pk_groups_view(g). A thread that is an RCU reader may
 * also call it, staying online (no quiescent state) until it returns.
 * Cost: O(max_groups + memberships), mostly libyaml's emitter: 0.4-0.6 s
 * for 100k groups / 1M memberships (docs/groups.md "Saving"), so save after
 * a batch of changes or on request rather than after each change.
 */
#ifndef PICKUP_GROUPS_SAVE_H
#define PICKUP_GROUPS_SAVE_H

#include <stdio.h>

#include "pickup/groups.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Write view v of index g as a groups file to f, starting with a comment
 * line saying pickupd wrote it and when (UTC). Does not flush or close f.
 * 0, or a negative errno with err (if not NULL) set to the reason:
 * -ENOSPC/-EIO/... (the write failed: errno of the failing write, -EIO if
 * unknown), -ENOMEM, -EINVAL (the view holds something the file format
 * cannot express; not expected of a valid index).
 */
int pk_groups_save_stream(const struct pk_groups *g, const struct pk_groups_view *v, FILE *f,
			  char *err, size_t errlen);

/*
 * Save view v of index g to path atomically: the file is written to
 * "path.tmp.<pid>" in the same directory (created exclusively, with the
 * mode, and when permitted the owner, of the existing file, else 0644),
 * fsync'ed, renamed over path, and the directory fsync'ed. A path that is
 * a symbolic link is followed: the link stays and its target is replaced.
 * 0, or a negative errno with err (if not NULL) set to "path: reason"; on
 * error path is untouched and no temporary file is left. One exception:
 * when only the final fsync of the directory fails, path already holds the
 * new content (the message says "saved, but ..."), which may not survive a
 * crash of the machine. A temporary file left by a crashed process with the
 * same pid is replaced. Not reentrant for one path: one caller at a time.
 */
int pk_groups_save(const struct pk_groups *g, const struct pk_groups_view *v, const char *path,
		   char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* PICKUP_GROUPS_SAVE_H */
