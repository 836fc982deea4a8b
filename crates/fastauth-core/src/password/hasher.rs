//! Password hashing on a fixed pool of threads, off the async workers. The queue in front of it
//! is bounded so that overload answers quickly (`Error::Overloaded`) instead of queueing without
//! end; each thread keeps one Argon2 memory arena and reuses it for every hash.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use flume::{Receiver, Sender, TrySendError};

use anyhow::{Context, anyhow};
use argon2_rust::params::{Memory, TagLen};
// argon2-rust's comparison keeps the compiler from turning it into an early-exit `bcmp`.
use argon2_rust::{Algorithm, Argon2, Hasher, Params, Version, constant_time_eq};

use super::Password;
use super::phc::Phc;
use crate::error::Error;

/// Argon2id cost parameters (ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_PARALLELISM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl HashParams {
    /// OWASP's minimum for Argon2id.
    pub const OWASP: Self = Self { m_kib: 19_456, t: 2, p: 1 };

    fn to_argon2(self, tag_len: usize) -> Result<Params, argon2_rust::Error> {
        let memory = Memory::kib(u64::from(self.m_kib));
        let tag_len = TagLen::bytes(tag_len as u64);
        Params::builder().memory(memory).passes(self.t).lanes(self.p).tag_len(tag_len).build()
    }

    /// Refuses costs that argon2 would reject, so start-up can name the bad setting.
    pub fn validate(self) -> Result<(), String> {
        self.to_argon2(32).map(drop).map_err(|e| e.to_string())
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub ok: bool,
    /// The hash is bcrypt or has other costs than configured: store a new one.
    pub needs_rehash: bool,
}

/// A hashing thread's Argon2 arena, kept between hashes (none before the first).
type Arena = Option<Hasher>;

type Job = Box<dyn FnOnce(&mut Arena) + Send>;

/// Hashes and verifies passwords on `workers` threads with at most `queue` jobs waiting.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    /// Every thread waits on the same queue and a job wakes one of them (a receiver behind a
    /// mutex, as before, also woke the idle thread waiting for that mutex, to sleep again).
    jobs: Sender<Job>,
    waiting: Arc<AtomicUsize>,
    params: HashParams,
    /// How many jobs may wait (HASH_QUEUE).
    capacity: usize,
    /// The threads' ids in the kernel (Linux only), for HASH_CGROUP.
    thread_ids: Vec<u32>,
    /// A hash of a random password, checked when the account does not exist so that the
    /// answer takes as long as for a real one.
    dummy: String,
}

impl PasswordHasher {
    pub fn new(params: HashParams, workers: usize, queue: usize) -> anyhow::Result<Self> {
        params.to_argon2(32).map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))?;
        let (jobs, rx) = flume::bounded::<Job>(queue);
        let waiting = Arc::new(AtomicUsize::new(0));
        let (ids, started) = std::sync::mpsc::channel();
        for n in 0..workers.max(1) {
            let (rx, waiting, ids) = (rx.clone(), waiting.clone(), ids.clone());
            std::thread::Builder::new()
                .name(format!("hash-{n}"))
                .spawn(move || {
                    let _ = ids.send(own_thread_id());
                    drop(ids);
                    run_worker(&rx, &waiting);
                })
                .context("starting a hashing thread")?;
        }
        drop(ids);
        let thread_ids = started.iter().flatten().collect();
        let mut salt = [0u8; 16];
        fill_random(&mut salt);
        let dummy = hash_with(params, &uuid::Uuid::new_v4().to_string(), &salt, &mut None)?;
        Ok(Self { inner: Arc::new(Inner { jobs, waiting, params, capacity: queue, thread_ids, dummy }) })
    }

    /// The hashing threads' ids in the kernel; empty where they are not known (not Linux).
    pub fn thread_ids(&self) -> &[u32] {
        &self.inner.thread_ids
    }

    /// Jobs accepted but not yet started (exported as a metric).
    pub fn queued(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// `Overloaded` when the queue is full: callers check this before any other work, so that
    /// a flood of sign-ins is refused for almost nothing.
    pub fn admit(&self) -> Result<(), Error> {
        if self.queued() >= self.inner.capacity { Err(Error::Overloaded) } else { Ok(()) }
    }

    /// Hashes a new password (its NFKC form) with the configured costs.
    pub async fn hash(&self, password: &Password) -> Result<String, Error> {
        let params = self.inner.params;
        let secret = password.normalized().to_owned();
        self.run(move |arena| {
            let mut salt = [0u8; 16];
            fill_random(&mut salt);
            hash_with(params, &secret, &salt, arena)
        })
        .await?
        .map_err(Error::Internal)
    }

    /// Checks a password against a stored hash. With no stored hash (unknown account,
    /// passwordless user) it checks a dummy hash at the same cost and answers `ok: false`.
    pub async fn verify(&self, password: &Password, stored: Option<&str>) -> Result<Verification, Error> {
        let params = self.inner.params;
        let (raw, normalized) = (password.raw().to_owned(), password.normalized().to_owned());
        let (stored, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.inner.dummy.clone(), false),
        };
        let v = self.run(move |arena| verify_with(params, &raw, &normalized, &stored, arena)).await?;
        Ok(Verification { ok: v.ok && real, needs_rehash: v.needs_rehash && real })
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce(&mut Arena) -> T + Send + 'static) -> Result<T, Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |arena| {
            // A caller that has gone (its client hung up while the job waited) needs no answer:
            // under overload the threads hash only for requests still being served.
            if !tx.is_closed() {
                let _ = tx.send(f(arena));
            }
        });
        self.inner.waiting.fetch_add(1, Ordering::Relaxed);
        match self.inner.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(Error::Overloaded);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
                return Err(Error::Internal(anyhow!("hashing threads have stopped")));
            }
        }
        rx.await.map_err(|_| Error::Internal(anyhow!("a hashing job was dropped")))
    }
}

