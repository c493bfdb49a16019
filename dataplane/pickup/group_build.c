/* SPDX-License-Identifier: MIT */
/*
 * Group index, whole-view work: building a complete view from a loaded
 * groups file (reload), freeing a complete view, and measuring one.
 *
 * A reload builds the new view entirely off the hot path -- objects, then
 * each hash table bucketed with a counting sort on the top 16 hash bits so
 * that every segment is allocated once at its final size -- and publishes
 * it with the same single release store as a small change (gx_txn_commit).
 * Ids survive a reload when the group's number (the user's AoR) does.
 * Control thread only.
 */
#include <errno.h>
#include <stdlib.h>

#include "pickup/groups_conf.h"

#include "group_impl.h"

/* ---- freeing and measuring ---- */

static void gx_free_hash_tree(struct gx_node *root)
{
	if (root == NULL)
		return;
	for (unsigned a = 0; a < GX_FAN; a++) {
		struct gx_node *mid = root->slot[a];

		if (mid == NULL)
			continue;
		for (unsigned b = 0; b < GX_FAN; b++)
			free(mid->slot[b]); /* segments; objects belong to the id trees */
		free(mid);
	}
	free(root);
}

static void gx_free_id_tree(struct gx_node *root)
{
	if (root == NULL)
		return;
	for (unsigned a = 0; a < GX_FAN; a++) {
		struct gx_node *mid = root->slot[a];

		if (mid == NULL)
			continue;
		for (unsigned b = 0; b < GX_FAN; b++) {
			struct gx_node *leaf = mid->slot[b];

			if (leaf == NULL)
				continue;
			for (unsigned c = 0; c < GX_FAN; c++)
				free(leaf->slot[c]);
			free(leaf);
		}
		free(mid);
	}
	free(root);
}

void gx_view_free_whole(struct pk_groups_view *v)
{
	if (v == NULL)
		return;
	gx_free_hash_tree(v->num);
	gx_free_hash_tree(v->usr);
	gx_free_id_tree(v->gid);
	gx_free_id_tree(v->uid);
	free((void *)(uintptr_t)v->fnum);
	free((void *)(uintptr_t)v->fusr);
	free((void *)(uintptr_t)v->settings);
	free(v);
}

static uint64_t gx_hash_tree_bytes(const struct gx_node *root)
{
	uint64_t b = 0;

	if (root == NULL)
		return 0;
	b += sizeof(*root);
	for (unsigned a = 0; a < GX_FAN; a++) {
		const struct gx_node *mid = root->slot[a];

		if (mid == NULL)
			continue;
		b += sizeof(*mid);
		for (unsigned k = 0; k < GX_FAN; k++) {
			const struct gx_seg *s = mid->slot[k];

			if (s != NULL)
				b += gx_seg_size(s->n);
		}
	}
	return b;
}

struct gx_stats_ctx {
	uint64_t bytes;
	bool users;
};

static void gx_stats_obj(void *obj, void *arg)
{
	struct gx_stats_ctx *c = arg;

	if (c->users) {
		const struct gx_user *u = obj;

		c->bytes += sizeof(*u) + u->pub.n_groups * sizeof(struct pk_group_ref) + u->pub.user.len;
	} else {
		const struct gx_group *gr = obj;

		c->bytes += sizeof(*gr) + gr->pub.n_members * sizeof(struct pk_group_ref) +
			    gr->pub.number.len + gr->pub.name.len;
	}
}

static uint64_t gx_id_tree_nodes_bytes(const struct gx_node *root)
{
	uint64_t b = 0;

	if (root == NULL)
		return 0;
	b += sizeof(*root);
	for (unsigned a = 0; a < GX_FAN; a++) {
		const struct gx_node *mid = root->slot[a];

		if (mid == NULL)
			continue;
		b += sizeof(*mid);
		for (unsigned k = 0; k < GX_FAN; k++)
			if (mid->slot[k] != NULL)
				b += sizeof(struct gx_node);
	}
	return b;
}

void pk_groups_view_stats(const struct pk_groups_view *v, struct pk_groups_stats *st)
{
	struct gx_stats_ctx c = { 0, false };

	gx_walk_ids(v->gid, gx_stats_obj, &c);
	c.users = true;
	gx_walk_ids(v->uid, gx_stats_obj, &c);
	st->version = v->txn;
	st->n_groups = v->n_groups;
	st->n_users = v->n_users;
	st->n_memberships = v->n_memberships;
	st->bytes = c.bytes + sizeof(*v) + sizeof(*v->settings) + gx_hash_tree_bytes(v->num) +
		    gx_hash_tree_bytes(v->usr) + gx_id_tree_nodes_bytes(v->gid) +
		    gx_id_tree_nodes_bytes(v->uid) + gx_flat_bytes(v->fnum) + gx_flat_bytes(v->fusr);
}

