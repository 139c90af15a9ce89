//! A benchmark's child process, measured: its peak resident memory, as the
//! kernel reports it when the child ends (`wait4`), and its wall time.

use std::time::Instant;

/// Peak resident memory of a finished child, in MiB, and its wall time.
pub struct Run {
    pub peak_mib: f64,
    pub seconds: f64,
}

/// Waits for `child`, which must end well (or on SIGINT), and measures it.
pub fn wait_measured(child: std::process::Child, what: &str) -> Run {
    let start = Instant::now();
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct,
    // and `wait4` writes it for a pid that is our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: both pointers are to live locals of the right types.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "{what}: wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
            || libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGINT,
        "{what} failed with status {status}"
    );
    Run {
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        seconds: start.elapsed().as_secs_f64(),
    }
}
