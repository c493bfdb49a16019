/* SPDX-License-Identifier: MIT */
/*
 * Group index, writer side: transactions and the single changes (add or
 * remove a group, renumber it, rename it, add/remove a member, change a
 * member's rights).
 *
 * A change is a transaction on a private copy of the published view
 * (struct gx_txn): every block it must change (radix nodes on the path, a
 * hash segment, the group and user objects) is copied once, edited in
 * place while private, and the originals are listed as retired. Commit
 * publishes the new view with one release store and hands the retired list
 * to pk_rcu_defer. A change that fails (bad input found half-way, no
 * memory) frees its private blocks and leaves the published view untouched.
 *
 * Only control threads call this file, serialised by pk_groups.wlock; the
 * costs of a change are O(members of the group + size of a segment +
 * 2 x 2 KiB of radix nodes per touched object), independent of the size of
 * the index.
 */
#include <errno.h>
#include <stdlib.h>

#include "pickup/rcu.h"

#include "group_impl.h"

/* ---- small containers ---- */

int gx_vec_push(struct gx_vec *vec, void *p)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 16;
		void **np = realloc(vec->p, cap * sizeof(*np));

		if (np == NULL)
			return -ENOMEM;
		vec->p = np;
		vec->cap = cap;
	}
	vec->p[vec->n++] = p;
	return 0;
}

void gx_vec_free(struct gx_vec *vec)
{
	free(vec->p);
	vec->p = NULL;
	vec->n = vec->cap = 0;
}

int gx_ids_init(struct gx_ids *ids, uint32_t limit)
{
	memset(ids, 0, sizeof(*ids));
	ids->limit = limit;
	return 0;
}

void gx_ids_fini(struct gx_ids *ids)
{
	free(ids->ring);
	ids->ring = NULL;
}

static int gx_ids_get(struct gx_ids *ids, uint32_t *id)
{
	if (ids->next < ids->limit) {
		*id = ids->next++;
		return 0;
	}
	if (ids->count == 0)
		return -ENOSPC;
	*id = ids->ring[ids->head];
	ids->head = (ids->head + 1) % ids->cap;
	ids->count--;
	return 0;
}

static int gx_ids_put(struct gx_ids *ids, uint32_t id)
{
	if (ids->count == ids->cap) {
		uint32_t cap = ids->cap ? ids->cap * 2 : 64;
		uint32_t *r = malloc(cap * sizeof(*r));

		if (r == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i < ids->count; i++)
			r[i] = ids->ring[(ids->head + i) % ids->cap];
		free(ids->ring);
		ids->ring = r;
		ids->cap = cap;
		ids->head = 0;
	}
	ids->ring[(ids->head + ids->count) % ids->cap] = id;
	ids->count++;
	return 0;
}

/* ---- transactions ---- */

void *gx_txn_alloc(struct gx_txn *t, size_t size)
{
	void *p = malloc(size);

	if (p == NULL || gx_vec_push(&t->fresh, p) != 0) {
		free(p);
		t->err = -ENOMEM;
		return NULL;
	}
	*(uint64_t *)p = t->id; /* every block starts with its txn id */
	return p;
}

/* A block of the new view is being replaced: free it at commit if this
 * change made it, after a grace period if a reader may hold it. */
void gx_retire(struct gx_txn *t, const void *block)
{
	void *p = (void *)(uintptr_t)block;

	if (gx_vec_push(*(const uint64_t *)block == t->id ? &t->dead : &t->retired, p) != 0)
		t->err = -ENOMEM;
}

