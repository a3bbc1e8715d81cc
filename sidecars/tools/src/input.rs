//! Reading input files: a path, or `-` for standard input; never more than a bound.

use std::io::Read;

use csc_core::Product;
use csc_core::input::{self, Parsed};

use crate::exit::Failure;

/// Largest input file the tools read (reports, certificates, CRLs, HCL blobs are far smaller).
pub const MAX_INPUT: u64 = 16 * 1024 * 1024;

/// Reads all of `path` (or stdin for `-`), up to [`MAX_INPUT`] bytes.
pub fn read_input(path: &str) -> Result<Vec<u8>, Failure> {
    let mut buf = Vec::new();
    let res = if path == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut buf))
    };
    let name = if path == "-" { "standard input" } else { path };
    res.map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(Failure::usage(format!(
            "{name} is larger than {MAX_INPUT} bytes"
        )));
    }
    Ok(buf)
}

/// Parses `--product` (milan, genoa, turin).
pub fn product_arg(v: Option<&str>) -> Result<Option<Product>, Failure> {
    match v {
        None => Ok(None),
        Some(s) => Product::from_name(s).map(Some).ok_or_else(|| {
            Failure::usage(format!(
                "unknown product {s:?}; expected milan, genoa or turin"
            ))
        }),
    }
}

/// Parses a report from raw, hex or HCL input, using `scratch` for hex decoding.
pub fn parse_report<'a>(
    bytes: &'a [u8],
    scratch: &'a mut Vec<u8>,
    product: Option<Product>,
) -> Result<Parsed<'a>, Failure> {
    scratch.clear();
    scratch.resize(bytes.len() / 2 + 1, 0);
    input::parse(bytes, scratch, product).map_err(Failure::malformed)
}
