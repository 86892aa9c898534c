//! A bounded pool of threads for password hashing, apart from the async workers and from the
//! blocking pool that runs database calls. Jobs beyond `queue` waiting ones are refused at once
//! (503 `server_busy`) instead of piling up latency.
//!
//! The threads run at a lower scheduling priority (`SCHED_BATCH`, nice 10 on Linux): they use
//! every idle cycle, but a request handler that becomes runnable preempts them at once, so a
//! login flood does not delay session checks by a scheduler slice.

use crossbeam_channel::{Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Clone)]
pub struct HashPool {
    sender: Sender<Job>,
    threads: usize,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("threads", &self.threads)
            .field("queued", &self.sender.len())
            .finish()
    }
}

impl HashPool {
    /// Starts `threads` workers; at most `queue` jobs wait for one.
    pub fn start(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (sender, receiver) = bounded::<Job>(queue);
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    // Ends when every sender is gone.
                    while let Ok(job) = receiver.recv() {
                        job();
                    }
                })?;
        }
        Ok(Self { sender, threads })
    }

    /// Runs `work` on the pool and waits for its result without blocking the caller's thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The receiver is gone only when the client went away; nothing to do then.
            let _ = tx.send(work());
        });
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(queued = self.sender.len(), "hash queue full");
                crate::metrics::record_hash_rejection();
                return Err(ApiError::ServerBusy {
                    retry_after: self.retry_after(),
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal(anyhow::anyhow!("hash pool stopped")));
            }
        }
        rx.await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("hash job panicked")))
    }

    /// Jobs waiting for a thread right now.
    pub fn queue_depth(&self) -> usize {
        self.sender.len()
    }

    /// A rough time for the queue to drain: about 0.1 s a hash at the default work factor.
    fn retry_after(&self) -> u64 {
        let per_thread = self.sender.len() / self.threads.max(1);
        (per_thread as u64 / 10).clamp(1, 60)
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread with valid arguments; failure only
    // leaves the thread at normal priority, which is logged.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) != 0 {
            tracing::debug!("SCHED_BATCH not available for hash threads");
        }
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, 10) != 0 {
            tracing::debug!("could not lower the nice value of a hash thread");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[tokio::test]
    async fn runs_jobs_and_refuses_beyond_the_queue() {
        let pool = HashPool::start(1, 1).expect("pool");
        assert_eq!(pool.run(|| 6 * 7).await.expect("runs"), 42);

        // Occupy the only thread, fill the one queue slot, then the next job is refused.
        let gate = Arc::new(Barrier::new(2));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let g = gate.clone();
        let busy = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    started_tx.send(()).expect("signal");
                    g.wait();
                })
                .await
            }
        });
        tokio::task::spawn_blocking(move || started_rx.recv())
            .await
            .expect("join")
            .expect("the worker started the first job");
        let queued = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 1).await }
        });
        while pool.queue_depth() < 1 {
            tokio::task::yield_now().await;
        }
        let refused = pool.run(|| 2).await;
        assert!(matches!(refused, Err(ApiError::ServerBusy { retry_after }) if retry_after >= 1));
        gate.wait();
        busy.await.expect("join").expect("ran");
        assert_eq!(queued.await.expect("join").expect("ran"), 1);
    }
}