int gx_txn_begin(struct gx_txn *t, struct pk_groups *g)
{
	memset(t, 0, sizeof(*t));
	t->g = g;
	t->id = ++g->txn_seq;
	/* Relaxed: the writer (holding wlock) is the only one storing cur. */
	t->old = atomic_load_explicit(&g->cur, memory_order_relaxed);
	t->v = gx_txn_alloc(t, sizeof(*t->v));
	if (t->v == NULL) {
		gx_txn_abort(t);
		return -ENOMEM;
	}
	*t->v = *t->old;
	t->v->txn = t->id;
	/* Lookups inside the change see its own edits: in the trees, not in
	 * the old view's flat tables (made again, or taken over, at commit). */
	t->v->fnum = t->v->fusr = NULL;
	return 0;
}

int gx_txn_id_alloc(struct gx_txn *t, bool group, uint32_t *id)
{
	struct gx_ids *ids = group ? &t->g->gids : &t->g->uids;
	int rc = gx_ids_get(ids, id);

	if (rc != 0)
		return rc;
	if (gx_vec_push(group ? &t->gids_new : &t->uids_new, (void *)(uintptr_t)*id) != 0) {
		gx_ids_put(ids, *id);
		return t->err = -ENOMEM;
	}
	return 0;
}

static void gx_txn_id_free(struct gx_txn *t, bool group, uint32_t id)
{
	if (gx_vec_push(group ? &t->gids_freed : &t->uids_freed, (void *)(uintptr_t)id) != 0)
		t->err = -ENOMEM;
}

static void gx_txn_release(struct gx_txn *t)
{
	gx_vec_free(&t->fresh);
	gx_vec_free(&t->dead);
	gx_vec_free(&t->retired);
	gx_vec_free(&t->gids_new);
	gx_vec_free(&t->uids_new);
	gx_vec_free(&t->gids_freed);
	gx_vec_free(&t->uids_freed);
	gx_vec_free(&t->fdelta[0]);
	gx_vec_free(&t->fdelta[1]);
}

/* Note a put for the flat tables (gx_flat_update). */
static void gx_flat_note(struct gx_txn *t, unsigned which, const void *old, const void *nw)
{
	if (gx_vec_push(&t->fdelta[which], (void *)(uintptr_t)old) != 0 ||
	    gx_vec_push(&t->fdelta[which], (void *)(uintptr_t)nw) != 0)
		t->err = -ENOMEM;
}

void gx_txn_abort(struct gx_txn *t)
{
	for (size_t i = 0; i < t->fresh.n; i++)
		free(t->fresh.p[i]);
	/* Ids taken by the failed change were never visible: back to the pool
	 * (at the end of the FIFO; they are as good as never used). */
	for (size_t i = 0; i < t->gids_new.n; i++)
		gx_ids_put(&t->g->gids, (uint32_t)(uintptr_t)t->gids_new.p[i]);
	for (size_t i = 0; i < t->uids_new.n; i++)
		gx_ids_put(&t->g->uids, (uint32_t)(uintptr_t)t->uids_new.p[i]);
	gx_txn_release(t);
}

/* What a change leaves to free after the grace period. */
struct gx_garbage {
	struct pk_groups_view *whole; /* a replaced view to free entirely */
	size_t n;
	void *p[];
};

void gx_free_garbage(void *arg)
{
	struct gx_garbage *gb = arg;

	if (gb->whole != NULL)
		gx_view_free_whole(gb->whole);
	for (size_t i = 0; i < gb->n; i++)
		free(gb->p[i]);
	free(gb);
}

