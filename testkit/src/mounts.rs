//! What a test leaves behind in the kernel: mounts and loop devices under its directory.

use std::path::Path;
use std::time::{Duration, Instant};

/// Mount table lines that mention `needle`.
pub fn mounts_with(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// Loop devices whose backing file lies under `dir`.
pub fn loops_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let needle = dir.to_string_lossy().to_string();
    if let Ok(rd) = std::fs::read_dir("/sys/block") {
        for e in rd.flatten() {
            let f = e.path().join("loop/backing_file");
            if let Ok(s) = std::fs::read_to_string(&f)
                && s.contains(&needle)
            {
                out.push(format!("{}: {}", e.file_name().to_string_lossy(), s.trim()));
            }
        }
    }
    out
}

/// Asserts nothing is mounted or loop-attached under `dir` (loop devices are released
/// asynchronously after a lazy unmount: allow a moment).
pub fn assert_clean(dir: &Path) {
    let t0 = Instant::now();
    while (!mounts_with(dir).is_empty() || !loops_under(dir).is_empty())
        && t0.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(mounts_with(dir), Vec::<String>::new(), "mounts left behind");
    assert_eq!(
        loops_under(dir),
        Vec::<String>::new(),
        "loop devices left behind"
    );
}