/* ---- flat tables ---- */

uint64_t gx_flat_bytes(const struct gx_flat *f)
{
	return f != NULL ? sizeof(*f) + ((uint64_t)f->mask + 1) * sizeof(f->slot[0]) : 0;
}

/* Objects in a hash tree. */
static uint32_t gx_hash_tree_count(const struct gx_node *root)
{
	uint32_t n = 0;

	for (unsigned a = 0; root != NULL && a < GX_FAN; a++) {
		const struct gx_node *mid = root->slot[a];

		for (unsigned b = 0; mid != NULL && b < GX_FAN; b++) {
			const struct gx_seg *s = mid->slot[b];

			n += s != NULL ? s->n : 0;
		}
	}
	return n;
}

static uint64_t gx_obj_hash(const void *obj)
{
	return ((const struct gx_group *)obj)->hash; /* or a gx_user's: same offset */
}

static void gx_flat_add(struct gx_flat *f, const void *obj)
{
	uint64_t h = gx_obj_hash(obj);
	uint32_t k = (uint32_t)h & f->mask;

	while (f->slot[k].obj != NULL)
		k = (k + 1) & f->mask;
	f->slot[k].hash = h;
	f->slot[k].obj = obj;
	f->n++;
}

/* Take obj out of f (a private copy), moving back the entries of its probe
 * run that may take its place, so that no tombstone is left: false if obj
 * is not there. */
static bool gx_flat_del(struct gx_flat *f, const void *obj)
{
	uint32_t i = (uint32_t)gx_obj_hash(obj) & f->mask, j;

	while (f->slot[i].obj != obj) {
		if (f->slot[i].obj == NULL)
			return false;
		i = (i + 1) & f->mask;
	}
	for (j = (i + 1) & f->mask; f->slot[j].obj != NULL; j = (j + 1) & f->mask) {
		uint32_t home = (uint32_t)f->slot[j].hash & f->mask;
		/* Is home cyclically in (i, j]? Then j's entry stays. */
		bool stays = i <= j ? i < home && home <= j : i < home || home <= j;

		if (!stays) {
			f->slot[i] = f->slot[j];
			i = j;
		}
	}
	f->slot[i].hash = 0;
	f->slot[i].obj = NULL;
	f->n--;
	return true;
}

/* A flat table of the objects of the hash tree root (the view counts
 * `count` of them), or NULL: none there, more than flat_max (the tree is
 * not walked then), or no memory (t->err set). */
static const struct gx_flat *gx_flat_make(struct gx_txn *t, const struct gx_node *root, uint32_t count)
{
	uint32_t n, cap = 8;
	struct gx_flat *f;

	if (count == 0 || count > t->g->params.flat_max)
		return NULL;
	n = gx_hash_tree_count(root); /* the table is sized by what it will hold */
	if (n == 0 || n > t->g->params.flat_max)
		return NULL;
	while (cap < 2 * n)
		cap <<= 1;
	f = gx_txn_alloc(t, sizeof(*f) + (size_t)cap * sizeof(f->slot[0]));
	if (f == NULL)
		return NULL;
	memset(f->slot, 0, (size_t)cap * sizeof(f->slot[0]));
	f->mask = cap - 1;
	f->n = 0;
	for (unsigned a = 0; a < GX_FAN; a++) {
		const struct gx_node *mid = root->slot[a];

		for (unsigned b = 0; mid != NULL && b < GX_FAN; b++) {
			const struct gx_seg *s = mid->slot[b];

			for (uint32_t i = 0; s != NULL && i < s->n; i++)
				gx_flat_add(f, gx_seg_objs(s)[i]);
		}
	}
	return f;
}

/* The old table with this change's puts applied, in a copy: NULL when it
 * would be more than half full (at the end or between two puts), or one
 * put does not match it. */
