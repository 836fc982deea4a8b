//! HASH_CGROUP: the hashing threads in a cgroup of their own with `cpu.idle` set, so that every
//! other process on the host runs before them, not only fastauth's own threads.
//!
//! SCHED_IDLE orders threads within the process's scheduling group (its autogroup or cgroup).
//! Other groups, such as a PostgreSQL server on the same host or the kernel's network thread
//! (`ksoftirqd`), compete with fastauth's group as a whole. With the hash pool saturated they
//! waited up to 332-524 ms for a core, and at most 9-22 ms with the hashing threads in an idle
//! cgroup (bench/FINDINGS.md).
//!
//! On cgroup v1 the directory is in the `cpu` hierarchy and the threads go into its `tasks`. On
//! v2 it must be a threaded cgroup (`cgroup.type`) below fastauth's own, with the cpu controller
//! enabled, and the threads go into its `cgroup.threads`. The directory is created when its
//! parent is a cgroup.

use std::io::Write;
use std::path::Path;

use crate::config::ConfigError;

/// Refuses a `dir` that is neither a cgroup nor a new directory in one (read with the settings,
/// before anything starts).
pub fn check(dir: &Path) -> Result<(), String> {
    let is_cgroup = |d: &Path| d.join("cgroup.procs").exists();
    if is_cgroup(dir) || dir.parent().is_some_and(is_cgroup) {
        Ok(())
    } else {
        Err(format!("{}: is not a cgroup, nor a new directory in one", dir.display()))
    }
}

/// Moves the threads `thread_ids` into the cgroup `dir`, made idle.
pub fn place_threads(dir: &Path, thread_ids: &[u32]) -> Result<(), ConfigError> {
    check(dir).map_err(|p| ConfigError::new("HASH_CGROUP", p))?;
    let problem = |what: &str| ConfigError::new("HASH_CGROUP", format!("{}: {what}", dir.display()));
    if !dir.exists() {
        std::fs::create_dir(dir).map_err(|e| problem(&format!("cannot be created: {e}")))?;
    }
    write_existing(&dir.join("cpu.idle"), "1")
        .map_err(|e| problem(&format!("cannot set cpu.idle, which needs the cpu controller and Linux 5.15: {e}")))?;
    if thread_ids.is_empty() {
        return Err(problem("the hashing threads' ids are not known on this system"));
    }
    let list = ["cgroup.threads", "tasks"]
        .iter()
        .map(|file| dir.join(file))
        .find(|path| path.exists())
        .ok_or_else(|| problem("has neither cgroup.threads nor tasks"))?;
    for id in thread_ids {
        write_existing(&list, &id.to_string())
            .map_err(|e| problem(&format!("cannot take the hashing thread {id} ({}): {e}", list.display())))?;
    }
    Ok(())
}

/// Writes to a control file, which must exist (a plain directory would get a new file).
fn write_existing(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new().write(true).open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastauth_core::password::{HashParams, PasswordHasher};

    const CHEAP: HashParams = HashParams { m_kib: 64, t: 1, p: 1 };

    #[test]
    fn a_directory_that_is_no_cgroup_is_refused_and_left_alone() {
        let dir = std::env::temp_dir().join(format!("fastauth-cgroup-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).expect("a plain directory");
        let target = dir.join("hashing");
        let err = place_threads(&target, &[1]).expect_err("not a cgroup");
        assert_eq!(err.var, "HASH_CGROUP");
        assert!(err.problem.contains("is not a cgroup"), "{}", err.problem);
        assert!(!target.exists());

        let err = place_threads(&dir, &[1]).expect_err("not a cgroup");
        let made_up = std::fs::read_dir(&dir).expect("list").count();
        std::fs::remove_dir(&dir).expect("removed");
        assert!(err.problem.contains("is not a cgroup"), "{}", err.problem);
        assert_eq!(made_up, 0, "no control file was made up");
    }

    /// Needs the cgroup v1 cpu hierarchy, writable (root), as on our machines.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_hashing_threads_move_into_an_idle_cgroup() {
        let root = Path::new("/sys/fs/cgroup/cpu");
        if !root.join("cpu.idle").exists() || !running_as_root() {
            eprintln!("skipped: no writable cgroup v1 cpu hierarchy with cpu.idle here");
            return;
        }
        let dir = root.join(format!("fastauth-test-{}", std::process::id()));
        let hasher = PasswordHasher::new(CHEAP, 2, 4).expect("hasher");
        place_threads(&dir, hasher.thread_ids()).expect("placed");

        let idle = std::fs::read_to_string(dir.join("cpu.idle")).expect("cpu.idle");
        let mut inside: Vec<u32> = std::fs::read_to_string(dir.join("tasks"))
            .expect("tasks")
            .lines()
            .map(|l| l.parse().expect("a thread id"))
            .collect();
        inside.sort_unstable();
        let mut ids = hasher.thread_ids().to_vec();
        ids.sort_unstable();
        // Back to the parent, so that the directory can go.
        for id in &ids {
            write_existing(&root.join("tasks"), &id.to_string()).expect("moved back");
        }
        std::fs::remove_dir(&dir).expect("removed");
        assert_eq!(idle.trim(), "1");
        assert_eq!(inside, ids);
    }

    fn running_as_root() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
    }
}
