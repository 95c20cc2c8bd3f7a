# The expected stacks of the test targets, as `grep -E -x` patterns over a
# thread's function names joined with ";", innermost first.  Our own frames
# are named exactly; glibc's may carry the prefixes and version suffixes of
# its internal aliases (__GI___poll, __libc_read, pthread_cond_wait@@GLIBC_2.3.2).
#
# Sourced after lib.sh.

# lc NAME: a glibc function under any of its names.
lc()
{
	printf '(__GI_)?_*(libc_)?%s(@@?GLIBC_[0-9.]+)?' "$1"
}

chain_start="start_thread;(__GI_)?_*clone3?"
chain_main="main;(__GI_)?_*libc_start_call_main;(__GI_)?_*libc_start_main(_impl|@@?GLIBC_[0-9.]+)?;_start"
chain_sleep="$(lc clock_nanosleep);$(lc nanosleep)"
chain_read="($(lc read);){0,1}$(lc read)"
chain_cond="((__GI_)?_*futex_abstimed_wait_common(64)?;){1,2}(__pthread_cond_wait_common;)?$(lc pthread_cond_wait)"

# expected_parked NAME: the pattern for the thread called NAME in `parked`.
expected_parked()
{
	case $1 in
	parked) echo "$(lc pause);main_park;$chain_main" ;;
	mutex) echo "(futex_wait;)?$(lc lll_lock_wait);(lll_mutex_lock_optimized;)?$(lc pthread_mutex_lock);mutex_inner;mutex_outer;mutex_main;$chain_start" ;;
	cond) echo "$chain_cond;cond_inner;cond_outer;cond_main;$chain_start" ;;
	pool-*) echo "$chain_cond;pool_wait;pool_main;$chain_start" ;;
	epoll) echo "$(lc epoll_wait);epoll_inner;epoll_outer;epoll_main;$chain_start" ;;
	poll) echo "$(lc poll);poll_inner;poll_outer;poll_main;$chain_start" ;;
	read) echo "$chain_read;read_inner;read_outer;read_main;$chain_start" ;;
	sleep) echo "$chain_sleep;sleep_inner;sleep_outer;sleep_main;$chain_start" ;;
	sigwait) echo "$(lc sigtimedwait);(do_sigwait;)?$(lc sigwait);sigwait_inner;sigwait_outer;sigwait_main;$chain_start" ;;
	busy) echo "((__vdso_)?clock_gettime(@@?LINUX_[0-9.]+)?;)?($(lc clock_gettime);)?busy_spin;busy_outer;busy_main;$chain_start" ;;
	sighandler) echo "$chain_read;signal_handler_park;signal_handler;(__)?restore_rt;$(lc pause);signal_victim;signal_main;$chain_start" ;;
	dlopen) echo "$chain_sleep;dl_inner;dl_outer;dlopen_main;$chain_start" ;;
	recurse) echo "$chain_sleep;recurse_bottom;(recurse;){1000}recurse_main;$chain_start" ;;
	inline) echo "$chain_sleep;inline_leaf;inline_mid;inline_outer;inline_main;$chain_start" ;;
	*) return 1 ;;
	esac
}

# wait_in SYSCALL FRESH: the header's "[...]" pattern of a thread asleep in
# SYSCALL.  Once a tracer has stopped a thread in nanosleep or poll (cprof
# itself, on an earlier run: FRESH is 0), the kernel resumes the call as
# restart_syscall, and /proc reports that.
wait_in()
{
	case $1 in
	clock_nanosleep | poll)
		[ "$2" = 1 ] || set -- "($1|restart_syscall)" ;;
	esac
	echo "\\[$1, sleeping\\]"
}

# parked_wait NAME: the system call the thread called NAME in `parked`
# waits in on a fresh target, empty for the busy thread.
parked_wait()
{
	case $1 in
	parked) echo pause ;;
	mutex | cond | pool-*) echo futex ;;
	epoll) echo epoll_wait ;;
	poll) echo poll ;;
	read | sighandler) echo read ;;
	sleep | dlopen | recurse | inline) echo clock_nanosleep ;;
	sigwait) echo rt_sigtimedwait ;;
	busy) echo ;;
	*) return 1 ;;
	esac
}

# expected_parked_header NAME FRESH: the pattern for the header's "[...]".
expected_parked_header()
{
	local wait
	wait=$(parked_wait "$1") || return 1
	if [ -n "$wait" ]; then
		wait_in "$wait" "$2"
	else
		echo '\[(clock_gettime, )?running\]'
	fi
}

# expected_cxx NAME: the pattern for the thread called NAME in `cxx-target`.
# Demangled names may come with or without their parameter list.
expected_cxx()
{
	case $1 in
	cxx-target) echo "$(lc pause);cproftest::\(anonymous namespace\)::main_wait(\(\))?;$chain_main" ;;
	cxx-widget) echo "$chain_sleep;(void )?cproftest::detail::sleep_forever<int>(\(int\))?;cproftest::Widget<int>::park(\(\))?;widget_main;$chain_start" ;;
	cxx-gadget) echo "$chain_read;cproftest::detail::Holder<double, 3>::hold(\(int\))?;cproftest::Gadget::wait(\(int\))?;gadget_main;$chain_start" ;;
	*) return 1 ;;
	esac
}

expected_cxx_header()
{
	case $1 in
	cxx-target) wait_in pause "$2" ;;
	cxx-widget) wait_in clock_nanosleep "$2" ;;
	cxx-gadget) wait_in read "$2" ;;
	*) return 1 ;;
	esac
}
