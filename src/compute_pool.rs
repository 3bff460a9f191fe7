//! Every command runs on a worker thread of rayon's global pool, the pool that the CPU
//! backend's and the host kernels' parallel loops share. A parallel loop started from a thread
//! outside the pool hands its work to the pool and sleeps until the pool is done: two context
//! switches per loop, and a training step runs dozens of loops. Started on a worker, a loop runs
//! in place and shares its work with the other workers (measured back to back, alternating:
//! W1 at one thread 67 → 84 steps/s, at two 109 → 125).

use crate::failure::{CliResult, Failure};

/// Stack size of the pool's threads: the main thread's 8 MiB, since the command runs on one.
const STACK_SIZE: usize = 8 << 20;

/// Builds the global pool (`threads` workers, one per core when `None`) and runs `work` on
/// one of its workers.
pub fn run_on_pool<R: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> CliResult<R> + Send,
) -> CliResult<R> {
    let mut builder = rayon::ThreadPoolBuilder::new().stack_size(STACK_SIZE);
    if let Some(threads) = threads {
        if threads == 0 {
            return Err(Failure::usage("invalid parameter threads: must be >= 1"));
        }
        builder = builder.num_threads(threads);
    }
    let count = threads.map_or("one per core".to_string(), |n| n.to_string());
    builder
        .build_global()
        .map_err(|e| Failure::runtime(format!("cannot set up {count} threads: {e}")))?;
    rayon::scope(|_| work())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zero threads is a usage error before any pool exists; then the work runs on a worker of
    /// a global pool of the given size. (One test: the global pool can be built once per
    /// process.)
    #[test]
    fn work_runs_on_a_worker_of_a_pool_of_the_given_size() {
        let refused = run_on_pool(Some(0), || Ok(()));
        assert!(matches!(refused, Err(Failure::Usage(m)) if m.contains("threads")));
        let seen = run_on_pool(Some(3), || {
            Ok((rayon::current_thread_index(), rayon::current_num_threads()))
        });
        let (worker, threads) = seen.unwrap_or_else(|_| panic!("the pool was built"));
        assert!(worker.is_some(), "not on a worker");
        assert_eq!(threads, 3);
    }
}
