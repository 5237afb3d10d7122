//! `mtpull watch`: a backup for each device that arrives, one thread per
//! device, until told to stop. Devices may come and go at any time: a device
//! that comes back while its last backup is still winding down (the unplug
//! makes it fail) is backed up again as soon as that one ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::{self, ScopedJoinHandle};
use std::time::Duration;

use super::arrivals::{Arrival, DeviceEvent};

/// How often the stop flag is looked at while no device event comes.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Runs `job` for each device arriving on `events`, until `stop` is raised
/// (then waits for the running jobs, which should watch the same flag) or the
/// channel closes (then lets the running jobs finish). `log` gets the
/// watcher's own lines: arrivals, departures, reruns.
pub fn watch(
    events: &Receiver<DeviceEvent>,
    stop: &AtomicBool,
    job: &(dyn Fn(Arrival) + Sync),
    log: &(dyn Fn(&str) + Sync),
) {
    thread::scope(|scope| {
        let mut running: HashMap<String, Running<'_>> = HashMap::new();
        let start = |arrival: Arrival| {
            let id = arrival.id.clone();
            let handle = thread::Builder::new()
                .name(format!("backup {id}"))
                .spawn_scoped(scope, move || job(arrival))
                .expect("spawning a backup thread");
            Running { handle, again: None }
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match events.recv_timeout(STOP_POLL) {
                Ok(DeviceEvent::Arrived(arrival)) => {
                    log(&format!("{}: connected", arrival.name));
                    match running.get_mut(&arrival.id) {
                        Some(busy) if !busy.handle.is_finished() => {
                            log(&format!(
                                "{}: backed up again once the current run ends",
                                arrival.name
                            ));
                            busy.again = Some(arrival);
                        }
                        _ => {
                            running.insert(arrival.id.clone(), start(arrival));
                        }
                    }
                }
                Ok(DeviceEvent::Left { id }) => log(&format!("{id}: disconnected")),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let finished: Vec<String> = running
                .iter()
                .filter(|(_, job)| job.handle.is_finished())
                .map(|(id, _)| id.clone())
                .collect();
            for id in finished {
                let done = running.remove(&id).expect("listed above");
                join(done.handle);
                if let Some(arrival) = done.again {
                    running.insert(id, start(arrival));
                }
            }
        }
        // Stopping drops the reruns; the channel closing lets them run.
        let keep_going = !stop.load(Ordering::Relaxed);
        while !running.is_empty() {
            let ids: Vec<String> = running.keys().cloned().collect();
            for id in ids {
                let done = running.remove(&id).expect("listed above");
                join(done.handle);
                if let Some(arrival) = done.again.filter(|_| keep_going && !stop.load(Ordering::Relaxed)) {
                    running.insert(id, start(arrival));
                }
            }
        }
    });
}

struct Running<'scope> {
    handle: ScopedJoinHandle<'scope, ()>,
    /// The device arrived again while this run was under way.
    again: Option<Arrival>,
}

/// Waits for a job; a job that panicked has lost its device, not the watch.
fn join(handle: ScopedJoinHandle<'_, ()>) {
    if let Err(panic) = handle.join() {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // Never panics on a closed or full stderr.
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("mtpull: a backup thread failed: {message}\n"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::Instant;

    use crate::transport::OpenError;

    fn arrival(id: &str) -> Arrival {
        Arrival::new(id, format!("device {id}"), None, || {
            Err(OpenError::Disconnected {
                device: "test".into(),
            })
        })
    }

    #[test]
    fn each_arrival_runs_once_and_a_return_mid_run_runs_again_after() {
        let (sender, events) = mpsc::channel();
        let runs = Mutex::new(Vec::new());
        let job = |a: Arrival| {
            runs.lock().unwrap().push(format!("start {}", a.id));
            thread::sleep(Duration::from_millis(150));
            runs.lock().unwrap().push(format!("end {}", a.id));
        };
        let lines = Mutex::new(Vec::new());
        let log = |line: &str| lines.lock().unwrap().push(line.to_owned());
        sender.send(DeviceEvent::Arrived(arrival("1-1"))).unwrap();
        sender.send(DeviceEvent::Arrived(arrival("1-2"))).unwrap();
        sender.send(DeviceEvent::Left { id: "1-1".into() }).unwrap();
        sender.send(DeviceEvent::Arrived(arrival("1-1"))).unwrap();
        drop(sender);
        let stop = AtomicBool::new(false);
        watch(&events, &stop, &job, &log);

        let runs = runs.into_inner().unwrap();
        let of = |id: &str| -> Vec<&str> {
            runs.iter()
                .filter(|r| r.ends_with(id))
                .map(|r| r.split(' ').next().unwrap())
                .collect()
        };
        assert_eq!(
            of("1-1"),
            ["start", "end", "start", "end"],
            "never two at once: {runs:?}"
        );
        assert_eq!(of("1-2"), ["start", "end"]);
        let lines = lines.into_inner().unwrap();
        assert!(lines.contains(&"1-1: disconnected".to_owned()), "{lines:?}");
        assert!(lines.contains(&"device 1-1: backed up again once the current run ends".to_owned()));
    }

    #[test]
    fn stop_ends_the_watch_promptly_and_waits_for_running_jobs() {
        let (sender, events) = mpsc::channel();
        let stop = AtomicBool::new(false);
        let ended = AtomicBool::new(false);
        let job = |_: Arrival| {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(10));
            }
            ended.store(true, Ordering::Relaxed);
        };
        sender.send(DeviceEvent::Arrived(arrival("1-1"))).unwrap();
        let started = Instant::now();
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(200));
                stop.store(true, Ordering::Relaxed);
            });
            watch(&events, &stop, &job, &|_| {});
        });
        assert!(ended.load(Ordering::Relaxed), "the job was waited for");
        assert!(started.elapsed() < Duration::from_secs(2));
        // The sender is still open: the watch ended on the flag, not on the channel.
        drop(sender);
    }

    #[test]
    fn a_job_that_panics_does_not_end_the_watch() {
        let (sender, events) = mpsc::channel();
        let runs = Mutex::new(0);
        let job = |a: Arrival| {
            *runs.lock().unwrap() += 1;
            assert_ne!(a.id, "bad", "this job fails");
        };
        sender.send(DeviceEvent::Arrived(arrival("bad"))).unwrap();
        thread::sleep(Duration::from_millis(50));
        sender.send(DeviceEvent::Arrived(arrival("good"))).unwrap();
        drop(sender);
        watch(&events, &AtomicBool::new(false), &job, &|_| {});
        assert_eq!(*runs.lock().unwrap(), 2);
    }
}
