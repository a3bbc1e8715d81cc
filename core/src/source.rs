//! The trait a report source implements: a report for 64 bytes of report data, into a fixed
//! buffer, async and runtime-free. (Issue 5.)