int gx_txn_commit(struct gx_txn *t)
{
	struct pk_groups *g = t->g;
	struct gx_garbage *gb;

	if (t->err == 0)
		gx_flat_update(t);
	if (t->err != 0) {
		int err = t->err;

		gx_txn_abort(t);
		return err;
	}
	/* The old view block itself is retired with the rest, unless the
	 * whole old view goes (replace). */
	if (t->retire_whole == NULL && gx_vec_push(&t->retired, (void *)(uintptr_t)t->old) != 0) {
		gx_txn_abort(t);
		return -ENOMEM;
	}
	gb = malloc(sizeof(*gb) + t->retired.n * sizeof(void *));
	/* Release: every block of the new view was written before this store;
	 * pairs with the acquire load in pk_groups_view(). From here on no
	 * failure may undo the change. */
	atomic_store_explicit(&g->cur, t->v, memory_order_release);
	if (gb != NULL) {
		gb->whole = t->retire_whole;
		gb->n = t->retired.n;
		if (t->retired.n > 0)
			memcpy(gb->p, t->retired.p, t->retired.n * sizeof(void *));
		/* pk_rcu_defer takes its token after the store above (it is
		 * called later in program order, and its add is a release). */
		if (pk_rcu_defer(g->rcu, gx_free_garbage, gb) != 0) {
			pk_rcu_synchronize(g->rcu);
			gx_free_garbage(gb);
		}
	} else {
		pk_rcu_synchronize(g->rcu);
		if (t->retire_whole != NULL)
			gx_view_free_whole(t->retire_whole);
		for (size_t i = 0; i < t->retired.n; i++)
			free(t->retired.p[i]);
	}
	/* Replaced blocks that never left this change: no reader saw them. */
	for (size_t i = 0; i < t->dead.n; i++)
		free(t->dead.p[i]);
	for (size_t i = 0; i < t->gids_freed.n; i++)
		gx_ids_put(&g->gids, (uint32_t)(uintptr_t)t->gids_freed.p[i]);
	for (size_t i = 0; i < t->uids_freed.n; i++)
		gx_ids_put(&g->uids, (uint32_t)(uintptr_t)t->uids_freed.p[i]);
	gx_txn_release(t);
	return 0;
}

/* ---- blocks ---- */

struct gx_node *gx_node_alloc(struct gx_txn *t)
{
	struct gx_node *n = gx_txn_alloc(t, sizeof(*n));

	if (n != NULL)
		memset(n->slot, 0, sizeof(n->slot));
	return n;
}

struct gx_seg *gx_seg_alloc(struct gx_txn *t, uint32_t n)
{
	struct gx_seg *s = gx_txn_alloc(t, gx_seg_size(n));

	if (s != NULL) {
		s->n = n;
		s->pad_ = 0;
	}
	return s;
}

struct gx_group *gx_group_make(struct gx_txn *t, uint32_t gid, struct pk_str number,
			       struct pk_str name, const struct pk_group_ref *refs, uint32_t n)
{
	size_t sz = sizeof(struct gx_group) + (size_t)n * sizeof(struct pk_group_ref) + number.len +
		    name.len;
	struct gx_group *gr = gx_txn_alloc(t, sz);
	struct pk_group_ref *m;
	char *str;

	if (gr == NULL)
		return NULL;
	m = (struct pk_group_ref *)(gr + 1);
	str = (char *)(m + n);
	if (refs != NULL && n > 0)
		memcpy(m, refs, n * sizeof(*m));
	memcpy(str, number.p, number.len);
	if (name.len > 0)
		memcpy(str + number.len, name.p, name.len);
	gr->hash = gx_hash(number.p, number.len, GX_SEED_NUMBER);
	gr->pub.id = gid;
	gr->pub.n_members = n;
	gr->pub.number = pk_str_make(str, number.len);
	gr->pub.name = name.len > 0 ? pk_str_make(str + number.len, name.len) : PK_STR_NULL;
	gr->pub.members = m;
	return gr;
}

struct gx_user *gx_user_make(struct gx_txn *t, uint32_t uid, struct pk_str user, uint32_t domain,
			     const struct pk_group_ref *refs, uint32_t n)
{
	size_t sz = sizeof(struct gx_user) + (size_t)n * sizeof(struct pk_group_ref) + user.len;
	struct gx_user *u = gx_txn_alloc(t, sz);
	struct pk_group_ref *m;
	char *str;

	if (u == NULL)
		return NULL;
	m = (struct pk_group_ref *)(u + 1);
	str = (char *)(m + n);
	if (refs != NULL && n > 0)
		memcpy(m, refs, n * sizeof(*m));
	memcpy(str, user.p, user.len);
	u->hash = gx_hash_user(pk_str_make(str, user.len), domain);
	u->pub.id = uid;
	u->pub.domain = domain;
	u->pub.n_groups = n;
	u->pub.pad_ = 0;
	u->pub.user = pk_str_make(str, user.len);
	u->pub.groups = m;
	return u;
}

