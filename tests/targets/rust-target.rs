//! The Rust target: threads parked in named frames whose symbols carry
//! Rust's v0 mangling (built with -C symbol-mangling-version=v0): generic
//! arguments, a const generic, a trait implementation and closures, each
//! of which the demangled name must show.
//!
//!   rust-target  main_park ...                       pause
//!   rs-sleeper   <park::Sleeper<3>>::nap ...         nanosleep
//!   rs-reader    <park::Pipe<u8> as park::Wait>::wait ...   read
//!   rs-closure   run::<main::{closure#0}> ...        read, spawned by std
//!
//! Blocking calls go straight to libc, so that each chain is exact from
//! the system call to the thread's start; only the std thread's start
//! passes through std's own frames.  Prints "ready PID" once every thread
//! is about to block.  The "line:" comments name the lines the tests
//! expect a frame at.
use std::os::raw::{c_char, c_int, c_long, c_void};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[repr(C)]
pub struct Timespec {
    tv_sec: c_long,
    tv_nsec: c_long,
}

extern "C" {
    fn nanosleep(req: *const Timespec, rem: *mut Timespec) -> c_int;
    fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
    fn pipe(fds: *mut c_int) -> c_int;
    fn pause() -> c_int;
    fn pthread_self() -> usize;
    fn pthread_create(
        thread: *mut usize,
        attr: *const c_void,
        start: extern "C" fn(*mut c_void) -> *mut c_void,
        arg: *mut c_void,
    ) -> c_int;
    fn pthread_setname_np(thread: usize, name: *const c_char) -> c_int;
}

/// Never set: the parked functions loop for ever, yet may return, so that
/// no call to them is a tail call or followed by nothing.
static STOP: AtomicBool = AtomicBool::new(false);
/// Threads about to block.
static PARKED: AtomicUsize = AtomicUsize::new(0);
static mut SINK: u64 = 0;

/// What every caller does with a callee's result: a store the compiler
/// must keep, after the call.
fn keep(value: u64) {
    unsafe { ptr::write_volatile(ptr::addr_of_mut!(SINK), value) }
}

fn name_thread(name: &[u8]) {
    unsafe { pthread_setname_np(pthread_self(), name.as_ptr() as *const c_char) };
}

pub mod park {
    use super::*;

    pub trait Wait {
        fn wait(&self) -> u64;
    }

    pub struct Sleeper<const N: usize>;

    impl<const N: usize> Sleeper<N> {
        #[inline(never)]
        pub fn nap(&self) -> u64 {
            let ts = Timespec { tv_sec: 3600 * N as c_long, tv_nsec: 0 };
            let mut naps = 0;
            PARKED.fetch_add(1, Ordering::SeqCst);
            while !STOP.load(Ordering::Relaxed) {
                unsafe { nanosleep(&ts, ptr::null_mut()) }; /* line: nap */
                naps += 1;
            }
            naps
        }
    }

    pub struct Pipe<T> {
        pub fd: c_int,
        pub byte: T,
    }

    impl Wait for Pipe<u8> {
        #[inline(never)]
        fn wait(&self) -> u64 {
            let mut buf = [self.byte; 1];
            let mut total = 0;
            PARKED.fetch_add(1, Ordering::SeqCst);
            while !STOP.load(Ordering::Relaxed) {
                let n = unsafe { read(self.fd, buf.as_mut_ptr() as *mut c_void, 1) }; /* line: wait */
                total += n as u64;
            }
            total
        }
    }

    pub fn open_pipe() -> Pipe<u8> {
        let mut fds = [0 as c_int; 2];
        if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
            std::process::exit(99);
        }
        // The write end stays open and unwritten: the read blocks for ever.
        Pipe { fd: fds[0], byte: 0 }
    }
}

#[inline(never)]
fn hold<W: park::Wait>(w: &W) -> u64 {
    let r = w.wait(); /* line: hold */
    keep(r);
    r + 1
}

#[inline(never)]
fn run<F: Fn() -> u64>(f: F) -> u64 {
    let r = f(); /* line: run */
    keep(r);
    r + 1
}

#[inline(never)]
fn sleeper_main() -> u64 {
    let r = park::Sleeper::<3>.nap(); /* line: sleeper_main */
    keep(r);
    r + 1
}

extern "C" fn sleeper_start(arg: *mut c_void) -> *mut c_void {
    name_thread(b"rs-sleeper\0");
    keep(sleeper_main());
    arg
}

extern "C" fn reader_start(arg: *mut c_void) -> *mut c_void {
    name_thread(b"rs-reader\0");
    let pipe = park::open_pipe();
    keep(hold(&pipe));
    arg
}

fn spawn(start: extern "C" fn(*mut c_void) -> *mut c_void) {
    let mut t = 0usize;
    if unsafe { pthread_create(&mut t, ptr::null(), start, ptr::null_mut()) } != 0 {
        std::process::exit(99);
    }
}

#[inline(never)]
fn main_park() -> u64 {
    let mut n = 0;
    while !STOP.load(Ordering::Relaxed) {
        unsafe { pause() }; /* line: main_park */
        n += 1;
    }
    n
}

fn main() {
    spawn(sleeper_start);
    spawn(reader_start);
    let pipe = park::open_pipe();
    std::thread::Builder::new()
        .name("rs-closure".into())
        .spawn(move || {
            let r = run(|| park::Wait::wait(&pipe)); /* line: closure */
            keep(r);
        })
        .unwrap_or_else(|_| std::process::exit(99));
    while PARKED.load(Ordering::SeqCst) < 3 {
        std::thread::yield_now();
    }
    println!("ready {}", std::process::id());
    keep(main_park());
}
