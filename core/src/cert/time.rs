//! X.509 times (RFC 5280 section 4.1.2.5): UTCTime and GeneralizedTime in their DER forms,
//! as seconds since the Unix epoch. The core has no clock: callers pass "now" explicitly.

use core::fmt;

use crate::der::{Tlv, tag};

/// A point in time, in seconds since 1970-01-01T00:00:00Z (negative before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

/// Calendar fields of a [`Time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year, e.g. 2026.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
}

const SECS_PER_DAY: i64 = 86_400;

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
// Inputs are bounded (year 0..=9999, month 1..=12, day 1..=31), so no step can overflow i64.
#[allow(clippy::arithmetic_side_effects)]
fn days_from_civil(year: u16, month: u8, day: u8) -> i64 {
    let m = i64::from(month);
    let y = i64::from(year) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// The inverse of `days_from_civil`, for days within years 0..=9999 (what `Time` values parsed
// from certificates or built by `from_civil` hold); other inputs give a clamped, wrong date but
// never overflow, because every step is saturating or bounded.
#[allow(clippy::arithmetic_side_effects)]
fn civil_from_days(days: i64) -> (u16, u8, u8) {
    let z = days.clamp(-719_468, 2_932_896) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        u16::try_from(y).unwrap_or(0),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

impl Time {
    /// The time of the calendar fields, or `None` if they are out of range.
    pub fn from_civil(c: Civil) -> Option<Time> {
        let valid = c.year <= 9999
            && (1..=12).contains(&c.month)
            && c.day >= 1
            && c.day <= days_in_month(c.year, c.month)
            && c.hour < 24
            && c.minute < 60
            && c.second < 60;
        if !valid {
            return None;
        }
        let days = days_from_civil(c.year, c.month, c.day);
        let secs = u32::from(c.hour)
            .checked_mul(3600)?
            .checked_add(u32::from(c.minute).checked_mul(60)?)?
            .checked_add(u32::from(c.second))?;
        days.checked_mul(SECS_PER_DAY)?
            .checked_add(i64::from(secs))
            .map(Time)
    }

    /// The calendar fields (UTC).
    pub fn civil(self) -> Civil {
        let days = self.0.div_euclid(SECS_PER_DAY);
        let secs = self.0.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let [.., h] = (secs / 3600).to_be_bytes();
        let [.., m] = (secs % 3600 / 60).to_be_bytes();
        let [.., s] = (secs % 60).to_be_bytes();
        Civil {
            year,
            month,
            day,
            hour: h,
            minute: m,
            second: s,
        }
    }

    /// Reads a DER UTCTime (`YYMMDDHHMMSSZ`, years 1950..=2049) or GeneralizedTime
    /// (`YYYYMMDDHHMMSSZ`); `None` if it is neither or not a valid date.
    pub fn from_der(t: &Tlv<'_>) -> Option<Time> {
        let (year, rest) = match (t.tag, t.value.len()) {
            (tag::UTC_TIME, 13) => {
                let (yy, rest) = t.value.split_at_checked(2)?;
                let yy = digits(yy)?;
                let year = yy.checked_add(if yy >= 50 { 1900 } else { 2000 })?;
                (year, rest)
            }
            (tag::GENERALIZED_TIME, 15) => {
                let (yyyy, rest) = t.value.split_at_checked(4)?;
                (digits(yyyy)?, rest)
            }
            _ => return None,
        };
        let [mo0, mo1, d0, d1, h0, h1, mi0, mi1, s0, s1, b'Z'] = *rest else {
            return None;
        };
        let two = |a: u8, b: u8| digits(&[a, b]).and_then(|v| u8::try_from(v).ok());
        Time::from_civil(Civil {
            year,
            month: two(mo0, mo1)?,
            day: two(d0, d1)?,
            hour: two(h0, h1)?,
            minute: two(mi0, mi1)?,
            second: two(s0, s1)?,
        })
    }
}

fn digits(bytes: &[u8]) -> Option<u16> {
    bytes.iter().try_fold(0u16, |acc, b| {
        let d = b
            .is_ascii_digit()
            .then(|| u16::from(b.wrapping_sub(b'0')))?;
        acc.checked_mul(10)?.checked_add(d)
    })
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil();
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }
}

/// A certificate's validity period, both ends inclusive (RFC 5280).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub not_before: Time,
    /// notAfter.
    pub not_after: Time,
}

impl Validity {
    /// True if `now` lies within the period.
    pub fn contains(&self, now: Time) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    fn tlv(tag: u8, v: &[u8]) -> Tlv<'_> {
        Tlv {
            tag,
            value: v,
            raw: v,
            offset: 0,
            value_offset: 0,
        }
    }

    #[test]
    fn reads_both_forms() {
        let t = Time::from_der(&tlv(tag::UTC_TIME, b"260205010433Z")).unwrap();
        assert_eq!(t, Time(1_770_253_473));
        assert_eq!(t.to_string(), "2026-02-05 01:04:33 UTC");
        let g = Time::from_der(&tlv(tag::GENERALIZED_TIME, b"20260205010433Z")).unwrap();
        assert_eq!(g, t);
        let old = Time::from_der(&tlv(tag::UTC_TIME, b"500101000000Z")).unwrap();
        assert_eq!(old.civil().year, 1950);
        assert!(old.0 < 0);
        assert_eq!(Time(0).to_string(), "1970-01-01 00:00:00 UTC");
    }

    #[test]
    fn rejects_bad_times() {
        for bad in [
            &b"260230010433Z"[..],
            b"261301010433Z",
            b"260205240433Z",
            b"260205010460Z",
            b"2602050104331",
            b"26020501043Z",
            b"26+205010433Z",
        ] {
            assert_eq!(Time::from_der(&tlv(tag::UTC_TIME, bad)), None, "{bad:?}");
        }
        assert_eq!(
            Time::from_der(&tlv(tag::OCTET_STRING, b"260205010433Z")),
            None
        );
        assert!(Time::from_der(&tlv(tag::UTC_TIME, b"240229000000Z")).is_some());
        assert!(Time::from_der(&tlv(tag::UTC_TIME, b"250229000000Z")).is_none());
    }

    proptest! {
        #[test]
        fn civil_round_trips(days in -719_468i64..2_932_896, secs in 0i64..86_400) {
            let t = Time(days * 86_400 + secs);
            prop_assert_eq!(Time::from_civil(t.civil()), Some(t));
        }
    }
}
