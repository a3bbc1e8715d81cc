//! A JSON writer into a caller's buffer.
//!
//! It never allocates and never panics: once the buffer is full it stops writing and
//! [`JsonWriter::finish`] reports [`JsonError::BufferTooSmall`]. Member order is exactly the call
//! order, so renderings can match another implementation byte for byte.

use core::fmt::{self, Write as _};

use crate::error::JsonError;

/// Writes compact JSON into a byte buffer.
#[derive(Debug)]
pub struct JsonWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
    /// One bit per nesting level: does the current container already have a member?
    has_member: u64,
    depth: u32,
}

impl<'b> JsonWriter<'b> {
    /// A writer that fills `buf` from the start.
    pub fn new(buf: &'b mut [u8]) -> Self {
        JsonWriter {
            buf,
            len: 0,
            overflow: false,
            has_member: 0,
            depth: 0,
        }
    }

    /// Appends raw bytes (already valid JSON text).
    pub fn raw(&mut self, bytes: &[u8]) {
        if self.overflow {
            return;
        }
        let end = match self.len.checked_add(bytes.len()) {
            Some(end) => end,
            None => {
                self.overflow = true;
                return;
            }
        };
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
    }

    fn separator(&mut self) {
        let mask = 1u64.checked_shl(self.depth).unwrap_or(0);
        if self.has_member & mask != 0 {
            self.raw(b",");
        }
        self.has_member |= mask;
    }

    fn open(&mut self, c: &[u8]) {
        self.raw(c);
        self.depth = self.depth.saturating_add(1);
        let mask = 1u64.checked_shl(self.depth).unwrap_or(0);
        self.has_member &= !mask;
    }

    fn close(&mut self, c: &[u8]) {
        self.depth = self.depth.saturating_sub(1);
        self.raw(c);
    }

    /// Starts an object (as a value: top level, array element, or after [`Self::key`]).
    pub fn begin_object(&mut self) {
        self.open(b"{");
    }
    /// Ends the current object.
    pub fn end_object(&mut self) {
        self.close(b"}");
    }
    /// Starts an array.
    pub fn begin_array(&mut self) {
        self.open(b"[");
    }
    /// Ends the current array.
    pub fn end_array(&mut self) {
        self.close(b"]");
    }

    /// Writes a member name; the next call writes its value.
    pub fn key(&mut self, name: &str) {
        self.separator();
        self.string_body(name);
        self.raw(b":");
    }

    /// Marks the start of an array element (call before writing each element's value).
    pub fn element(&mut self) {
        self.separator();
    }

    /// Writes a string value, escaped.
    pub fn string(&mut self, s: &str) {
        self.string_body(s);
    }

    fn string_body(&mut self, s: &str) {
        self.raw(b"\"");
        let mut start = 0;
        let bytes = s.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let esc: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            self.raw(bytes.get(start..i).unwrap_or(&[]));
            match esc {
                Some(e) => self.raw(e),
                None => {
                    let _ = write!(self, "\\u{b:04x}");
                }
            }
            start = i.saturating_add(1);
        }
        self.raw(bytes.get(start..).unwrap_or(&[]));
        self.raw(b"\"");
    }

    /// Writes bytes as a lowercase hex string value.
    pub fn hex(&mut self, bytes: &[u8]) {
        self.raw(b"\"");
        let _ = write!(self, "{}", crate::hex::Hex(bytes));
        self.raw(b"\"");
    }

    /// Writes an unsigned integer value (exact, even above 2^53, as Go's encoder does).
    pub fn u64(&mut self, v: u64) {
        let _ = write!(self, "{v}");
    }

    /// Writes a boolean value.
    pub fn bool(&mut self, v: bool) {
        self.raw(if v { b"true" } else { b"false" });
    }

    /// Writes `null`.
    pub fn null(&mut self) {
        self.raw(b"null");
    }

    /// `key` then `string`.
    pub fn str_member(&mut self, name: &str, v: &str) {
        self.key(name);
        self.string(v);
    }
    /// `key` then `hex`.
    pub fn hex_member(&mut self, name: &str, v: &[u8]) {
        self.key(name);
        self.hex(v);
    }
    /// `key` then `u64`.
    pub fn u64_member(&mut self, name: &str, v: u64) {
        self.key(name);
        self.u64(v);
    }
    /// `key` then `bool`.
    pub fn bool_member(&mut self, name: &str, v: bool) {
        self.key(name);
        self.bool(v);
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text written, or `BufferTooSmall` if anything did not fit.
    pub fn finish(self) -> Result<&'b str, JsonError> {
        let capacity = self.buf.len();
        if self.overflow {
            return Err(JsonError::BufferTooSmall { capacity });
        }
        let written: &'b [u8] = match self.buf.get(..self.len) {
            Some(w) => w,
            None => return Err(JsonError::BufferTooSmall { capacity }),
        };
        // Only valid UTF-8 (from &str and ASCII escapes) is ever written.
        core::str::from_utf8(written).map_err(|_| JsonError::Syntax { offset: 0 })
    }
}

impl fmt::Write for JsonWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.raw(s.as_bytes());
        if self.overflow {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_members_and_escapes() {
        let mut buf = [0u8; 128];
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.str_member("a", "x\"y\n\u{1}");
        w.key("b");
        w.begin_array();
        w.element();
        w.u64(u64::MAX);
        w.element();
        w.begin_object();
        w.bool_member("t", true);
        w.end_object();
        w.end_array();
        w.hex_member("h", &[0xab, 0x01]);
        w.end_object();
        assert_eq!(
            w.finish().unwrap(),
            r#"{"a":"x\"y\n\u0001","b":[18446744073709551615,{"t":true}],"h":"ab01"}"#
        );
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        let mut buf = [0u8; 5];
        let mut w = JsonWriter::new(&mut buf);
        w.begin_object();
        w.str_member("key", "value");
        w.end_object();
        assert_eq!(w.finish(), Err(JsonError::BufferTooSmall { capacity: 5 }));
    }
}
