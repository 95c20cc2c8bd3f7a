/* SPDX-License-Identifier: MIT */
#include "symbolize/objcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/symtab.h"

struct object {
	char *build_id;
	bool flags_read, symtab_built;
	struct object_flags flags;
	struct symtab *symtab;
};

struct objcache {
	pthread_mutex_t lock;
	struct object *objects;
	size_t n;
	size_t reused; /* calls that found their part made */
};

struct objcache *objcache_new(void)
{
	struct objcache *oc = calloc(1, sizeof(*oc));

	if (oc)
		pthread_mutex_init(&oc->lock, NULL);
	return oc;
}

void objcache_free(struct objcache *oc)
{
	if (!oc)
		return;
	for (size_t i = 0; i < oc->n; i++) {
		free(oc->objects[i].build_id);
		symtab_free(oc->objects[i].symtab);
	}
	free(oc->objects);
	pthread_mutex_destroy(&oc->lock);
	free(oc);
}

/* The object's entry, made when absent; NULL when out of memory.  A
 * capture maps tens of objects: a linear search is enough. */
static struct object *object_of(struct objcache *oc, const char *build_id)
{
	struct object *grown;

	for (size_t i = 0; i < oc->n; i++)
		if (!strcmp(oc->objects[i].build_id, build_id))
			return &oc->objects[i];
	grown = reallocarray(oc->objects, oc->n + 1, sizeof(*grown));
	if (!grown)
		return NULL;
	oc->objects = grown;
	grown[oc->n] = (struct object){.build_id = strdup(build_id)};
	if (!grown[oc->n].build_id)
		return NULL;
	return &grown[oc->n++];
}

struct object_flags
objcache_flags(struct objcache *oc, const char *build_id,
	       void (*read)(void *ctx, struct object_flags *ret), void *ctx)
{
	struct object_flags flags = {0};
	struct object *o;

	pthread_mutex_lock(&oc->lock);
	o = object_of(oc, build_id);
	if (o && o->flags_read)
		oc->reused++;
	else if (o) {
		read(ctx, &o->flags);
		o->flags_read = true;
	}
	if (o)
		flags = o->flags;
	else
		read(ctx, &flags);
	pthread_mutex_unlock(&oc->lock);
	return flags;
}

const struct symtab *objcache_symtab(struct objcache *oc, const char *build_id,
				     struct symtab *(*build)(void *ctx),
				     void *ctx)
{
	const struct symtab *tab = NULL;
	struct object *o;

	pthread_mutex_lock(&oc->lock);
	o = object_of(oc, build_id);
	if (o && o->symtab_built)
		oc->reused++;
	else if (o) {
		o->symtab = build(ctx);
		o->symtab_built = true;
	}
	if (o)
		tab = o->symtab;
	pthread_mutex_unlock(&oc->lock);
	return tab;
}

void objcache_get_stats(struct objcache *oc, size_t *ret_objects,
			size_t *ret_reused)
{
	pthread_mutex_lock(&oc->lock);
	*ret_objects = oc->n;
	*ret_reused = oc->reused;
	pthread_mutex_unlock(&oc->lock);
}
