//! A small JSON reader that borrows from its input.
//!
//! It validates syntax strictly (RFC 8259, nesting limited to [`MAX_DEPTH`]) and hands out
//! values as borrowed spans: strings stay escaped until [`JsonStr::unescape_into`] copies them
//! into a caller's buffer. Nothing allocates and no input makes it panic.

use crate::error::JsonError;

/// Deepest nesting of objects and arrays accepted.
pub const MAX_DEPTH: usize = 32;

/// A JSON value borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(&'a str),
    /// A string, still escaped.
    String(JsonStr<'a>),
    /// An object, as written, braces included.
    Object(&'a str),
    /// An array, as written, brackets included.
    Array(&'a str),
}

impl<'a> Value<'a> {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<JsonStr<'a>> {
        match *self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// A non-negative integer without fraction or exponent that fits a u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// A JSON string's contents between the quotes, escapes not yet resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonStr<'a> {
    raw: &'a str,
}

impl<'a> JsonStr<'a> {
    /// The escaped text between the quotes.
    pub fn raw(&self) -> &'a str {
        self.raw
    }
    /// The text, if it has no escapes (the common case for keys, hex and base64).
    pub fn as_plain(&self) -> Option<&'a str> {
        (!self.raw.contains('\\')).then_some(self.raw)
    }
    /// True if the unescaped text equals `s`.
    pub fn eq_str(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(p) => p == s,
            None => {
                let mut buf = [0u8; 128];
                matches!(self.unescape_into(&mut buf), Ok(u) if u == s)
            }
        }
    }
    /// True if the unescaped text equals `s`, ignoring ASCII case (Go's JSON member matching).
    pub fn eq_ignore_case(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(p) => p.eq_ignore_ascii_case(s),
            None => {
                let mut buf = [0u8; 128];
                matches!(self.unescape_into(&mut buf), Ok(u) if u.eq_ignore_ascii_case(s))
            }
        }
    }
    /// Resolves escapes into `out` and returns the text.
    pub fn unescape_into<'o>(&self, out: &'o mut [u8]) -> Result<&'o str, JsonError> {
        let capacity = out.len();
        let mut w = 0usize;
        let mut put = |bytes: &[u8], w: &mut usize| -> Result<(), JsonError> {
            let end = w
                .checked_add(bytes.len())
                .ok_or(JsonError::BufferTooSmall { capacity })?;
            out.get_mut(*w..end)
                .ok_or(JsonError::BufferTooSmall { capacity })?
                .copy_from_slice(bytes);
            *w = end;
            Ok(())
        };
        let b = self.raw.as_bytes();
        let mut i = 0usize;
        while let Some(&c) = b.get(i) {
            if c != b'\\' {
                put(&[c], &mut w)?;
                i = i.saturating_add(1);
                continue;
            }
            let e = *b
                .get(i.saturating_add(1))
                .ok_or(JsonError::Syntax { offset: i })?;
            i = i.saturating_add(2);
            let simple = match e {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(0x08),
                b'f' => Some(0x0c),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'u' => None,
                _ => return Err(JsonError::Syntax { offset: i }),
            };
            if let Some(s) = simple {
                put(&[s], &mut w)?;
                continue;
            }
            let (mut cp, next) = read_u4(b, i)?;
            i = next;
            if (0xD800..0xDC00).contains(&cp) {
                // A high surrogate must be followed by an escaped low surrogate.
                if b.get(i) != Some(&b'\\') || b.get(i.saturating_add(1)) != Some(&b'u') {
                    return Err(JsonError::Syntax { offset: i });
                }
                let (lo, next) = read_u4(b, i.saturating_add(2))?;
                if !(0xDC00..0xE000).contains(&lo) {
                    return Err(JsonError::Syntax { offset: i });
                }
                i = next;
                cp = 0x10000u32
                    .saturating_add((cp.saturating_sub(0xD800)) << 10)
                    .saturating_add(lo.saturating_sub(0xDC00));
            }
            let ch = char::from_u32(cp).ok_or(JsonError::Syntax { offset: i })?;
            let mut enc = [0u8; 4];
            put(ch.encode_utf8(&mut enc).as_bytes(), &mut w)?;
        }
        let text = out.get(..w).ok_or(JsonError::BufferTooSmall { capacity })?;
        core::str::from_utf8(text).map_err(|_| JsonError::Syntax { offset: 0 })
    }
}

