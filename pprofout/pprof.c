/* SPDX-License-Identifier: MIT */
/*
 * The model as a gzip-compressed profile.proto.  Ids are table index + 1
 * (pprof reserves id 0 for "none").  The protobuf-c structs borrow the
 * model's strings and values; only the id arrays and the structs are
 * allocated here, all at once, and freed right after packing.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include "pprofout/model.h"
#include "pprofout/profile.pb-c.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Function PbFunction;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;

/* Everything one Profile message points to, so one function frees it. */
struct pb_build {
	PbProfile pb;
	PbValueType *types, **type_ptrs, period_type;
	PbMapping *mappings, **mapping_ptrs;
	PbFunction *functions, **function_ptrs;
	PbLocation *locations, **location_ptrs;
	PbLine *lines, **line_ptrs;
	PbSample *samples, **sample_ptrs;
	uint64_t *location_ids;
	PbLabel *labels, **label_ptrs;
	int64_t *comments;
	uint64_t *mapping_ids; /* by model index */
};

static void pb_build_release(struct pb_build *b)
{
	free(b->types);
	free(b->type_ptrs);
	free(b->mappings);
	free(b->mapping_ptrs);
	free(b->functions);
	free(b->function_ptrs);
	free(b->locations);
	free(b->location_ptrs);
	free(b->lines);
	free(b->line_ptrs);
	free(b->samples);
	free(b->sample_ptrs);
	free(b->location_ids);
	free(b->labels);
	free(b->label_ptrs);
	free(b->comments);
	free(b->mapping_ids);
}

static PbValueType value_type(const struct pp_value_type *vt)
{
	PbValueType pb = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;

	pb.type = vt->type;
	pb.unit = vt->unit;
	return pb;
}

/* Arrays are allocated one element larger so none is a NULL from calloc. */
#define ALLOC_ARRAY(ptr, n) ((ptr) = calloc((n) + 1, sizeof(*(ptr))))

static int build_types(const struct profile *p, struct pb_build *b)
{
	if (!ALLOC_ARRAY(b->types, p->ntypes) ||
	    !ALLOC_ARRAY(b->type_ptrs, p->ntypes))
		return -ENOMEM;
	for (size_t i = 0; i < p->ntypes; i++) {
		b->types[i] = value_type(&p->sample_types[i]);
		b->type_ptrs[i] = &b->types[i];
	}
	b->pb.n_sample_type = p->ntypes;
	b->pb.sample_type = b->type_ptrs;
	if (p->has_period) {
		b->period_type = value_type(&p->period_type);
		b->pb.period_type = &b->period_type;
		b->pb.period = p->period;
	}
	return 0;
}

static int start_cmp(const void *x, const void *y, void *ctx)
{
	const struct profile *p = ctx;
	uint64_t a = p->mappings[*(const uint32_t *)x].start;
	uint64_t b = p->mappings[*(const uint32_t *)y].start;

	return (a > b) - (a < b);
}

static PbMapping mapping(const struct profile *p, uint32_t idx, uint64_t id)
{
	const struct pp_mapping *m = &p->mappings[idx];
	PbMapping pb = PERFTOOLS__PROFILES__MAPPING__INIT;

	pb.id = id;
	pb.memory_start = m->start;
	pb.memory_limit = m->limit;
	pb.file_offset = m->file_offset;
	pb.filename = m->path;
	pb.build_id = m->build_id;
	/* Tells consumers that symbolizing again gains nothing. */
	pb.has_functions = m->has_symbols;
	pb.has_filenames = m->has_dwarf;
	pb.has_line_numbers = m->has_dwarf;
	pb.has_inline_frames = m->has_dwarf;
	return pb;
}

/*
 * Ordered by address: pprof takes the first mapping for the main binary,
 * and the executable (PIE or not) is mapped below its shared libraries.
 */
