//! How many connections the process can hold: below the open-file limit, so that accepting a
//! connection never takes the descriptor a release needs (the vault and MAA connections,
//! certificate cache files, the report device).

/// Most connections held by one server, whatever the descriptor limit.
pub const MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept free for everything but client connections.
pub const RESERVED_FDS: usize = 32;
/// Fewest connections allowed, even under a tiny descriptor limit.
pub const MIN_CONNECTIONS: usize = 8;

/// The soft `Max open files` limit from `/proc/self/limits` (`None` if unreadable or
/// unlimited).
pub fn open_file_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&text)
}

fn parse_open_file_limit(text: &str) -> Option<usize> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// The connection cap for a descriptor limit.
pub fn cap_for(limit: Option<usize>) -> usize {
    match limit {
        Some(l) => l
            .saturating_sub(RESERVED_FDS)
            .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS),
        None => MAX_CONNECTIONS,
    }
}

/// The connection cap for this process.
pub fn connection_cap() -> usize {
    cap_for(open_file_limit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_follows_the_descriptor_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            128                  4096                 files     \n";
        assert_eq!(parse_open_file_limit(text), Some(128));
        assert_eq!(cap_for(Some(128)), 96);
        assert_eq!(cap_for(Some(20)), MIN_CONNECTIONS);
        assert_eq!(cap_for(Some(1 << 20)), MAX_CONNECTIONS);
        assert_eq!(cap_for(None), MAX_CONNECTIONS);
        assert_eq!(
            parse_open_file_limit("Max open files unlimited unlimited files"),
            None
        );
        assert!(open_file_limit().is_some());
    }
}