static struct gx_flat *gx_flat_patch(struct gx_txn *t, const struct gx_flat *old, const struct gx_vec *d,
				     uint32_t count)
{
	size_t bytes = gx_flat_bytes(old);
	struct gx_flat *f;

	if (2 * (uint64_t)count > (uint64_t)old->mask + 1)
		return NULL;
	f = gx_txn_alloc(t, bytes);
	if (f == NULL)
		return NULL;
	memcpy(f, old, bytes);
	f->txn = t->id;
	for (size_t i = 0; i + 1 < d->n; i += 2) {
		if (d->p[i] != NULL && !gx_flat_del(f, d->p[i]))
			break;
		/* never more than half full, even between puts: a probe must
		 * always reach an empty slot */
		if (d->p[i + 1] != NULL && 2 * ((uint64_t)f->n + 1) > (uint64_t)f->mask + 1)
			break;
		if (d->p[i + 1] != NULL)
			gx_flat_add(f, d->p[i + 1]);
		if (i + 2 >= d->n && f->n == count)
			return f;
	}
	gx_retire(t, f); /* made by this change: freed at commit */
	return NULL;
}

/* The flat table of one index for t's view: the old view's if the change
 * left the tree alone; else a patched copy of it; else one built from the
 * tree (none above flat_max). */
static const struct gx_flat *gx_flat_for(struct gx_txn *t, const struct gx_flat *old, const struct gx_node *root,
					  const struct gx_vec *d, uint32_t count)
{
	const struct gx_flat *f = NULL;

	if (t->retire_whole == NULL) {
		if (d->n == 0)
			return old;
		if (old != NULL)
			gx_retire(t, old);
		/* Patched unless building is cheaper: more puts than an eighth
		 * of the objects (+16), or a table eight times what the objects
		 * need (it shrinks: each change copies the whole table). */
		if (old != NULL && count > 0 && count <= t->g->params.flat_max && d->n / 2 <= old->n / 8 + 16 &&
		    8 * (uint64_t)count >= (uint64_t)old->mask + 1)
			f = gx_flat_patch(t, old, d, count);
	}
	return f != NULL ? f : gx_flat_make(t, root, count);
}

/* At commit: t's view's flat tables made to match its trees. An unchanged
 * tree keeps the old view's table (gx_txn_begin cleared the private
 * view's: lookups inside a change must see its edits); a replaced one is
 * retired with the old view's other replaced blocks. A whole replaced view
 * (a reload) frees its tables with it, and the new ones are built. */
void gx_flat_update(struct gx_txn *t)
{
	struct pk_groups_view *v = t->v;

	v->fnum = gx_flat_for(t, t->old->fnum, v->num, &t->fdelta[0], v->n_groups);
	v->fusr = gx_flat_for(t, t->old->fusr, v->usr, &t->fdelta[1], v->n_users);
}

/* ---- building ---- */

/* Build a hash tree over objs (hash of each in hashes) in one go: bucket by
 * segment (top 16 bits) with a counting sort, then allocate each segment at
 * its final size with its entries sorted by tag. */
static int gx_build_hash(struct gx_txn *t, struct gx_node **rootp, void *const *objs,
			 const uint64_t *hashes, uint32_t n)
{
	const uint32_t nseg = GX_FAN * GX_FAN;
	uint32_t *start = calloc(nseg + 1, sizeof(*start));
	uint32_t *order = malloc((size_t)n * sizeof(*order) + 1);
	struct gx_node *root = NULL;
	int rc = -ENOMEM;

	if (start == NULL || order == NULL)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		start[(hashes[i] >> 48) + 1]++;
	for (uint32_t b = 0; b < nseg; b++)
		start[b + 1] += start[b];
	for (uint32_t i = 0; i < n; i++)
		order[start[hashes[i] >> 48]++] = i;
	/* start[b] is now the end of bucket b, i.e. the start of b + 1. */
	if (n > 0 && (root = gx_node_alloc(t)) == NULL)
		goto out;
	for (uint32_t b = 0, lo = 0; b < nseg; lo = start[b], b++) {
		uint32_t hi = start[b], cnt = hi - lo;
		struct gx_node *mid;
		struct gx_seg *s;

		if (cnt == 0)
			continue;
		mid = root->slot[b >> GX_FAN_BITS];
		if (mid == NULL) {
			mid = gx_node_alloc(t);
			if (mid == NULL)
				goto out;
			root->slot[b >> GX_FAN_BITS] = mid;
		}
		s = gx_seg_alloc(t, cnt);
		if (s == NULL)
			goto out;
		/* Insertion sort by tag: a segment holds a handful of entries. */
		for (uint32_t k = 0; k < cnt; k++) {
			uint32_t i = order[lo + k], tag = (uint32_t)hashes[i], j = k;

			while (j > 0 && gx_seg_tags(s)[j - 1] > tag) {
				gx_seg_tags(s)[j] = gx_seg_tags(s)[j - 1];
				gx_seg_objs(s)[j] = gx_seg_objs(s)[j - 1];
				j--;
			}
			gx_seg_tags(s)[j] = tag;
			gx_seg_objs(s)[j] = objs[i];
		}
		mid->slot[b & (GX_FAN - 1)] = s;
	}
	*rootp = root;
	rc = 0;
out:
	free(start);
	free(order);
	return rc;
}

