/* SPDX-License-Identifier: MIT */
/*
 * Saving the live group index as a groups file (include/pickup/groups_save.h,
 * docs/groups.md "Saving"): the way changes made through the control socket
 * survive a restart.
 *
 * The file is produced with libyaml's emitter, not printf, so that quoting is
 * YAML's own: a number "*801" must not be read back as an alias, "#12" not
 * as a comment, a name "null" not as YAML's null, and a name with ": " or
 * quotes must stay one scalar. On top of the emitter's own analysis we force
 * double quotes where the loader (control/groups_conf.c) would otherwise see
 * something else than the text: every group number, the pickup code and the
 * directed prefix (all of them may start with * or #; plain digits would
 * do, quoting them all keeps the file uniform), and any value spelled like
 * YAML's null (empty, ~, null).
 *
 * Writing is atomic (temporary file in the same directory, fsync, rename,
 * fsync of the directory): a crash leaves the old file or the new one, never
 * half a file.
 *
 * Threading: control plane only. The view must stay valid for the whole
 * call (the single writer thread between its changes); nothing here is
 * called by workers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yaml.h>

#include "pickup/groups_save.h"

/* ---- emitting ---- */

struct gs {
	yaml_emitter_t em;
	FILE *f;
	char *err;
	size_t errlen;
	int rc; /* first error, negative errno */
};

static int gs_fail(struct gs *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int gs_fail(struct gs *s, int rc, const char *fmt, ...)
{
	va_list ap;

	if (s->rc != 0)
		return s->rc;
	s->rc = rc;
	if (s->err != NULL && s->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(s->err, s->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Hand one initialised event to the emitter (which owns it from then on). */
static int gs_emit(struct gs *s, yaml_event_t *ev)
{
	errno = 0;
	if (yaml_emitter_emit(&s->em, ev))
		return 0;
	if (s->em.error == YAML_WRITER_ERROR || ferror(s->f)) {
		int e = errno != 0 ? errno : EIO;

		return gs_fail(s, -e, "write failed: %s", strerror(e));
	}
	if (s->em.error == YAML_MEMORY_ERROR)
		return gs_fail(s, -ENOMEM, "out of memory");
	return gs_fail(s, -EINVAL, "YAML emitter: %s", s->em.problem ? s->em.problem : "error");
}

/* What the loader reads as YAML's null when written plain (groups_conf.c
 * cf_is_null): such text must be quoted to stay text. */
static bool gs_plain_is_null(struct pk_str t)
{
	return t.len == 0 || pk_str_eq(t, PK_STR_LIT("~")) || pk_str_eq(t, PK_STR_LIT("null")) ||
	       pk_str_eq(t, PK_STR_LIT("Null")) || pk_str_eq(t, PK_STR_LIT("NULL"));
}

/* A scalar: quoted = force double quotes, otherwise the emitter chooses
 * (plain where YAML allows it) unless the text would read as null. */
static int gs_scalar(struct gs *s, struct pk_str t, bool quoted, const char *what)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = quoted || gs_plain_is_null(t) ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
								  : YAML_ANY_SCALAR_STYLE;

	/* libyaml refuses text that is not UTF-8 (it checks here). */
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)(t.p ? t.p : ""),
					  (int)t.len, 1, 1, style))
		return gs_fail(s, -EINVAL, "%s is not valid UTF-8 (or out of memory)", what);
	return gs_emit(s, &ev);
}

static int gs_cstr(struct gs *s, const char *t)
{
	return gs_scalar(s, pk_str_make(t, strlen(t)), false, t);
}

static int gs_seq_start(struct gs *s, bool flow)
{
	yaml_event_t ev;

	if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						  flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE))
		return gs_fail(s, -ENOMEM, "out of memory");
	return gs_emit(s, &ev);
}

static int gs_seq_end(struct gs *s)
{
	yaml_event_t ev;

	yaml_sequence_end_event_initialize(&ev);
	return gs_emit(s, &ev);
}

