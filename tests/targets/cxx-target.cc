// The C++ target: frames in namespaces, class templates, function
// templates and an anonymous namespace, so the dump shows demangled names
// such as cproftest::Widget<int>::park().  Prints "ready PID" once every
// thread is parked.
#include "target.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace cproftest
{
namespace detail
{
template <typename T> NOIPA NORETURN void sleep_forever(T secs)
{
	const struct timespec ts = { static_cast<time_t>(secs), 0 };

	for (;;) {
		nanosleep(&ts, nullptr);
		KEEP_FRAME();
	}
}

SPACER(detail_spacer0)

template <typename T, int N> struct Holder {
	NOIPA static void hold(int fd)
	{
		char c[N];

		for (;;) {
			if (read(fd, c, sizeof(c)) == 0)
				abort();
			KEEP_FRAME();
		}
	}
};
} // namespace detail

SPACER(cproftest_spacer0)

template <typename T> class Widget
{
      public:
	NOIPA void park()
	{
		detail::sleep_forever<T>(value_);
	}
	T value_ = 1000000;
};

SPACER(cproftest_spacer1)

class Gadget
{
      public:
	NOIPA void wait(int fd)
	{
		detail::Holder<double, 3>::hold(fd);
		KEEP_FRAME();
	}
};

SPACER(cproftest_spacer2)

namespace
{
NOIPA NORETURN void main_wait()
{
	for (;;) {
		pause();
		KEEP_FRAME();
	}
}
} // namespace
} // namespace cproftest

extern "C" {
static void *widget_main(void *arg)
{
	cproftest::Widget<int> w;

	target_announce("cxx-widget", SYS_clock_nanosleep);
	w.park();
	KEEP_FRAME();
	return arg;
}

static void *gadget_main(void *arg)
{
	cproftest::Gadget g;
	int fds[2];

	if (pipe(fds) < 0)
		abort();
	target_announce("cxx-gadget", SYS_read);
	g.wait(fds[0]);
	KEEP_FRAME();
	return arg;
}
}

int main()
{
	pthread_t t;

	target_counter_init();
	if (pthread_create(&t, nullptr, widget_main, nullptr) != 0 ||
	    pthread_create(&t, nullptr, gadget_main, nullptr) != 0)
		return 99;
	target_wait_parked(2);
	target_ready();
	cproftest::main_wait();
}