/* Place objects in a fresh id tree. */
static int gx_build_ids(struct gx_txn *t, struct gx_node **rootp, void *const *objs,
			const uint32_t *ids, uint32_t n)
{
	struct gx_node *root = NULL;

	if (n == 0) {
		*rootp = NULL;
		return 0;
	}
	root = gx_node_alloc(t);
	if (root == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t id = ids[i];
		struct gx_node **mid = (struct gx_node **)&root->slot[id >> 16], **leaf;

		if (*mid == NULL && (*mid = gx_node_alloc(t)) == NULL)
			return -ENOMEM;
		leaf = (struct gx_node **)&(*mid)->slot[(id >> 8) & (GX_FAN - 1)];
		if (*leaf == NULL && (*leaf = gx_node_alloc(t)) == NULL)
			return -ENOMEM;
		(*leaf)->slot[id & (GX_FAN - 1)] = objs[i];
	}
	*rootp = root;
	return 0;
}

static int gx_ref_cmp(const void *a, const void *b)
{
	const struct pk_group_ref *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct gx_unkept {
	const uint8_t *kept; /* bitmap by id */
	struct gx_vec *out;
	bool group;
	int err;
};

static void gx_collect_unkept(void *obj, void *arg)
{
	struct gx_unkept *c = arg;
	uint32_t id = c->group ? ((const struct gx_group *)obj)->pub.id
			       : ((const struct gx_user *)obj)->pub.id;

	if (!(c->kept[id >> 3] & (1u << (id & 7))) && gx_vec_push(c->out, (void *)(uintptr_t)id) != 0)
		c->err = -ENOMEM;
}

/* Give ids to n objects: existing[i] is the id to keep or UINT32_MAX for a
 * new object. New ids come from the allocator; if it runs dry (a reload at
 * full capacity), from the ids of old objects that the reload drops.
 * The dropped ids left over are freed at commit. */
static int gx_assign_ids(struct gx_txn *t, bool group, const struct gx_node *old_root,
			 uint32_t limit, uint32_t *ids, uint32_t n)
{
	uint8_t *kept = calloc(limit / 8 + 1, 1);
	struct gx_vec unkept = { 0 };
	struct gx_unkept c = { kept, &unkept, group, 0 };
	size_t next_unkept = 0;
	int rc = -ENOMEM;

	if (kept == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] != UINT32_MAX)
			kept[ids[i] >> 3] |= (uint8_t)(1u << (ids[i] & 7));
	gx_walk_ids(old_root, gx_collect_unkept, &c);
	if (c.err != 0)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		if (ids[i] != UINT32_MAX)
			continue;
		rc = gx_txn_id_alloc(t, group, &ids[i]);
		if (rc == -ENOSPC && next_unkept < unkept.n) {
			ids[i] = (uint32_t)(uintptr_t)unkept.p[next_unkept++];
			rc = 0;
		}
		if (rc != 0)
			goto out;
	}
	rc = 0;
	for (size_t k = next_unkept; k < unkept.n && rc == 0; k++)
		rc = gx_vec_push(group ? &t->gids_freed : &t->uids_freed, unkept.p[k]);
out:
	free(kept);
	gx_vec_free(&unkept);
	return rc;
}