/* ---- path copying ---- */

/* Make *ref a node private to this change (copying or creating it). */
static struct gx_node *gx_own(struct gx_txn *t, void **ref)
{
	struct gx_node *n = *ref, *c;

	if (n != NULL && n->txn == t->id)
		return n;
	c = gx_node_alloc(t);
	if (c == NULL)
		return NULL;
	if (n != NULL) {
		memcpy(c->slot, n->slot, sizeof(c->slot));
		gx_retire(t, n);
	}
	*ref = c;
	return c;
}

static struct gx_node *gx_own_root(struct gx_txn *t, struct gx_node **root)
{
	void *p = *root;
	struct gx_node *n = gx_own(t, &p);

	*root = p;
	return n;
}

/* The (private) slot holding the segment of hash h. */
static void **gx_hash_ref(struct gx_txn *t, struct gx_node **root, uint64_t h)
{
	struct gx_node *r = gx_own_root(t, root), *mid;

	if (r == NULL)
		return NULL;
	mid = gx_own(t, &r->slot[h >> 56]);
	return mid != NULL ? &mid->slot[(h >> 48) & (GX_FAN - 1)] : NULL;
}

/* The (private) leaf slot of an id. */
static void **gx_id_ref(struct gx_txn *t, struct gx_node **root, uint32_t id)
{
	struct gx_node *r = gx_own_root(t, root), *mid, *leaf;

	if (r == NULL)
		return NULL;
	mid = gx_own(t, &r->slot[id >> 16]);
	if (mid == NULL)
		return NULL;
	leaf = gx_own(t, &mid->slot[(id >> 8) & (GX_FAN - 1)]);
	return leaf != NULL ? &leaf->slot[id & (GX_FAN - 1)] : NULL;
}

/* In the segment at *ref: replace old by obj; old NULL inserts, obj NULL
 * deletes. The segment is rebuilt (it holds a handful of entries), so
 * deletion leaves no tombstone. */
static int gx_seg_put(struct gx_txn *t, void **ref, uint32_t tag, const void *old, void *obj)
{
	const struct gx_seg *s = *ref;
	uint32_t n = s != NULL ? s->n : 0, nn = n, o = 0;
	struct gx_seg *ns;
	bool placed = obj == NULL;

	if (old == NULL)
		nn++;
	if (obj == NULL)
		nn--;
	if (nn == 0) {
		*ref = NULL;
	} else {
		ns = gx_seg_alloc(t, nn);
		if (ns == NULL)
			return -ENOMEM;
		for (uint32_t i = 0; i <= n; i++) {
			if (!placed && (i == n || gx_seg_tags(s)[i] >= tag)) {
				gx_seg_objs(ns)[o] = obj;
				gx_seg_tags(ns)[o++] = tag;
				placed = true;
			}
			if (i == n)
				break;
			if (gx_seg_objs(s)[i] == old)
				continue;
			if (o == nn) /* old was not there: caller bug */
				return t->err = -EINVAL;
			gx_seg_objs(ns)[o] = gx_seg_objs(s)[i];
			gx_seg_tags(ns)[o++] = gx_seg_tags(s)[i];
		}
		*ref = ns;
	}
	if (s != NULL)
		gx_retire(t, s);
	return 0;
}