/// The calling thread's id in the kernel (`/proc/thread-self` is `<pid>/task/<tid>`; std has no
/// gettid).
fn own_thread_id() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

fn run_worker(rx: &Receiver<Job>, waiting: &AtomicUsize) {
    if let Err(e) = lower_priority() {
        tracing::debug!(error = %e, "hashing thread keeps the default priority");
    }
    let mut arena = None;
    while let Ok(job) = rx.recv() {
        waiting.fetch_sub(1, Ordering::Relaxed);
        job(&mut arena);
    }
}

/// Hashing runs below everything else it can, so that token checks, refusals and the database
/// they wait on run first even while sign-ins keep every core hashing. On Linux that is
/// SCHED_IDLE, which orders threads within the process's scheduling group (its autogroup or
/// cgroup): fastauth's own threads go first. Other groups, such as a PostgreSQL server or the
/// kernel's network thread, compete with the group as a whole. SCHED_IDLE lowers its weight (in
/// the mixed load on PostgreSQL, /token's p50 went from 165 ms at nice 10 to 4.4 ms) but does not
/// let them go first: with the pool saturated, `ksoftirqd` waited up to 332-524 ms for a core,
/// and nothing outside fastauth over 9-22 ms with the threads in an idle cgroup (HASH_CGROUP). On
/// the VMs measured even a thread of the group waits up to a tick (`bench/wakeup-delays`; making
/// the thread yield every 500 µs cost sign-in 10-20 % there, bench/FINDINGS.md). Elsewhere: nice 10
/// (thread-priority maps 0..=99 onto nice 20..=-20).
fn lower_priority() -> Result<(), thread_priority::Error> {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        thread_priority::set_thread_priority_and_policy(thread_priority::thread_native_id(), ThreadPriority::Min, idle)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let nice_10 = thread_priority::ThreadPriorityValue::try_from(24u8)
            .map_err(|_| thread_priority::Error::Priority("nice 10"))?;
        thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Crossplatform(nice_10))
    }
}

fn hash_with(params: HashParams, password: &str, salt: &[u8], arena: &mut Arena) -> anyhow::Result<String> {
    let hash = argon2_raw(Algorithm::Argon2id, params, password, salt, 32, arena)?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id,
        m_kib: params.m_kib,
        t: params.t,
        p: params.p,
        salt: salt.to_vec(),
        hash,
    };
    Ok(phc.format())
}