fn read_u4(b: &[u8], at: usize) -> Result<(u32, usize), JsonError> {
    let end = at.checked_add(4).ok_or(JsonError::Syntax { offset: at })?;
    let digits = b.get(at..end).ok_or(JsonError::Syntax { offset: at })?;
    let mut v = 0u32;
    for d in digits {
        let n = (*d as char)
            .to_digit(16)
            .ok_or(JsonError::Syntax { offset: at })?;
        v = (v << 4) | n;
    }
    Ok((v, end))
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }
    fn bump(&mut self) {
        self.pos = self.pos.saturating_add(1);
    }
    fn err(&self) -> JsonError {
        JsonError::Syntax { offset: self.pos }
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }
    fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.bump();
            Ok(())
        } else {
            Err(self.err())
        }
    }
    fn span(&self, start: usize) -> Result<&'a str, JsonError> {
        self.text
            .get(start..self.pos)
            .ok_or(JsonError::Syntax { offset: start })
    }
    fn literal(&mut self, word: &str) -> Result<(), JsonError> {
        let end = self.pos.saturating_add(word.len());
        if self.text.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                let start = self.pos;
                self.container(depth, b'}')?;
                Ok(Value::Object(self.span(start)?))
            }
            Some(b'[') => {
                let start = self.pos;
                self.container(depth, b']')?;
                Ok(Value::Array(self.span(start)?))
            }
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.literal("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.literal("null").map(|_| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn container(&mut self, depth: usize, close: u8) -> Result<(), JsonError> {
        if depth >= MAX_DEPTH {
            return Err(JsonError::TooDeep { offset: self.pos });
        }
        self.bump(); // '{' or '['
        self.skip_ws();
        if self.peek() == Some(close) {
            self.bump();
            return Ok(());
        }
        loop {
            if close == b'}' {
                self.skip_ws();
                self.string()?;
                self.skip_ws();
                self.expect(b':')?;
            }
            self.value(depth.saturating_add(1))?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(c) if c == close => {
                    self.bump();
                    return Ok(());
                }
                _ => return Err(self.err()),
            }
        }
    }

    fn string(&mut self) -> Result<JsonStr<'a>, JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(self.err()),
                Some(b'"') => {
                    let raw = self.span(start)?;
                    self.bump();
                    return Ok(JsonStr { raw });
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.bump(),
                        Some(b'u') => {
                            self.bump();
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(c) if c.is_ascii_hexdigit() => self.bump(),
                                    _ => return Err(self.err()),
                                }
                            }
                        }
                        _ => return Err(self.err()),
                    }
                }
                Some(0..=0x1f) => return Err(self.err()),
                Some(_) => self.bump(),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.bump();
        }
        self.pos.saturating_sub(start)
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err()),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.bump();
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.bump();
            }
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        Ok(Value::Number(self.span(start)?))
    }
}

/// Parses a complete JSON text (one value, surrounding white space allowed).
pub fn parse(text: &str) -> Result<Value<'_>, JsonError> {
    let mut c = Cursor { text, pos: 0 };
    let v = c.value(0)?;
    c.skip_ws();
    if c.pos != text.len() {
        return Err(c.err());
    }
    Ok(v)
}

/// Iterates the members of an object given as its full text (from [`Value::Object`] or
/// [`parse`]'s input). The text must already be valid (as [`parse`] guarantees).
pub fn members(object: &str) -> Members<'_> {
    Members {
        c: Cursor {
            text: object,
            pos: 0,
        },
        started: false,
        done: false,
    }
}