/* Publish group nw in place of old (same number; either may be NULL). */
static int gx_put_group(struct gx_txn *t, const struct gx_group *old, struct gx_group *nw)
{
	const struct gx_group *any = nw != NULL ? nw : old;
	void **ref = gx_hash_ref(t, &t->v->num, any->hash);

	if (ref == NULL || gx_seg_put(t, ref, (uint32_t)any->hash, old, nw) != 0)
		return -ENOMEM;
	gx_flat_note(t, 0, old, nw);
	ref = gx_id_ref(t, &t->v->gid, any->pub.id);
	if (ref == NULL)
		return -ENOMEM;
	*ref = nw;
	if (old != NULL) {
		t->v->n_groups--;
		t->v->n_memberships -= old->pub.n_members;
		gx_retire(t, old);
	}
	if (nw != NULL) {
		t->v->n_groups++;
		t->v->n_memberships += nw->pub.n_members;
		gx_note_number(t->v, nw->pub.number);
	}
	return t->err;
}

/* Publish user nw in place of old (same key; either may be NULL). */
static int gx_put_user(struct gx_txn *t, const struct gx_user *old, struct gx_user *nw)
{
	const struct gx_user *any = nw != NULL ? nw : old;
	void **ref = gx_hash_ref(t, &t->v->usr, any->hash);

	if (ref == NULL || gx_seg_put(t, ref, (uint32_t)any->hash, old, nw) != 0)
		return -ENOMEM;
	gx_flat_note(t, 1, old, nw);
	ref = gx_id_ref(t, &t->v->uid, any->pub.id);
	if (ref == NULL)
		return -ENOMEM;
	*ref = nw;
	if (old != NULL) {
		t->v->n_users--;
		gx_retire(t, old);
	}
	if (nw != NULL)
		t->v->n_users++;
	return t->err;
}

/* Set the rights of user (user, domain) -- whose current object is old,
 * or NULL if it is in no group -- in group gid; rights 0 removes the
 * membership, and the user with its last one. *uid gets the user id. */
static int gx_user_set(struct gx_txn *t, const struct pk_group_user *old, struct pk_str user,
		       uint32_t domain, uint32_t gid, uint32_t rights, uint32_t *uid)
{
	uint32_t n = old != NULL ? old->n_groups : 0, nn, o = 0, id;
	bool had = old != NULL && pk_group_user_rights(old, gid) != 0;
	struct gx_user *nw;
	int rc;

	nn = n + (had ? 0 : 1) - (rights == 0 ? 1 : 0);
	if (old != NULL) {
		id = old->id;
		user = old->user;
	} else if ((rc = gx_txn_id_alloc(t, false, &id)) != 0) {
		return rc;
	}
	*uid = id;
	if (nn == 0) {
		if (old == NULL)
			return -EINVAL;
		gx_txn_id_free(t, false, id);
		return gx_put_user(t, gx_user_of(old), NULL);
	}
	nw = gx_user_make(t, id, user, domain, NULL, nn);
	if (nw == NULL)
		return -ENOMEM;
	/* Memberships stay sorted by group id (binary search, merges). */
	struct pk_group_ref *m = (struct pk_group_ref *)(uintptr_t)nw->pub.groups;
	bool placed = rights == 0;

	for (uint32_t i = 0; i <= n; i++) {
		if (!placed && (i == n || old->groups[i].id >= gid)) {
			m[o++] = (struct pk_group_ref){ gid, rights };
			placed = true;
		}
		if (i == n)
			break;
		if (old->groups[i].id == gid)
			continue;
		m[o++] = old->groups[i];
	}
	return gx_put_user(t, old != NULL ? gx_user_of(old) : NULL, nw);
}

/* ---- argument checks shared by the changes ---- */

static bool gx_rights_valid(uint32_t rights)
{
	return rights != 0 && (rights & ~PK_RIGHTS_ALL) == 0;
}

