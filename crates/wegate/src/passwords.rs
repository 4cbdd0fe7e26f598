//! The Argon2 workers: password hashing and checking run on a few threads of their own, one per core,
//! never more at once. Each run holds 19 MiB and a core for tens of milliseconds, and a password attempt
//! needs no credentials: unbounded, a flood of attempts takes the server's memory. Dedicated threads also
//! keep the allocator's per-thread arenas to that many (on tokio's blocking pool every new thread would keep
//! its own 19 MiB). Beyond the bound a caller waits briefly, then hears "busy".

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

type Job = Box<dyn FnOnce() + Send>;

pub struct PasswordWorkers {
    jobs: mpsc::Sender<Job>,
    /// One per worker: a job is queued only with a permit, so the queue never grows.
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordWorkers {
    /// `workers` threads; a caller waits at most `wait` for one of them.
    pub fn new(workers: usize, wait: Duration) -> PasswordWorkers {
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                loop {
                    // The lock is held only to take the next job.
                    let job = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => break, // the server's state was dropped
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an Argon2 worker thread");
            }
        }
        PasswordWorkers { jobs, slots: Arc::new(Semaphore::new(workers)), wait }
    }

    /// Runs `work` on a worker. None when every worker stayed busy for the whole wait.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await.ok()?.ok()?;
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
            drop(permit);
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_beyond_the_workers_waits_then_is_refused() {
        let workers = Arc::new(PasswordWorkers::new(1, Duration::from_millis(50)));
        let slow = {
            let workers = workers.clone();
            tokio::spawn(async move { workers.run(|| std::thread::sleep(Duration::from_millis(300))).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(workers.run(|| 1).await, None, "busy: the one worker is taken");
        assert_eq!(slow.await.unwrap(), Some(()));
        assert_eq!(workers.run(|| 2).await, Some(2), "free again");
    }
}
