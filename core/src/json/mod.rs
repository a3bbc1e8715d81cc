//! Allocation-free JSON: a writer into caller buffers and a borrowing reader.

pub mod reader;
pub mod writer;

pub use reader::{JsonStr, Value, elements, get, members, parse};
pub use writer::JsonWriter;