/* Normalise (user, domain) of a change into buf / *domain_idx. */
static int gx_user_key(const struct pk_groups_view *v, struct pk_str user, struct pk_str domain,
		       char *buf, struct pk_str *out, uint32_t *domain_idx)
{
	const struct pk_groups_settings *s = &v->settings->s;
	int n = pk_groups_user_normalize(user, buf, PK_GROUPS_USER_MAX);
	int d;

	if (n <= 0)
		return -EINVAL;
	*out = pk_str_make(buf, (size_t)n);
	if (domain.len == 0)
		d = s->n_domains > 0 ? 0 : -1;
	else
		d = pk_groups_settings_find_domain(s, domain);
	if (d < 0)
		return -EINVAL;
	*domain_idx = (uint32_t)d;
	return 0;
}

/* ---- public single changes ---- */

static int gx_group_add(struct pk_groups *g, struct pk_str number, struct pk_str name,
			const struct pk_group_member_spec *members, unsigned n_members,
			uint32_t *gid_out)
{
	struct pk_group_ref *refs = NULL;
	struct gx_group *gr;
	struct gx_txn t;
	uint32_t gid;
	int rc;

	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	if (pk_groups_number_check(&t.v->settings->s, number) != PK_GROUPS_NUMBER_OK ||
	    !pk_groups_name_valid(name)) {
		rc = -EINVAL;
		goto fail;
	}
	if (gx_find_number(t.v, number) != NULL) {
		rc = -EEXIST;
		goto fail;
	}
	if ((rc = gx_txn_id_alloc(&t, true, &gid)) != 0)
		goto fail;
	refs = malloc((n_members + 1) * sizeof(*refs));
	if (refs == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < n_members; i++) {
		char buf[PK_GROUPS_USER_MAX];
		const struct pk_group_user *u;
		struct pk_str user;
		uint32_t d;

		if (!gx_rights_valid(members[i].rights) ||
		    gx_user_key(t.v, members[i].user, members[i].domain, buf, &user, &d) != 0) {
			rc = -EINVAL;
			goto fail;
		}
		/* Looked up in the private view: an earlier member of this same
		 * call is already there, with this group. */
		u = gx_find_user(t.v, user, d);
		if (u != NULL && pk_group_user_rights(u, gid) != 0) {
			rc = -EEXIST;
			goto fail;
		}
		refs[i].rights = members[i].rights;
		if ((rc = gx_user_set(&t, u, user, d, gid, members[i].rights, &refs[i].id)) != 0)
			goto fail;
	}
	gr = gx_group_make(&t, gid, number, name, refs, n_members);
	if (gr == NULL || (rc = gx_put_group(&t, NULL, gr)) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	free(refs);
	if ((rc = gx_txn_commit(&t)) == 0 && gid_out != NULL)
		*gid_out = gid;
	return rc;
fail:
	free(refs);
	gx_txn_abort(&t);
	return rc;
}

static int gx_group_remove(struct pk_groups *g, struct pk_str number)
{
	const struct pk_group *gr;
	struct gx_txn t;
	int rc;

	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	gr = gx_find_number(t.v, number);
	if (gr == NULL) {
		gx_txn_abort(&t);
		return -ENOENT;
	}
	for (uint32_t i = 0; i < gr->n_members; i++) {
		const struct pk_group_user *u = pk_groups_find_uid(t.v, gr->members[i].id);
		uint32_t uid;

		if (u == NULL || (rc = gx_user_set(&t, u, u->user, u->domain, gr->id, 0, &uid)) != 0) {
			gx_txn_abort(&t);
			return rc != 0 ? rc : -EINVAL;
		}
	}
	gx_txn_id_free(&t, true, gr->id);
	if ((rc = gx_put_group(&t, gx_group_of(gr), NULL)) != 0) {
		gx_txn_abort(&t);
		return rc;
	}
	return gx_txn_commit(&t);
}

static int gx_group_renumber(struct pk_groups *g, struct pk_str number, struct pk_str new_number)
{
	const struct pk_group *gr;
	struct gx_group *nw;
	struct gx_txn t;
	int rc;

	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	gr = gx_find_number(t.v, number);
	if (gr == NULL) {
		rc = -ENOENT;
		goto fail;
	}
	if (pk_groups_number_check(&t.v->settings->s, new_number) != PK_GROUPS_NUMBER_OK) {
		rc = -EINVAL;
		goto fail;
	}
	if (gx_find_number(t.v, new_number) != NULL) {
		rc = pk_str_eq(number, new_number) ? 0 : -EEXIST;
		goto fail;
	}
	nw = gx_group_make(&t, gr->id, new_number, gr->name, gr->members, gr->n_members);
	/* Out of the old number's segment, into the new one's; the id slot
	 * ends up pointing at the new object. One view: one publication. */
	if (nw == NULL || gx_put_group(&t, gx_group_of(gr), NULL) != 0 ||
	    gx_put_group(&t, NULL, nw) != 0) {
		rc = -ENOMEM;
		goto fail;
	}
	return gx_txn_commit(&t);
fail:
	gx_txn_abort(&t);
	return rc;
}

static int gx_group_set_name(struct pk_groups *g, struct pk_str number, struct pk_str name)
{
	const struct pk_group *gr;
	struct gx_group *nw;
	struct gx_txn t;
	int rc;

	if (!pk_groups_name_valid(name))
		return -EINVAL;
	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	gr = gx_find_number(t.v, number);
	if (gr == NULL) {
		gx_txn_abort(&t);
		return -ENOENT;
	}
	nw = gx_group_make(&t, gr->id, gr->number, name, gr->members, gr->n_members);
	if (nw == NULL || gx_put_group(&t, gx_group_of(gr), nw) != 0) {
		gx_txn_abort(&t);
		return -ENOMEM;
	}
	return gx_txn_commit(&t);
}

/* Member add (mode 0), remove (1) or rights change (2). */
static int gx_member_change(struct pk_groups *g, int mode, struct pk_str number,
			    struct pk_str user_in, struct pk_str domain, uint32_t rights)
{
	char buf[PK_GROUPS_USER_MAX];
	const struct pk_group_user *u;
	const struct pk_group *gr;
	struct gx_group *nw;
	struct pk_group_ref *m;
	struct pk_str user;
	struct gx_txn t;
	uint32_t d, uid, n, o = 0;
	int rc;

	if (mode != 1 && !gx_rights_valid(rights))
		return -EINVAL;
	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	if ((rc = gx_user_key(t.v, user_in, domain, buf, &user, &d)) != 0)
		goto fail;
	gr = gx_find_number(t.v, number);
	if (gr == NULL) {
		rc = -ENOENT;
		goto fail;
	}
	u = gx_find_user(t.v, user, d);
	if (mode == 0 && u != NULL && pk_group_user_rights(u, gr->id) != 0) {
		rc = -EEXIST;
		goto fail;
	}
	if (mode != 0 && (u == NULL || pk_group_user_rights(u, gr->id) == 0)) {
		rc = -ENOENT;
		goto fail;
	}
	if ((rc = gx_user_set(&t, u, user, d, gr->id, mode == 1 ? 0 : rights, &uid)) != 0)
		goto fail;
	n = gr->n_members + (mode == 0 ? 1 : 0) - (mode == 1 ? 1 : 0);
	nw = gx_group_make(&t, gr->id, gr->number, gr->name, NULL, n);
	if (nw == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	m = (struct pk_group_ref *)(uintptr_t)nw->pub.members;
	for (uint32_t i = 0; i < gr->n_members; i++) {
		struct pk_group_ref r = gr->members[i];

		if (r.id == uid) {
			if (mode == 1)
				continue;
			r.rights = rights;
		}
		m[o++] = r;
	}
	if (mode == 0)
		m[o++] = (struct pk_group_ref){ uid, rights };
	if ((rc = gx_put_group(&t, gx_group_of(gr), nw)) != 0)
		goto fail;
	return gx_txn_commit(&t);
fail:
	gx_txn_abort(&t);
	return rc;
}

/* The public entry points: one writer at a time. */
#define GX_LOCKED(g, expr)                                   \
	do {                                                 \
		int rc_;                                     \
		pthread_mutex_lock(&(g)->wlock);             \
		rc_ = (expr);                                \
		pthread_mutex_unlock(&(g)->wlock);           \
		return rc_;                                  \
	} while (0)

int pk_groups_group_add(struct pk_groups *g, struct pk_str number, struct pk_str name,
			const struct pk_group_member_spec *members, unsigned n_members,
			uint32_t *gid_out)
{
	GX_LOCKED(g, gx_group_add(g, number, name, members, n_members, gid_out));
}

int pk_groups_group_remove(struct pk_groups *g, struct pk_str number)
{
	GX_LOCKED(g, gx_group_remove(g, number));
}

int pk_groups_group_renumber(struct pk_groups *g, struct pk_str number, struct pk_str new_number)
{
	GX_LOCKED(g, gx_group_renumber(g, number, new_number));
}

int pk_groups_group_set_name(struct pk_groups *g, struct pk_str number, struct pk_str name)
{
	GX_LOCKED(g, gx_group_set_name(g, number, name));
}

int pk_groups_member_add(struct pk_groups *g, struct pk_str number, struct pk_str user,
			 struct pk_str domain, uint32_t rights)
{
	GX_LOCKED(g, gx_member_change(g, 0, number, user, domain, rights));
}

int pk_groups_member_remove(struct pk_groups *g, struct pk_str number, struct pk_str user,
			    struct pk_str domain)
{
	GX_LOCKED(g, gx_member_change(g, 1, number, user, domain, 0));
}

int pk_groups_member_set_rights(struct pk_groups *g, struct pk_str number, struct pk_str user,
				struct pk_str domain, uint32_t rights)
{
	GX_LOCKED(g, gx_member_change(g, 2, number, user, domain, rights));
}

/* ---- life cycle ---- */

struct pk_groups *pk_groups_create(struct pk_rcu *rcu, const struct pk_groups_params *params)
{
	struct pk_groups_params p = { 1u << 20, 1u << 22, 0 };
	struct pk_groups_view *v = NULL;
	struct gx_settings *s = NULL;
	struct pk_groups *g;

	if (params != NULL)
		p = *params;
	if (p.flat_max == 0)
		p.flat_max = PK_GROUPS_FLAT_MAX_DEFAULT;
	if (rcu == NULL || p.max_groups == 0 || p.max_groups > PK_GROUPS_ID_LIMIT ||
	    p.max_users == 0 || p.max_users > PK_GROUPS_ID_LIMIT)
		return NULL;
	g = calloc(1, sizeof(*g));
	v = calloc(1, sizeof(*v));
	s = calloc(1, sizeof(*s));
	if (g == NULL || v == NULL || s == NULL)
		goto fail;
	pk_groups_settings_init(&s->s);
	v->settings = s;
	g->rcu = rcu;
	g->params = p;
	gx_ids_init(&g->gids, p.max_groups);
	gx_ids_init(&g->uids, p.max_users);
	pthread_mutex_init(&g->wlock, NULL);
	/* No reader can know g yet; release for form's sake (pairs with the
	 * acquire in pk_groups_view of whoever gets g through a later
	 * synchronising hand-over). */
	atomic_store_explicit(&g->cur, v, memory_order_release);
	return g;
fail:
	free(s);
	free(v);
	free(g);
	return NULL;
}

void pk_groups_destroy(struct pk_groups *g)
{
	if (g == NULL)
		return;
	gx_view_free_whole(atomic_load_explicit(&g->cur, memory_order_relaxed));
	gx_ids_fini(&g->gids);
	gx_ids_fini(&g->uids);
	pthread_mutex_destroy(&g->wlock);
	free(g);
}

void pk_groups_params_get(const struct pk_groups *g, struct pk_groups_params *out)
{
	*out = g->params;
}