static int gs_map_start(struct gs *s)
{
	yaml_event_t ev;

	if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
		return gs_fail(s, -ENOMEM, "out of memory");
	return gs_emit(s, &ev);
}

static int gs_map_end(struct gs *s)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	return gs_emit(s, &ev);
}

static int gs_settings(struct gs *s, const struct pk_groups_settings *st)
{
	char num[16];
	int rc;

	if ((rc = gs_cstr(s, "settings")) != 0 || (rc = gs_map_start(s)) != 0 ||
	    (rc = gs_cstr(s, "domains")) != 0 || (rc = gs_seq_start(s, true)) != 0)
		return rc;
	for (uint32_t i = 0; i < st->n_domains; i++)
		if ((rc = gs_scalar(s, pk_groups_settings_domain(st, i), false, "a domain")) != 0)
			return rc;
	snprintf(num, sizeof(num), "%u", st->ring_timeout);
	if ((rc = gs_seq_end(s)) != 0 || (rc = gs_cstr(s, "pickup_code")) != 0 ||
	    (rc = gs_scalar(s, pk_groups_settings_pickup_code(st), true, "pickup_code")) != 0 ||
	    (rc = gs_cstr(s, "directed_prefix")) != 0 ||
	    (rc = gs_scalar(s, pk_groups_settings_directed_prefix(st), true, "directed_prefix")) != 0 ||
	    (rc = gs_cstr(s, "ring_timeout")) != 0 || (rc = gs_cstr(s, num)) != 0)
		return rc;
	return gs_map_end(s);
}

/* One member: "alice" / "alice@other.domain" when it has both rights (the
 * compact form), else {user: ..., rights: [ring] or [pickup]}. */
static int gs_member(struct gs *s, const struct pk_groups_view *v, const struct pk_group *gr,
		     const struct pk_group_ref *ref)
{
	const struct pk_groups_settings *st = pk_groups_view_settings(v);
	const struct pk_group_user *u = pk_groups_find_uid(v, ref->id);
	char aor[PK_GROUPS_USER_MAX + 1 + PK_GROUPS_DOMAIN_MAX + 1];
	struct pk_str d;
	size_t n;
	int rc;

	if (u == NULL || u->domain >= st->n_domains || u->user.len > PK_GROUPS_USER_MAX ||
	    (ref->rights & PK_RIGHTS_ALL) == 0)
		return gs_fail(s, -EINVAL, "group %.*s: member with user id %u is not in the view",
			       (int)gr->number.len, gr->number.p, ref->id);
	memcpy(aor, u->user.p, u->user.len);
	n = u->user.len;
	if (u->domain != 0) { /* the default domain goes without "@domain" */
		d = pk_groups_settings_domain(st, u->domain);
		aor[n++] = '@';
		memcpy(aor + n, d.p, d.len);
		n += d.len;
	}
	if ((ref->rights & PK_RIGHTS_ALL) == PK_RIGHTS_ALL)
		return gs_scalar(s, pk_str_make(aor, n), false, "a member");
	if ((rc = gs_map_start(s)) != 0 || (rc = gs_cstr(s, "user")) != 0 ||
	    (rc = gs_scalar(s, pk_str_make(aor, n), false, "a member")) != 0 ||
	    (rc = gs_cstr(s, "rights")) != 0 || (rc = gs_seq_start(s, true)) != 0 ||
	    (rc = gs_cstr(s, ref->rights & PK_RIGHT_RING ? "ring" : "pickup")) != 0 ||
	    (rc = gs_seq_end(s)) != 0)
		return rc;
	return gs_map_end(s);
}