fn verify_with(params: HashParams, raw: &str, normalized: &str, stored: &str, arena: &mut Arena) -> Verification {
    if stored.starts_with("$2") {
        // FastAuthCore's bcrypt hashes were made from the raw bytes; try those first.
        let ok = [raw, normalized].iter().any(|p| bcrypt::verify(p, stored).unwrap_or(false));
        return Verification { ok, needs_rehash: true };
    }
    let Some(phc) = Phc::parse(stored) else {
        return Verification { ok: false, needs_rehash: false };
    };
    let costs = HashParams { m_kib: phc.m_kib, t: phc.t, p: phc.p };
    let ok = argon2_raw(phc.algorithm, costs, normalized, &phc.salt, phc.hash.len(), arena)
        .is_ok_and(|computed| constant_time_eq(&computed, &phc.hash));
    Verification { ok, needs_rehash: phc.algorithm != Algorithm::Argon2id || costs != params }
}

fn argon2_raw(
    algorithm: Algorithm,
    costs: HashParams,
    password: &str,
    salt: &[u8],
    len: usize,
    arena: &mut Arena,
) -> anyhow::Result<Vec<u8>> {
    // Stored hashes could name absurd costs; refuse rather than allocate gigabytes.
    if costs.m_kib > 1 << 22 {
        anyhow::bail!("stored hash asks for too much memory");
    }
    let params = costs.to_argon2(len).map_err(|e| anyhow!("{e}"))?;
    let argon2 = Argon2::new(algorithm, Version::V0x13, params);
    let hasher = arena.get_or_insert_with(|| argon2.hasher());
    hasher.set_argon2(argon2);
    let mut out = vec![0u8; len];
    hasher.hash_into(password.as_bytes(), salt, &mut out).map_err(|e| anyhow!("{e}"))?;
    Ok(out)
}