/// Iterates the elements of an array given as its full text.
pub fn elements(array: &str) -> Elements<'_> {
    Elements {
        c: Cursor {
            text: array,
            pos: 0,
        },
        started: false,
        done: false,
    }
}

/// Iterator over `(name, value)` members of an object.
pub struct Members<'a> {
    c: Cursor<'a>,
    started: bool,
    done: bool,
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<(JsonStr<'a>, Value<'a>), JsonError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = (|| {
            let c = &mut self.c;
            c.skip_ws();
            if !self.started {
                self.started = true;
                c.expect(b'{')?;
                c.skip_ws();
                if c.peek() == Some(b'}') {
                    return Ok(None);
                }
            } else {
                match c.peek() {
                    Some(b',') => c.bump(),
                    Some(b'}') => return Ok(None),
                    _ => return Err(c.err()),
                }
                c.skip_ws();
            }
            let k = c.string()?;
            c.skip_ws();
            c.expect(b':')?;
            let v = c.value(1)?;
            c.skip_ws();
            Ok(Some((k, v)))
        })();
        match r {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterator over the elements of an array.
pub struct Elements<'a> {
    c: Cursor<'a>,
    started: bool,
    done: bool,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Value<'a>, JsonError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = (|| {
            let c = &mut self.c;
            c.skip_ws();
            if !self.started {
                self.started = true;
                c.expect(b'[')?;
                c.skip_ws();
                if c.peek() == Some(b']') {
                    return Ok(None);
                }
            } else {
                match c.peek() {
                    Some(b',') => c.bump(),
                    Some(b']') => return Ok(None),
                    _ => return Err(c.err()),
                }
            }
            let v = c.value(1)?;
            c.skip_ws();
            Ok(Some(v))
        })();
        match r {
            Ok(Some(v)) => Some(Ok(v)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl core::fmt::Debug for Members<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Members")
    }
}
impl core::fmt::Debug for Elements<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Elements")
    }
}

/// Finds a member of an object by exact name. Returns `Ok(None)` if absent.
pub fn get<'a>(object: &'a str, name: &str) -> Result<Option<Value<'a>>, JsonError> {
    for m in members(object) {
        let (k, v) = m?;
        if k.eq_str(name) {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_iterates() {
        let text = r#" {"a": [1, -2.5e3, "x\u00e9\ud83d\ude00"], "b": {"c": null}, "d": true} "#;
        let Value::Object(obj) = parse(text).unwrap() else {
            panic!()
        };
        let mut names = [""; 3];
        for (i, m) in members(obj).enumerate() {
            names[i] = m.unwrap().0.raw();
        }
        assert_eq!(names, ["a", "b", "d"]);
        let Some(Value::Array(arr)) = get(obj, "a").unwrap() else {
            panic!()
        };
        let els: std::vec::Vec<_> = elements(arr).map(|e| e.unwrap()).collect();
        assert_eq!(els[0], Value::Number("1"));
        let mut buf = [0u8; 16];
        assert_eq!(
            els[2].as_str().unwrap().unescape_into(&mut buf).unwrap(),
            "xé😀"
        );
        assert_eq!(get(obj, "d").unwrap(), Some(Value::Bool(true)));
        assert_eq!(get(obj, "zz").unwrap(), None);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "[1,]",
            "01",
            "1.",
            "\"\\x\"",
            "\"a",
            "{} x",
            "-",
            "\"\u{1}\"",
            "tru",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        // A lone surrogate is well-formed text but cannot be unescaped.
        let Value::String(s) = parse("\"\\ud800\"").unwrap() else {
            panic!()
        };
        assert!(s.unescape_into(&mut [0u8; 8]).is_err());
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(matches!(parse(&deep), Err(JsonError::TooDeep { .. })));
    }
}