static int gs_group(struct gs *s, const struct pk_groups_view *v, const struct pk_group *gr)
{
	int rc;

	if ((rc = gs_map_start(s)) != 0 || (rc = gs_cstr(s, "number")) != 0 ||
	    (rc = gs_scalar(s, gr->number, true, "a number")) != 0)
		return rc;
	if (gr->name.len > 0) {
		char what[48];

		snprintf(what, sizeof(what), "the name of group %.*s", (int)gr->number.len, gr->number.p);
		if ((rc = gs_cstr(s, "name")) != 0 || (rc = gs_scalar(s, gr->name, false, what)) != 0)
			return rc;
	}
	if (gr->n_members > 0) {
		if ((rc = gs_cstr(s, "members")) != 0 || (rc = gs_seq_start(s, false)) != 0)
			return rc;
		for (uint32_t i = 0; i < gr->n_members; i++)
			if ((rc = gs_member(s, v, gr, &gr->members[i])) != 0)
				return rc;
		if ((rc = gs_seq_end(s)) != 0)
			return rc;
	}
	return gs_map_end(s);
}

static int gs_document(struct gs *s, const struct pk_groups *g, const struct pk_groups_view *v)
{
	struct pk_groups_params params;
	yaml_event_t ev;
	int rc;

	pk_groups_params_get(g, &params);
	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || (rc = gs_emit(s, &ev)) != 0 ||
	    !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    (rc = gs_emit(s, &ev)) != 0 || (rc = gs_map_start(s)) != 0)
		return s->rc != 0 ? s->rc : gs_fail(s, -ENOMEM, "out of memory");
	if ((rc = gs_settings(s, pk_groups_view_settings(v))) != 0 || (rc = gs_cstr(s, "groups")) != 0 ||
	    (rc = gs_seq_start(s, false)) != 0)
		return rc;
	/* Ascending group id: a restart that loads this file hands out ids in
	 * file order, so groups keep their relative id order. */
	for (uint32_t gid = 0; gid < params.max_groups; gid++) {
		const struct pk_group *gr = pk_groups_find_gid(v, gid);

		if (gr != NULL && (rc = gs_group(s, v, gr)) != 0)
			return rc;
	}
	if ((rc = gs_seq_end(s)) != 0 || (rc = gs_map_end(s)) != 0)
		return rc;
	if (!yaml_document_end_event_initialize(&ev, 1) || (rc = gs_emit(s, &ev)) != 0)
		return s->rc != 0 ? s->rc : gs_fail(s, -ENOMEM, "out of memory");
	yaml_stream_end_event_initialize(&ev);
	if ((rc = gs_emit(s, &ev)) != 0)
		return rc;
	if (!yaml_emitter_flush(&s->em))
		return gs_fail(s, errno != 0 ? -errno : -EIO, "write failed: %s",
			       strerror(errno != 0 ? errno : EIO));
	return 0;
}

int pk_groups_save_stream(const struct pk_groups *g, const struct pk_groups_view *v, FILE *f,
			  char *err, size_t errlen)
{
	struct gs s = { .f = f, .err = err, .errlen = errlen };
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	errno = 0;
	if (fprintf(f, "# Written by pickupd at %s from its live groups; comments of the previous "
		       "file are not kept.\n", stamp) < 0) {
		int e = errno != 0 ? errno : EIO;

		return gs_fail(&s, -e, "write failed: %s", strerror(e));
	}
	if (!yaml_emitter_initialize(&s.em))
		return gs_fail(&s, -ENOMEM, "out of memory");
	yaml_emitter_set_output_file(&s.em, f);
	yaml_emitter_set_unicode(&s.em, 1); /* names in UTF-8 as written, not \u escapes */
	yaml_emitter_set_width(&s.em, -1);  /* never fold a long scalar */
	yaml_emitter_set_indent(&s.em, 2);
	rc = gs_document(&s, g, v);
	yaml_emitter_delete(&s.em);
	return rc;
}

/* ---- atomic replacement of the file ---- */