static int build_mappings(const struct profile *p, struct pb_build *b)
{
	uint32_t *order;

	if (!ALLOC_ARRAY(b->mappings, p->nmappings) ||
	    !ALLOC_ARRAY(b->mapping_ptrs, p->nmappings) ||
	    !ALLOC_ARRAY(b->mapping_ids, p->nmappings) ||
	    !ALLOC_ARRAY(order, p->nmappings))
		return -ENOMEM;
	for (uint32_t i = 0; i < p->nmappings; i++)
		order[i] = i;
	qsort_r(order, p->nmappings, sizeof(*order), start_cmp, (void *)p);
	for (size_t i = 0; i < p->nmappings; i++) {
		b->mapping_ids[order[i]] = i + 1;
		b->mappings[i] = mapping(p, order[i], i + 1);
		b->mapping_ptrs[i] = &b->mappings[i];
	}
	free(order);
	b->pb.n_mapping = p->nmappings;
	b->pb.mapping = b->mapping_ptrs;
	return 0;
}

static int build_functions(const struct profile *p, struct pb_build *b)
{
	if (!ALLOC_ARRAY(b->functions, p->nfunctions) ||
	    !ALLOC_ARRAY(b->function_ptrs, p->nfunctions))
		return -ENOMEM;
	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct pp_function *f = &p->functions[i];
		PbFunction pb = PERFTOOLS__PROFILES__FUNCTION__INIT;

		pb.id = i + 1;
		pb.name = f->name;
		pb.system_name = f->system_name;
		pb.filename = f->file;
		pb.start_line = f->start_line;
		b->functions[i] = pb;
		b->function_ptrs[i] = &b->functions[i];
	}
	b->pb.n_function = p->nfunctions;
	b->pb.function = b->function_ptrs;
	return 0;
}

static void fill_lines(const struct pp_location *loc, PbLine *lines,
		       PbLine **ptrs)
{
	for (uint32_t i = 0; i < loc->nlines; i++) {
		PbLine pb = PERFTOOLS__PROFILES__LINE__INIT;

		pb.function_id = loc->lines[i].function + 1;
		pb.line = loc->lines[i].line;
		lines[i] = pb;
		ptrs[i] = &lines[i];
	}
}

static int build_locations(const struct profile *p, struct pb_build *b)
{
	size_t nlines = 0;

	for (size_t i = 0; i < p->nlocations; i++)
		nlines += p->locations[i].nlines;
	if (!ALLOC_ARRAY(b->locations, p->nlocations) ||
	    !ALLOC_ARRAY(b->location_ptrs, p->nlocations) ||
	    !ALLOC_ARRAY(b->lines, nlines) ||
	    !ALLOC_ARRAY(b->line_ptrs, nlines))
		return -ENOMEM;
	nlines = 0;
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct pp_location *loc = &p->locations[i];
		PbLocation pb = PERFTOOLS__PROFILES__LOCATION__INIT;

		pb.id = i + 1;
		pb.mapping_id = loc->mapping == PP_NO_MAPPING
					? 0
					: b->mapping_ids[loc->mapping];
		pb.address = loc->pc;
		pb.n_line = loc->nlines;
		pb.line = &b->line_ptrs[nlines];
		fill_lines(loc, &b->lines[nlines], &b->line_ptrs[nlines]);
		nlines += loc->nlines;
		b->locations[i] = pb;
		b->location_ptrs[i] = &b->locations[i];
	}
	b->pb.n_location = p->nlocations;
	b->pb.location = b->location_ptrs;
	return 0;
}

static void fill_labels(const struct pp_sample *s, PbLabel *labels,
			PbLabel **ptrs)
{
	for (uint32_t i = 0; i < s->nlabels; i++) {
		const struct pp_label *l = &s->labels[i];
		PbLabel pb = PERFTOOLS__PROFILES__LABEL__INIT;

		pb.key = l->key;
		if (l->numeric)
			pb.num = l->num;
		else
			pb.str = l->str;
		labels[i] = pb;
		ptrs[i] = &labels[i];
	}
}

