/* SPDX-License-Identifier: MIT */
/*
 * Opening a configuration file by its path (the engine settings file and
 * the groups file), shared by their two loaders. Only a regular file is
 * read: fopen of a FIFO nobody writes to blocks until someone does, and a
 * character device (/dev/zero, a terminal) is read for as long as it gives
 * data, so a path pointing at one would hang pickupd at start-up, or its
 * control thread at a reload, with nothing in the log. The open is made
 * with O_NONBLOCK so that it returns at once whatever the path is, fstat
 * says what it opened, and anything but a regular file is refused.
 *
 * Control plane only.
 */
#ifndef PICKUP_CONF_FILE_H
#define PICKUP_CONF_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* What pk_conf_file_open refused, for "not a regular file (a FIFO)":
 * NULL for a regular file, a directory (EISDIR says it) or nothing seen
 * (mode 0: the open failed). A socket never gets here: open(2) of one
 * fails with ENXIO. */
static inline const char *pk_conf_file_kind(mode_t mode)
{
	if (mode == 0 || S_ISREG(mode) || S_ISDIR(mode))
		return NULL;
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a special file";
}

/*
 * Open path for reading, refusing anything but a regular file (symbolic
 * links are followed). Returns the stream, or NULL with errno set: from
 * open(2) or fstat(2), EISDIR for a directory, EINVAL for any other kind
 * of file (a FIFO, a device: name it with pk_conf_file_kind(*mode)).
 * *mode, when not NULL, is what fstat saw, or 0 when the open failed.
 * O_NONBLOCK stays set: it changes nothing when reading a regular file.
 * O_NOCTTY: a terminal named by mistake must not become the daemon's
 * controlling terminal.
 */
static inline FILE *pk_conf_file_open(const char *path, mode_t *mode)
{
	struct stat st;
	FILE *f;
	int fd, e;

	if (mode != NULL)
		*mode = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (mode != NULL)
		*mode = st.st_mode;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail;
	}
	f = fdopen(fd, "rb");
	if (f == NULL)
		goto fail;
	return f;
fail:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

#endif
