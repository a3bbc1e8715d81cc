//! Where the tests that boot the small VM of `shared/vm` (dm-crypt, which this machine's
//! kernel lacks) find the workspace and the VM kit.

use std::path::{Path, PathBuf};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test kit lies in the workspace")
        .to_path_buf()
}

/// The VM kit (the directory with `prepare.sh` and `run-in-vm.sh`): `CSC_VM_DIR`, else
/// `../shared/vm` beside the workspace, else `/work/shared/vm`. Fails the test when none holds
/// the kit: nothing is skipped.
pub fn vm_dir() -> PathBuf {
    [
        std::env::var_os("CSC_VM_DIR").map(PathBuf::from),
        Some(workspace().join("../shared/vm")),
        Some(PathBuf::from("/work/shared/vm")),
    ]
    .into_iter()
    .flatten()
    .find(|d| d.join("run-in-vm.sh").is_file())
    .expect("the VM kit (shared/vm/run-in-vm.sh) must be present; set CSC_VM_DIR")
}