static int gx_replace(struct pk_groups *g, const struct pk_groups_conf *conf)
{
	const struct pk_groups_view *old;
	const struct pk_groups_settings *os;
	struct pk_groups_view *v;
	struct gx_settings *set;
	struct gx_txn t;
	uint32_t *gids = NULL, *uids = NULL;
	void **gobjs = NULL, **uobjs = NULL;
	uint64_t *hashes = NULL;
	int rc;

	if (pk_groups_settings_check(&conf->settings, NULL) != 0)
		return -EINVAL;
	if (conf->n_groups > g->params.max_groups || conf->n_users > g->params.max_users)
		return -ENOSPC;
	if ((rc = gx_txn_begin(&t, g)) != 0)
		return rc;
	old = t.old;
	os = &old->settings->s;
	v = t.v;
	memset(v, 0, sizeof(*v));
	v->txn = t.id;
	t.retire_whole = (struct pk_groups_view *)(uintptr_t)old;
	rc = -ENOMEM;
	set = gx_txn_alloc(&t, sizeof(*set));
	gids = malloc(((size_t)conf->n_groups + 1) * sizeof(*gids));
	uids = malloc(((size_t)conf->n_users + 1) * sizeof(*uids));
	gobjs = malloc(((size_t)conf->n_groups + 1) * sizeof(*gobjs));
	uobjs = malloc(((size_t)conf->n_users + 1) * sizeof(*uobjs));
	hashes = malloc(((size_t)(conf->n_groups > conf->n_users ? conf->n_groups : conf->n_users) + 1) *
			sizeof(*hashes));
	if (set == NULL || gids == NULL || uids == NULL || gobjs == NULL || uobjs == NULL ||
	    hashes == NULL)
		goto fail;
	set->s = conf->settings;
	v->settings = set;

	/* Ids: kept where the number / AoR already exists. */
	for (uint32_t i = 0; i < conf->n_groups; i++) {
		const struct pk_group *gr = gx_find_number(old, conf->groups[i].number);

		gids[i] = gr != NULL ? gr->id : UINT32_MAX;
	}
	for (uint32_t i = 0; i < conf->n_users; i++) {
		const struct pk_groups_conf_user *cu = &conf->users[i];
		int od = pk_groups_settings_find_domain(
			os, pk_groups_settings_domain(&conf->settings, cu->domain));
		const struct pk_group_user *u = od >= 0 ? gx_find_user(old, cu->user, (uint32_t)od) : NULL;

		uids[i] = u != NULL ? u->id : UINT32_MAX;
	}
	if ((rc = gx_assign_ids(&t, true, old->gid, g->params.max_groups, gids, conf->n_groups)) != 0 ||
	    (rc = gx_assign_ids(&t, false, old->uid, g->params.max_users, uids, conf->n_users)) != 0)
		goto fail;

	/* Objects. */
	rc = -ENOMEM;
	for (uint32_t i = 0; i < conf->n_groups; i++) {
		const struct pk_groups_conf_group *cg = &conf->groups[i];
		struct gx_group *gr = gx_group_make(&t, gids[i], cg->number, cg->name, NULL, cg->n);

		if (gr == NULL)
			goto fail;
		struct pk_group_ref *m = (struct pk_group_ref *)(uintptr_t)gr->pub.members;

		for (uint32_t k = 0; k < cg->n; k++) {
			const struct pk_groups_conf_ref *r = &conf->members[cg->first + k];

			m[k] = (struct pk_group_ref){ uids[r->idx], r->rights };
		}
		gobjs[i] = gr;
		hashes[i] = gr->hash;
		gx_note_number(v, gr->pub.number);
	}
	if (gx_build_hash(&t, &v->num, gobjs, hashes, conf->n_groups) != 0 ||
	    gx_build_ids(&t, &v->gid, gobjs, gids, conf->n_groups) != 0)
		goto fail;
	for (uint32_t i = 0; i < conf->n_users; i++) {
		const struct pk_groups_conf_user *cu = &conf->users[i];
		struct gx_user *u = gx_user_make(&t, uids[i], cu->user, cu->domain, NULL, cu->n);
		struct pk_group_ref *m;

		if (u == NULL)
			goto fail;
		m = (struct pk_group_ref *)(uintptr_t)u->pub.groups;
		for (uint32_t k = 0; k < cu->n; k++) {
			const struct pk_groups_conf_ref *r = &conf->user_groups[cu->first + k];

			m[k] = (struct pk_group_ref){ gids[r->idx], r->rights };
		}
		/* Sorted by group id; ids of kept groups are not in file order. */
		for (uint32_t k = 1; k < cu->n; k++) {
			if (m[k - 1].id > m[k].id) {
				qsort(m, cu->n, sizeof(*m), gx_ref_cmp);
				break;
			}
		}
		uobjs[i] = u;
		hashes[i] = u->hash;
	}
	if (gx_build_hash(&t, &v->usr, uobjs, hashes, conf->n_users) != 0 ||
	    gx_build_ids(&t, &v->uid, uobjs, uids, conf->n_users) != 0)
		goto fail;
	v->n_groups = conf->n_groups;
	v->n_users = conf->n_users;
	v->n_memberships = conf->n_members;
	free(gids);
	free(uids);
	free(gobjs);
	free(uobjs);
	free(hashes);
	return gx_txn_commit(&t);
fail:
	free(gids);
	free(uids);
	free(gobjs);
	free(uobjs);
	free(hashes);
	gx_txn_abort(&t);
	return rc;
}

int pk_groups_replace(struct pk_groups *g, const struct pk_groups_conf *conf)
{
	int rc;

	pthread_mutex_lock(&g->wlock);
	rc = gx_replace(g, conf);
	pthread_mutex_unlock(&g->wlock);
	return rc;
}
