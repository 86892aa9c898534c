//! A bounded pool of threads for password hashing, apart from the async workers and from the
//! blocking pool that runs database calls. Jobs beyond `queue` waiting ones are refused at once
//! (503 `server_busy`) instead of piling up latency.
//!
//! A job that panics is reported to its caller as an internal error; the thread that ran it
//! lives on (the panic is caught), so the pool never shrinks.
//!
//! The threads run at a lower scheduling priority (`SCHED_BATCH`, nice 10 on Linux): they use
//! every idle cycle, but a request handler that becomes runnable preempts them at once, so a
//! login flood does not delay session checks by a scheduler slice.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Sender, TrySendError, bounded};
use tokio::sync::oneshot;

use crate::error::ApiError;
use crate::metrics::Metrics;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Clone)]
pub struct HashPool {
    sender: Sender<Job>,
    threads: usize,
    /// Jobs being computed right now.
    busy: Arc<AtomicUsize>,
    metrics: Metrics,
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
    pub fn start(threads: usize, queue: usize, metrics: Metrics) -> std::io::Result<Self> {
        let (sender, receiver) = bounded::<Job>(queue);
        let busy = Arc::new(AtomicUsize::new(0));
        for n in 0..threads.max(1) {
            let receiver = receiver.clone();
            let busy = busy.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    // Ends when every sender is gone.
                    while let Ok(job) = receiver.recv() {
                        busy.fetch_add(1, Ordering::SeqCst);
                        job();
                        busy.fetch_sub(1, Ordering::SeqCst);
                    }
                })?;
        }
        Ok(Self {
            sender,
            threads,
            busy,
            metrics,
        })
    }

    /// Runs `work` on the pool and waits for its result without blocking the caller's thread.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            // The receiver is gone only when the client went away; nothing to do then.
            let _ = tx.send(result);
        });
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(queued = self.sender.len(), "hash queue full");
                self.metrics.hash_rejected();
                return Err(ApiError::ServerBusy {
                    retry_after: self.retry_after(),
                });
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal(anyhow::anyhow!("hash pool stopped")));
            }
        }
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_panic)) => Err(ApiError::Internal(anyhow::anyhow!("a hash job panicked"))),
            Err(_) => Err(ApiError::Internal(anyhow::anyhow!(
                "the hash pool dropped a job"
            ))),
        }
    }

    /// Jobs waiting for a thread right now.
    pub fn queue_depth(&self) -> usize {
        self.sender.len()
    }

    /// Threads computing a hash right now.
    pub fn busy_threads(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
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
        let pool = HashPool::start(1, 1, Metrics::new()).expect("pool");
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

    #[tokio::test]
    async fn a_panicking_job_fails_alone_and_the_thread_lives_on() {
        let pool = HashPool::start(1, 4, Metrics::new()).expect("pool");
        let failed = pool.run(|| -> u32 { panic!("a bug in a hash job") }).await;
        assert!(matches!(failed, Err(ApiError::Internal(_))), "{failed:?}");
        // The only thread survived: later jobs still run.
        for n in 0..3 {
            assert_eq!(pool.run(move || n * 2).await.expect("runs"), n * 2);
        }
    }
}