static int build_samples(const struct profile *p, struct pb_build *b)
{
	size_t nlocs = 0, nlabels = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		nlocs += p->samples[i].depth;
		nlabels += p->samples[i].nlabels;
	}
	if (!ALLOC_ARRAY(b->samples, p->nsamples) ||
	    !ALLOC_ARRAY(b->sample_ptrs, p->nsamples) ||
	    !ALLOC_ARRAY(b->location_ids, nlocs) ||
	    !ALLOC_ARRAY(b->labels, nlabels) ||
	    !ALLOC_ARRAY(b->label_ptrs, nlabels))
		return -ENOMEM;
	nlocs = nlabels = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct pp_sample *s = &p->samples[i];
		PbSample pb = PERFTOOLS__PROFILES__SAMPLE__INIT;

		pb.n_location_id = s->depth;
		pb.location_id = &b->location_ids[nlocs];
		for (uint32_t d = 0; d < s->depth; d++)
			b->location_ids[nlocs++] = s->locations[d] + 1;
		pb.n_value = p->ntypes;
		pb.value = s->values;
		pb.n_label = s->nlabels;
		pb.label = &b->label_ptrs[nlabels];
		fill_labels(s, &b->labels[nlabels], &b->label_ptrs[nlabels]);
		nlabels += s->nlabels;
		b->samples[i] = pb;
		b->sample_ptrs[i] = &b->samples[i];
	}
	b->pb.n_sample = p->nsamples;
	b->pb.sample = b->sample_ptrs;
	return 0;
}

static int build_profile(const struct profile *p, struct pb_build *b)
{
	PbProfile pb = PERFTOOLS__PROFILES__PROFILE__INIT;
	int ret;

	b->pb = pb;
	b->pb.n_string_table = p->nstrings;
	b->pb.string_table = p->strings;
	b->pb.time_nanos = p->time_nanos;
	b->pb.duration_nanos = p->duration_nanos;
	if (!ALLOC_ARRAY(b->comments, p->ncomments))
		return -ENOMEM;
	for (size_t i = 0; i < p->ncomments; i++)
		b->comments[i] = p->comments[i];
	b->pb.n_comment = p->ncomments;
	b->pb.comment = b->comments;
	if ((ret = build_types(p, b)) < 0 || (ret = build_mappings(p, b)) < 0 ||
	    (ret = build_functions(p, b)) < 0 ||
	    (ret = build_locations(p, b)) < 0 ||
	    (ret = build_samples(p, b)) < 0)
		return ret;
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *pos = buf;

	while (len) {
		ssize_t n = write(fd, pos, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		pos += n;
		len -= n;
	}
	return 0;
}

#define GZIP_CHUNK (64 * 1024)

static int deflate_to_fd(z_stream *zs, int fd)
{
	unsigned char out[GZIP_CHUNK];
	int zret, ret;

	do {
		zs->next_out = out;
		zs->avail_out = sizeof(out);
		zret = deflate(zs, Z_FINISH);
		if (zret == Z_STREAM_ERROR)
			return -EINVAL;
		ret = write_all(fd, out, sizeof(out) - zs->avail_out);
		if (ret < 0)
			return ret;
	} while (zret != Z_STREAM_END);
	return 0;
}

/* gzip, not raw zlib: pprof consumers sniff the gzip magic. */
static int gzip_to_fd(const uint8_t *data, size_t len, int fd)
{
	z_stream zs = {0};
	int ret;

	if (len > UINT_MAX)
		return -EFBIG;
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS,
			 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)data;
	zs.avail_in = len;
	ret = deflate_to_fd(&zs, fd);
	deflateEnd(&zs);
	return ret;
}

int profile_write_pprof(const struct profile *profile, int fd)
{
	struct pb_build b = {0};
	uint8_t *packed = NULL;
	size_t len;
	int ret;

	if (!profile || fd < 0)
		return -EINVAL;
	ret = build_profile(profile, &b);
	if (ret < 0)
		goto cleanup;
	len = perftools__profiles__profile__get_packed_size(&b.pb);
	packed = malloc(len + 1);
	ret = -ENOMEM;
	if (!packed)
		goto cleanup;
	perftools__profiles__profile__pack(&b.pb, packed);
	ret = gzip_to_fd(packed, len, fd);
cleanup:
	free(packed);
	pb_build_release(&b);
	return ret;
}
