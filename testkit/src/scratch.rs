//! Places under the target directory that tests share: fresh scratch directories and the
//! simulated platform's key cache (its RSA keys are made once per checkout, not per test).

use std::path::PathBuf;

use csc_simulate::KeyCache;

/// `<target>/tmp` of the running test or bench (its executable is `<target>/<profile>/deps/…`;
/// the system's temporary directory when it is not laid out so).
pub fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's executable");
    exe.ancestors()
        .nth(3)
        .map_or_else(std::env::temp_dir, |target| target.join("tmp"))
}

/// An empty directory `<target>/tmp/<name>-<pid>` (emptied first if a run of the same process
/// id left it).
pub fn scratch(name: &str) -> PathBuf {
    let d = target_tmp().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Where [`key_cache`] keeps its keys (`<target>/tmp/csc-simulate-keys`), for programs under
/// test that take the cache's path.
pub fn key_cache_dir() -> PathBuf {
    target_tmp().join("csc-simulate-keys")
}

/// The key cache every crate's tests share.
pub fn key_cache() -> KeyCache {
    KeyCache::open(key_cache_dir()).unwrap()
}