/// Fills `buf` from the operating system's CSPRNG.
pub(crate) fn fill_random(buf: &mut [u8]) {
    // aws-lc's RNG only fails if the OS has no entropy source, which nothing here can fix.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(buf).expect("the system random number generator failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: HashParams = HashParams { m_kib: 64, t: 1, p: 1 };

    #[tokio::test]
    async fn hashes_verify_and_wrong_passwords_do_not() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).expect("hasher");
        let hash = hasher.hash(&Password::new("correct horse")).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let ok = hasher.verify(&Password::new("correct horse"), Some(&hash)).await.expect("verify");
        assert_eq!(ok, Verification { ok: true, needs_rehash: false });
        let wrong = hasher.verify(&Password::new("correct horsE"), Some(&hash)).await.expect("verify");
        assert!(!wrong.ok);
        let unknown = hasher.verify(&Password::new("correct horse"), None).await.expect("verify");
        assert!(!unknown.ok);
    }

    #[tokio::test]
    async fn bcrypt_and_other_costs_verify_and_ask_for_a_rehash() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).expect("hasher");
        let bcrypt_hash = bcrypt::hash("old password", 4).expect("bcrypt");
        let v = hasher.verify(&Password::new("old password"), Some(&bcrypt_hash)).await.expect("verify");
        assert_eq!(v, Verification { ok: true, needs_rehash: true });
        let other = PasswordHasher::new(HashParams { m_kib: 128, ..CHEAP }, 1, 4).expect("hasher");
        let hash = other.hash(&Password::new("pass phrase")).await.expect("hash");
        let v = hasher.verify(&Password::new("pass phrase"), Some(&hash)).await.expect("verify");
        assert_eq!(v, Verification { ok: true, needs_rehash: true });
    }

    #[tokio::test]
    async fn hashes_stored_by_the_previous_implementation_still_verify() {
        // Made by RustCrypto's argon2 0.6, which fastauth hashed with before argon2-rust: every
        // variant, several lanes and passes, the salt "fastauth-kat-salt".
        let stored = [
            "$argon2id$v=19$m=64,t=1,p=1$ZmFzdGF1dGgta2F0LXNhbHQ$5Q/ij88Lp4uF3uXK9wKx8wxB85nnAheNi3wvABOgeWs",
            "$argon2id$v=19$m=256,t=2,p=2$ZmFzdGF1dGgta2F0LXNhbHQ$HWc3f49XVwFf0i+I3Bz11rntxEAhhEC4WzaoDWshtn4",
            "$argon2i$v=19$m=64,t=2,p=1$ZmFzdGF1dGgta2F0LXNhbHQ$YER9cql5zSAv6FRp1cSL4sKYFV34jBBvp3I7ifSX5EA",
            "$argon2d$v=19$m=64,t=2,p=1$ZmFzdGF1dGgta2F0LXNhbHQ$a2PeDc9U2AOg/rbEaho483N73uPjvDSeFGURFHo18Xc",
        ];
        let hasher = PasswordHasher::new(CHEAP, 1, 4).expect("hasher");
        for hash in stored {
            let right =
                hasher.verify(&Password::new("correct horse battery staple"), Some(hash)).await.expect("verify");
            assert!(right.ok, "{hash}");
            assert_eq!(right.needs_rehash, !hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
            let wrong =
                hasher.verify(&Password::new("correct horse battery stapler"), Some(hash)).await.expect("verify");
            assert!(!wrong.ok, "{hash}");
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_overloaded_at_once() {
        let hasher = PasswordHasher::new(HashParams::OWASP, 1, 0).expect("hasher");
        let p = Password::new("some long password");
        let results = futures_lite_join(&hasher, &p, 8).await;
        assert!(results.iter().any(|r| matches!(r, Err(Error::Overloaded))));
        assert!(results.iter().any(|r| r.is_ok()));
    }

    #[tokio::test]
    async fn a_job_whose_caller_has_gone_is_not_run() {
        let hasher = PasswordHasher::new(CHEAP, 1, 4).expect("hasher");
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let busy = hasher.clone();
        let busy = tokio::spawn(async move {
            busy.run(move |_| {
                let _ = started_tx.send(());
                held.recv().is_ok()
            })
            .await
        });
        started.await.expect("the busy job starts");
        // Queued behind the busy thread, then given up, as when a client hangs up.
        let ran = Arc::new(AtomicUsize::new(0));
        let counter = ran.clone();
        let abandoned = hasher.run(move |_| counter.fetch_add(1, Ordering::SeqCst));
        assert!(tokio::time::timeout(std::time::Duration::from_millis(10), abandoned).await.is_err());
        assert_eq!(hasher.queued(), 1);
        release.send(()).expect("release");
        assert!(busy.await.expect("join").expect("busy job"));
        // The one thread takes jobs in order: once this one answers, the abandoned one was taken.
        hasher.hash(&Password::new("after the abandoned job")).await.expect("hash");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn knows_its_threads_ids() {
        let hasher = PasswordHasher::new(CHEAP, 3, 4).expect("hasher");
        let mut names: Vec<String> = hasher
            .thread_ids()
            .iter()
            .map(|id| std::fs::read_to_string(format!("/proc/self/task/{id}/comm")).expect("a thread of this process"))
            .collect();
        names.sort();
        assert_eq!(names, ["hash-0\n", "hash-1\n", "hash-2\n"]);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_sched_idle() {
        const SCHED_IDLE: &str = "5";
        let hasher = PasswordHasher::new(CHEAP, 2, 4).expect("hasher");
        hasher.hash(&Password::new("a first hash")).await.expect("hash");
        // /proc/self/task/<tid>/stat: "<tid> (<name>) <state> ..."; the policy is field 41.
        let policies: Vec<(String, String)> = std::fs::read_dir("/proc/self/task")
            .expect("tasks")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
            .filter_map(|stat| {
                let (head, rest) = stat.rsplit_once(") ")?;
                let name = head.split_once(" (")?.1.to_owned();
                Some((name, rest.split(' ').nth(38)?.to_owned()))
            })
            .filter(|(name, _)| name.starts_with("hash-"))
            .collect();
        assert!(policies.iter().any(|(_, policy)| policy == SCHED_IDLE), "{policies:?}");
        // Other tests' hashing threads run in this process too; one just started may not have
        // lowered itself yet (0, SCHED_OTHER), but none runs at any other policy.
        assert!(policies.iter().all(|(_, policy)| policy == SCHED_IDLE || policy == "0"), "{policies:?}");
    }

    async fn futures_lite_join(hasher: &PasswordHasher, p: &Password, n: usize) -> Vec<Result<String, Error>> {
        let mut handles = Vec::new();
        for _ in 0..n {
            let (hasher, p) = (hasher.clone(), p.clone());
            handles.push(tokio::spawn(async move { hasher.hash(&p).await }));
        }
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("join"));
        }
        out
    }
}
