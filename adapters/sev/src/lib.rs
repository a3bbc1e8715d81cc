//! SEV-SNP report sources: configfs-tsm, /dev/sev-guest, /dev/sev
