//! The values a policy error names: the field, how it relates to the expectation, what was
//! expected and what was found.

use core::fmt;

use crate::hex::Hex;
use crate::report::TcbParts;

/// A value in a policy error; bytes borrow from the report or the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// Bytes, printed as hex.
    Bytes(&'a [u8]),
    /// A number.
    Number(u64),
    /// A bit field, printed as hex.
    Bits(u64),
    /// TCB components.
    Tcb(TcbParts),
    /// A firmware version `major.minor`.
    Version(u8, u8),
    /// A flag.
    Flag(bool),
    /// The number of trusted values the actual one is not among.
    Trusted(usize),
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bytes(b) => write!(f, "{}", Hex(b)),
            Value::Number(n) => write!(f, "{n}"),
            Value::Bits(b) => write!(f, "0x{b:x}"),
            Value::Tcb(t) => write!(f, "{t}"),
            Value::Version(major, minor) => write!(f, "{major}.{minor}"),
            Value::Flag(b) => write!(f, "{b}"),
            Value::Trusted(n) => write!(f, "{n} trusted value(s)"),
        }
    }
}

/// How the actual value must relate to the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Relation {
    /// Equal.
    Equal,
    /// Greater or equal (per component for TCBs; a superset for bit fields).
    AtLeast,
    /// Less or equal (per component for TCBs).
    AtMost,
    /// One of a set of trusted values.
    OneOf,
}

impl Relation {
    /// A stable name for JSON.
    pub const fn name(self) -> &'static str {
        match self {
            Relation::Equal => "equal",
            Relation::AtLeast => "at_least",
            Relation::AtMost => "at_most",
            Relation::OneOf => "one_of",
        }
    }
}

/// An option that would accept the violation, when the report is sound but the policy is
/// stricter than the caller may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// The firmware is provisional (committed below current; it can still be rolled back):
    /// [`super::PolicyOptions::permit_provisional_firmware`] accepts it.
    PermitProvisionalFirmware,
}

impl Remedy {
    /// A stable name for JSON (the [`super::PolicyOptions`] field).
    pub const fn name(self) -> &'static str {
        match self {
            Remedy::PermitProvisionalFirmware => "permit_provisional_firmware",
        }
    }
    /// What the violation means and how to accept it.
    pub const fn describe(self) -> &'static str {
        match self {
            Remedy::PermitProvisionalFirmware => {
                "provisional firmware: committed below current; permit provisional firmware to accept it"
            }
        }
    }
}

/// A report field that violates the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyError<'a> {
    /// The field, with AMD's name (`MEASUREMENT`, `POLICY.DEBUG`, `REPORTED_TCB`, ...).
    pub field: &'static str,
    /// How `actual` must relate to `expected`.
    pub relation: Relation,
    /// What the policy expects.
    pub expected: Value<'a>,
    /// What the report holds.
    pub actual: Value<'a>,
    /// The option that would accept this report, if one would.
    pub remedy: Option<Remedy>,
}

impl fmt::Display for PolicyError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rel = match self.relation {
            Relation::Equal => "",
            Relation::AtLeast => "at least ",
            Relation::AtMost => "at most ",
            Relation::OneOf => "one of ",
        };
        write!(
            f,
            "{}: expected {rel}{}, found {}",
            self.field, self.expected, self.actual
        )?;
        match self.remedy {
            Some(r) => write!(f, " ({})", r.describe()),
            None => Ok(()),
        }
    }
}

impl core::error::Error for PolicyError<'_> {}
