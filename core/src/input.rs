//! Recognises the forms a report arrives in: raw 1184 bytes, an HCL report, or hex text of
//! either (upstream's `get-snp-report` prints lowercase hex and a newline).

use crate::abi;
use crate::error::{Error, InputError};
use crate::hcl::{self, HclReport};
use crate::hex;
use crate::report::{Product, Report};

/// The form the input had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 1184 raw bytes.
    Binary,
    /// Azure vTPM HCL report.
    Hcl,
    /// Hex text of a raw report.
    HexBinary,
    /// Hex text of an HCL report.
    HexHcl,
}

impl Format {
    /// A short name for output.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Binary => "binary",
            Format::Hcl => "hcl",
            Format::HexBinary => "hex",
            Format::HexHcl => "hex-hcl",
        }
    }
}

/// A report read from any accepted form.
#[derive(Debug, Clone, Copy)]
pub struct Parsed<'a> {
    /// The form the input had.
    pub format: Format,
    /// The SNP report.
    pub report: Report<'a>,
    /// The HCL wrapper, when there was one.
    pub hcl: Option<HclReport<'a>>,
}

/// Largest decoded size accepted for hex input (an HCL report is a few KiB).
pub const MAX_DECODED: usize = 16 * 1024;

fn parse_bytes<'a>(
    bytes: &'a [u8],
    product: Option<Product>,
    hexed: bool,
) -> Result<Parsed<'a>, Error> {
    if bytes.starts_with(hcl::MAGIC) {
        let h = HclReport::parse(bytes, product)?;
        let format = if hexed { Format::HexHcl } else { Format::Hcl };
        return Ok(Parsed {
            format,
            report: *h.report(),
            hcl: Some(h),
        });
    }
    let report = Report::parse_with_product(bytes, product)?;
    let format = if hexed {
        Format::HexBinary
    } else {
        Format::Binary
    };
    Ok(Parsed {
        format,
        report,
        hcl: None,
    })
}

/// Reads `input` in whichever form it has. Hex text is decoded into `scratch`, which must be
/// large enough for the decoded bytes ([`abi::REPORT_SIZE`] for a report, a few KiB for HCL).
pub fn parse<'a>(
    input: &'a [u8],
    scratch: &'a mut [u8],
    product: Option<Product>,
) -> Result<Parsed<'a>, Error> {
    if input.is_empty() {
        return Err(InputError::Empty.into());
    }
    if input.len() == abi::REPORT_SIZE || input.starts_with(hcl::MAGIC) {
        return parse_bytes(input, product, false);
    }
    if let Some((offset, byte)) = hex::first_non_hex(input) {
        return Err(InputError::Unrecognised {
            len: input.len(),
            offset,
            byte,
        }
        .into());
    }
    let n = hex::decode_into(input, scratch)?;
    let decoded = scratch.get(..n).unwrap_or(&[]);
    if n != abi::REPORT_SIZE && !decoded.starts_with(hcl::MAGIC) {
        return Err(InputError::HexLength { decoded: n }.into());
    }
    parse_bytes(decoded, product, true)
}