static int save_fail(char *err, size_t errlen, const char *path, int rc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int save_fail(char *err, size_t errlen, const char *path, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err != NULL && errlen > 0) {
		n = snprintf(err, errlen, "%s: ", path);
		if (n >= 0 && (size_t)n < errlen) {
			va_start(ap, fmt);
			vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

/* fsync the directory holding file, so that the rename is durable.
 * Filesystems that cannot sync a directory (EINVAL) are not an error. */
static int fsync_dir_of(const char *file)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file, '/');
	int fd, rc = 0;

	if (slash == NULL) {
		strcpy(dir, ".");
	} else if (slash == file) {
		strcpy(dir, "/");
	} else {
		if ((size_t)(slash - file) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, file, (size_t)(slash - file));
		dir[slash - file] = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = -errno;
	close(fd);
	return rc;
}

int pk_groups_save(const struct pk_groups *g, const struct pk_groups_view *v, const char *path,
		   char *err, size_t errlen)
{
	char tmp[PATH_MAX], reason[256];
	char *resolved = NULL;
	const char *target = path;
	struct stat st;
	bool exists = false;
	mode_t mode = 0644;
	FILE *f = NULL;
	int fd = -1, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* A symbolic link stays a link: replace the file it points to. */
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		resolved = realpath(path, NULL);
		if (resolved == NULL)
			return save_fail(err, errlen, path, -errno, "cannot follow the symbolic link: %s",
					 strerror(errno));
		target = resolved;
	}
	if (stat(target, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			rc = save_fail(err, errlen, path, -EINVAL, "not a regular file");
			goto out;
		}
		exists = true;
		mode = st.st_mode & 07777;
	} else if (errno != ENOENT) {
		rc = save_fail(err, errlen, path, -errno, "%s", strerror(errno));
		goto out;
	}
	rc = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", target, (long)getpid());
	if (rc < 0 || (size_t)rc >= sizeof(tmp)) {
		rc = save_fail(err, errlen, path, -ENAMETOOLONG, "path too long");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 && errno == EEXIST) {
		/* Only this process uses this name and it always removes it: the
		 * file is left over from a crashed process that had the same pid
		 * (a container's pid 1). */
		if (unlink(tmp) == 0)
			fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		else
			errno = EEXIST;
	}
	if (fd < 0) {
		rc = save_fail(err, errlen, path, -errno, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* From here on every error removes tmp. */
	if (fchmod(fd, mode) != 0) { /* the umask must not narrow the mode */
		rc = save_fail(err, errlen, path, -errno, "cannot set the mode of %s: %s", tmp,
			       strerror(errno));
		goto fail;
	}
	/* Keep the owner when we may (root); an unprivileged daemon cannot give
	 * files away, and then the file becomes its own. */
	if (exists && (st.st_uid != geteuid() || st.st_gid != getegid()) &&
	    fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM) {
		rc = save_fail(err, errlen, path, -errno, "cannot set the owner of %s: %s", tmp,
			       strerror(errno));
		goto fail;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		rc = save_fail(err, errlen, path, -errno, "%s", strerror(errno));
		goto fail;
	}
	fd = -1; /* owned by f now */
	if ((rc = pk_groups_save_stream(g, v, f, reason, sizeof(reason))) != 0) {
		rc = save_fail(err, errlen, path, rc, "%s", reason);
		goto fail;
	}
	errno = 0;
	if (fflush(f) != 0 || ferror(f)) {
		int e = errno != 0 ? errno : EIO;

		rc = save_fail(err, errlen, path, -e, "write failed: %s", strerror(e));
		goto fail;
	}
	if (fsync(fileno(f)) != 0) {
		rc = save_fail(err, errlen, path, -errno, "fsync failed: %s", strerror(errno));
		goto fail;
	}
	rc = fclose(f);
	f = NULL;
	if (rc != 0) {
		rc = save_fail(err, errlen, path, -errno, "close failed: %s", strerror(errno));
		goto fail;
	}
	if (rename(tmp, target) != 0) {
		rc = save_fail(err, errlen, path, -errno, "cannot rename %s over it: %s", tmp,
			       strerror(errno));
		goto fail;
	}
	/* The new content is in place; a failure here means it might not
	 * survive a crash of the machine. */
	if ((rc = fsync_dir_of(target)) != 0)
		rc = save_fail(err, errlen, path, rc,
			       "saved, but fsync of the directory failed: %s", strerror(-rc));
	goto out;
fail:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(resolved);
	return rc;
}
