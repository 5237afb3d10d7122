//! Fault points: every step that changes DEST, mtpull's state or the phone (a file
//! created, written, fsynced, renamed, linked or removed, a folder made or fsynced, a
//! manifest commit, an intent record, a deletion or an upload on the device) first calls
//! [`step`]. Normally that does nothing. A test (the cut campaign) arms a [`Plan`] on its
//! thread that crashes the run at the n-th step, or makes that step fail as a failed
//! system call would, and then checks what the cut left.
//!
//! The plan is per thread, so tests running in parallel do not see each other's. Every
//! step of a run is taken on the thread that started it (worker threads only date files,
//! or fsync a batch or a finished download whose step was taken before they started).
//!
//! A whole process can be cut too: with `MTPULL_FAULT_KILL_AT=N` in its environment,
//! mtpull sends itself SIGKILL at its n-th step, on whichever thread takes it. Nothing
//! runs after that — no destructor, no rollback, no temp cleanup — as after a real kill
//! (the campaign's kill mode runs the binary that way).
//!
//! A watcher outside the process can follow its progress: with `MTPULL_FAULT_TRACE=FILE`
//! every step appends one line `N<TAB>what` to FILE (one write each, made before the step
//! is done), so the last line is the step the process has reached. The power-cut test
//! cuts a whole virtual machine at a step chosen this way, whatever the machine's speed.
//! Without the `sim` feature (the simulator and everything tests need) steps compile
//! to nothing.

use std::io;

/// What happens at the chosen step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The process dies there: the run unwinds with a [`Crash`] payload.
    Crash,
    /// The step's system call fails (EIO), and the run carries on as it would.
    Fail,
    /// The process sends itself SIGKILL there: no unwinding, nothing cleaned up.
    Kill,
}

/// The environment variable that kills the process at its n-th step (see the module).
pub const KILL_AT_VAR: &str = "MTPULL_FAULT_KILL_AT";

/// The environment variable naming the file every step is traced to (see the module).
pub const TRACE_VAR: &str = "MTPULL_FAULT_TRACE";

/// The payload a crash unwinds with: the step it happened at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crash(pub &'static str);

#[cfg(feature = "sim")]
mod armed {
    use std::cell::RefCell;
    use std::fs::{File, OpenOptions};
    use std::io::{self, Write};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock};

    use super::{Action, Crash, KILL_AT_VAR, TRACE_VAR};

    /// Which step to cut, and the steps seen so far.
    #[derive(Debug)]
    pub struct Plan {
        at: u64,
        action: Action,
        seen: AtomicU64,
        hit: Mutex<Option<&'static str>>,
        log: Mutex<Vec<&'static str>>,
    }

    impl Plan {
        /// Cuts at the `at`-th step (1-based; 0 never cuts, to count the steps).
        pub fn new(at: u64, action: Action) -> Arc<Plan> {
            Arc::new(Plan {
                at,
                action,
                seen: AtomicU64::new(0),
                hit: Mutex::new(None),
                log: Mutex::new(Vec::new()),
            })
        }

        /// Steps taken so far.
        pub fn steps(&self) -> u64 {
            self.seen.load(Ordering::SeqCst)
        }

        /// Every step taken, in order (the cut one last).
        pub fn log(&self) -> Vec<&'static str> {
            self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
        }

        /// The step that was cut, if the run reached it.
        pub fn hit(&self) -> Option<&'static str> {
            *self.hit.lock().unwrap_or_else(|e| e.into_inner())
        }
    }

    thread_local! {
        static PLAN: RefCell<Option<Arc<Plan>>> = const { RefCell::new(None) };
    }

    /// Arms `plan` on this thread until the guard is dropped.
    pub fn adopt(plan: Option<Arc<Plan>>) -> Armed {
        let before = PLAN.with(|p| p.replace(plan));
        Armed(before)
    }

    /// The plan armed on this thread (to carry into worker threads), else the
    /// process's own from [`KILL_AT_VAR`].
    pub fn current() -> Option<Arc<Plan>> {
        PLAN.with(|p| p.borrow().clone())
            .or_else(|| process_plan().clone())
    }

    /// The plan the environment arms for the whole process, read once.
    fn process_plan() -> &'static Option<Arc<Plan>> {
        static PROCESS: OnceLock<Option<Arc<Plan>>> = OnceLock::new();
        PROCESS.get_or_init(|| {
            let at = std::env::var(KILL_AT_VAR).ok()?;
            match at.parse::<u64>() {
                Ok(at) if at > 0 => Some(Plan::new(at, Action::Kill)),
                _ => panic!("{KILL_AT_VAR}={at}: expected a step number from 1"),
            }
        })
    }

    /// Restores the thread's previous plan when dropped.
    #[must_use = "the plan is disarmed when this is dropped"]
    pub struct Armed(Option<Arc<Plan>>);

    impl Drop for Armed {
        fn drop(&mut self) {
            let before = self.0.take();
            PLAN.with(|p| *p.borrow_mut() = before);
        }
    }

    /// The trace file from [`TRACE_VAR`] and the steps written to it, opened once.
    fn trace() -> &'static Option<Mutex<(File, u64)>> {
        static TRACE: OnceLock<Option<Mutex<(File, u64)>>> = OnceLock::new();
        TRACE.get_or_init(|| {
            let path = std::env::var_os(TRACE_VAR)?;
            match OpenOptions::new().create(true).append(true).open(&path) {
                Ok(file) => Some(Mutex::new((file, 0))),
                Err(e) => panic!("{TRACE_VAR}={}: cannot open: {e}", path.to_string_lossy()),
            }
        })
    }

    /// Appends the step to the trace, if one is asked for: one line, one write, so a
    /// watcher never reads half a step (unless the machine dies within the write).
    fn trace_step(what: &'static str) {
        if let Some(trace) = trace() {
            let mut trace = trace.lock().unwrap_or_else(|e| e.into_inner());
            trace.1 += 1;
            let line = format!("{}\t{what}\n", trace.1);
            // A trace that cannot be written only blinds the watcher; the run goes on.
            let _ = trace.0.write_all(line.as_bytes());
        }
    }

    pub(super) fn step(what: &'static str) -> io::Result<()> {
        trace_step(what);
        let Some(plan) = current() else {
            return Ok(());
        };
        let n = plan.seen.fetch_add(1, Ordering::SeqCst) + 1;
        plan.log.lock().unwrap_or_else(|e| e.into_inner()).push(what);
        if n != plan.at {
            return Ok(());
        }
        *plan.hit.lock().unwrap_or_else(|e| e.into_inner()) = Some(what);
        match plan.action {
            Action::Crash => std::panic::panic_any(Crash(what)),
            Action::Fail => Err(io::Error::other(format!("injected failure at step {n} ({what})"))),
            Action::Kill => {
                // SIGKILL cannot be caught: the process ends here, whichever thread sent it.
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
                unreachable!("the process survived its own SIGKILL at step {n} ({what})")
            }
        }
    }
}

#[cfg(feature = "sim")]
pub use armed::{Armed, Plan, adopt, current};

/// Marks one step that changes DEST, mtpull's state or the phone (see the module).
/// Fails only when a test armed a failure here.
#[inline]
pub fn step(what: &'static str) -> io::Result<()> {
    #[cfg(feature = "sim")]
    return armed::step(what);
    #[cfg(not(feature = "sim"))]
    {
        let _ = what;
        Ok(())
    }
}
