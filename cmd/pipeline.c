/* SPDX-License-Identifier: MIT */
#include "cmd/pipeline.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cmd/util.h"
#include "config.h"

int pipeline_init(struct pipeline *p, struct addrspace *as,
		  enum unwinder_kind kind)
{
	int r;

	*p = (struct pipeline){.as = as};
	r = unwinder_new(kind, as, &p->unwinder);
	if (r >= 0)
		r = symbolizer_new(as, &p->symbolizer);
	if (r < 0)
		pipeline_release(p);
	return r;
}

void pipeline_release(struct pipeline *p)
{
	symbolizer_free(p->symbolizer);
	unwinder_free(p->unwinder);
	addrspace_free(p->as);
	*p = (struct pipeline){0};
}

static bool stack_leaves_modules(struct pipeline *p, size_t depth)
{
	for (size_t i = 0; i < depth; i++)
		if (!addrspace_module_at(p->as, p->frames[i].pc))
			return true;
	return false;
}

static int unwind(struct pipeline *p, const struct raw_sample *sample,
		  size_t *ret_depth)
{
	int r;

	r = unwinder_unwind(p->unwinder, sample, p->frames, UNWIND_MAX_FRAMES,
			    ret_depth);
	if (!p->may_refresh || !stack_leaves_modules(p, *ret_depth))
		return r;
	/* A library loaded since the maps were read: read them again. */
	p->may_refresh = false;
	if (addrspace_refresh(p->as) < 0)
		return r;
	return unwinder_unwind(p->unwinder, sample, p->frames,
			       UNWIND_MAX_FRAMES, ret_depth);
}

int pipeline_stack(struct pipeline *p, const struct raw_sample *sample,
		   size_t *ret_depth)
{
	size_t depth = 0;

	if (sample->captured && unwind(p, sample, &depth) < 0)
		p->cut_stacks++;
	for (size_t i = 0; i < depth; i++) {
		p->stack[i] = symbolizer_lookup(p->symbolizer, &p->frames[i]);
		if (!p->stack[i])
			return -ENOMEM;
	}
	*ret_depth = depth;
	return 0;
}

static const char *wait_name(const struct thread_info *info, char *buf,
			     size_t size)
{
	const char *name;

	if (info->syscall.running || info->syscall.nr < 0)
		return NULL;
	name = procfs_syscall_name(info->syscall.nr);
	if (name)
		return name;
	snprintf(buf, size, "syscall_%ld", info->syscall.nr);
	return buf;
}

size_t pipeline_labels(const struct thread_info *info, struct label *labels,
		       char *buf, size_t size)
{
	size_t n = 0;
	const char *wait;

	labels[n++] = (struct label){.key = LABEL_THREAD_ID, .num = info->tid};
	labels[n++] =
		(struct label){.key = LABEL_THREAD_NAME, .str = info->name};
	labels[n++] = (struct label){.key = LABEL_STATE,
				     .str = procfs_state_name(info->state)};
	wait = wait_name(info, buf, size);
	if (wait)
		labels[n++] = (struct label){.key = LABEL_WAIT, .str = wait};
	return n;
}

int pipeline_comment(struct profile *profile, pid_t pid)
{
	char link[64], exe[PATH_MAX], comment[PATH_MAX + 32];
	ssize_t len;
	int r;

	snprintf(comment, sizeof(comment), "cprof %s", CPROF_VERSION);
	r = profile_add_comment(profile, comment);
	if (r < 0)
		return r;
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	if (len <= 0)
		return 0;
	exe[len] = '\0';
	snprintf(comment, sizeof(comment), "executable: %s", exe);
	return profile_add_comment(profile, comment);
}

void report_target_error(pid_t pid, int err)
{
	char why[256];

	switch (err) {
	case -ESRCH:
		cprof_error("pid %d: no such process", pid);
		break;
	case -ECHILD:
		cprof_error("pid %d: process is a zombie; it has exited and "
			    "waits for its parent to reap it",
			    pid);
		break;
	case -EINVAL:
		cprof_error("pid %d: a kernel thread has no user stack to "
			    "show",
			    pid);
		break;
	case -EPERM:
		cprof_error("pid %d: ptrace not permitted: %s; or start it "
			    "under cprof with 'cprof record -- COMMAND'",
			    pid, target_explain_eperm(pid, why, sizeof(why)));
		break;
	default:
		cprof_error_errno(err, "pid %d: cannot attach", pid);
	}
}
