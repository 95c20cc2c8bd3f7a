/* SPDX-License-Identifier: MIT */
/*
 * The keeper: cprof's child, the command's parent.  It reports three ints
 * on its pipe, in order: the command's pid, the exec's errno (0: the exec
 * happened), and the command's wait status once it ends.  It ignores the
 * signals that end cprof, so that a Ctrl-C at the terminal, or a SIGTERM
 * to the whole process group, which the command gets too, does not orphan
 * the command and lose its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/keeper.h"

struct keeper {
	pid_t keeper_pid, command_pid;
	int go_fd;     /* to the command: "g" lets it exec */
	int report_fd; /* from the keeper */
	bool released;
};

static int read_int(int fd, int *ret)
{
	ssize_t n;

	do
		n = read(fd, ret, sizeof(*ret));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(*ret) ? 0 : -EPIPE;
}

static void write_int(int fd, int value)
{
	(void)!write(fd, &value, sizeof(value));
}

/* In the keeper: start the command, report, wait for it, report. */
static void __attribute__((noreturn))
keep(char *const argv[], int go_fd, int report_fd)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	int err_pipe[2], err = 0, status = 0;
	pid_t pid;

	sigaction(SIGINT, &ign, NULL);
	sigaction(SIGQUIT, &ign, NULL);
	sigaction(SIGHUP, &ign, NULL);
	sigaction(SIGTERM, &ign, NULL);
	if (pipe2(err_pipe, O_CLOEXEC) < 0)
		_exit(127);
	pid = fork();
	if (pid == 0) {
		close(err_pipe[0]);
		launch_exec(argv, go_fd, err_pipe[1]);
	}
	close(err_pipe[1]);
	close(go_fd);
	write_int(report_fd, pid < 0 ? -1 : pid);
	if (pid < 0)
		_exit(127);
	if (read_int(err_pipe[0], &err) < 0)
		err = 0; /* EOF: the exec closed the pipe */
	write_int(report_fd, err);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	write_int(report_fd, status);
	_exit(0);
}

static void close_pair(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

int keeper_spawn(char *const argv[], struct keeper **ret_keeper, pid_t *ret_pid)
{
	struct keeper *k = calloc(1, sizeof(*k));
	int go[2], report[2], pid, r;

	if (!k)
		return -ENOMEM;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0) {
		r = -errno;
		free(k);
		return r;
	}
	k->keeper_pid = fork();
	if (k->keeper_pid == 0) {
		close(go[1]);
		close(report[0]);
		keep(argv, go[0], report[1]);
	}
	if (k->keeper_pid < 0) {
		r = -errno;
		close_pair(go);
		close_pair(report);
		free(k);
		return r;
	}
	close(go[0]);
	close(report[1]);
	k->go_fd = go[1];
	k->report_fd = report[0];
	r = read_int(k->report_fd, &pid);
	if (r == 0 && pid <= 0)
		r = -EAGAIN;
	if (r < 0) {
		keeper_free(k);
		return r;
	}
	k->command_pid = pid;
	*ret_keeper = k;
	*ret_pid = pid;
	return 0;
}

int keeper_release(struct keeper *k)
{
	int err = 0, r = 0;

	if (write(k->go_fd, "g", 1) != 1)
		r = -errno;
	close(k->go_fd);
	k->go_fd = -1;
	k->released = true;
	if (r == 0)
		r = read_int(k->report_fd, &err);
	return r < 0 ? r : -err;
}

int keeper_wait(struct keeper *k, bool terminate, int *ret_status)
{
	int status, r;

	if (terminate && k->released)
		kill(k->command_pid, SIGTERM);
	r = read_int(k->report_fd, &status);

	if (r == 0)
		*ret_status = status;
	return r;
}

void keeper_free(struct keeper *k)
{
	if (!k)
		return;
	/* Unreleased, the command reads EOF and exits 127, unrun. */
	if (k->go_fd >= 0)
		close(k->go_fd);
	close(k->report_fd);
	while (waitpid(k->keeper_pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(k);
}
