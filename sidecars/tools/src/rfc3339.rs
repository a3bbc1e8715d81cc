//! RFC 3339 date-times (`2024-03-01T12:00:00Z`, `2024-03-01T13:00:00.5+01:00`) read into the
//! core's [`Time`], for `snp-report verify --at`.

use csc_core::cert::Time;
use csc_core::cert::time::Civil;

/// The form the parser expects, for messages.
pub const FORM: &str = "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)";

fn number(text: &str, digits: usize) -> Option<u16> {
    if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn byte(text: &str) -> Option<u8> {
    number(text, 2).and_then(|n| u8::try_from(n).ok())
}

/// Parses an RFC 3339 date-time (`T`, `t` or a space between date and time; fractions of a
/// second are dropped; a leap second is not accepted). `None` if it is not one.
pub fn parse(text: &str) -> Option<Time> {
    let text = text.trim();
    let date = text.get(..10)?;
    let sep = text.get(10..11)?;
    if !matches!(sep, "T" | "t" | " ") {
        return None;
    }
    let rest = text.get(11..)?;
    let (clock, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return None,
    };
    let clock = match clock.split_once('.') {
        Some((whole, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => {
            whole
        }
        Some(_) => return None,
        None => clock,
    };
    let (y, m, d) = (date.get(..4)?, date.get(5..7)?, date.get(8..10)?);
    if date.get(4..5)? != "-" || date.get(7..8)? != "-" {
        return None;
    }
    let (h, mi, s) = (clock.get(..2)?, clock.get(3..5)?, clock.get(6..)?);
    if clock.len() != 8 || clock.get(2..3)? != ":" || clock.get(5..6)? != ":" {
        return None;
    }
    let civil = Civil {
        year: number(y, 4)?,
        month: byte(m)?,
        day: byte(d)?,
        hour: byte(h)?,
        minute: byte(mi)?,
        second: byte(s)?,
    };
    let local = Time::from_civil(civil)?;
    let offset = match zone {
        "Z" | "z" => 0i64,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let hh = zone.get(1..3)?;
            let mm = zone.get(4..6)?;
            if zone.len() != 6 || zone.get(3..4)? != ":" {
                return None;
            }
            let (hh, mm) = (i64::from(byte(hh)?), i64::from(byte(mm)?));
            if hh > 23 || mm > 59 {
                return None;
            }
            sign * (hh * 3600 + mm * 60)
        }
    };
    local.0.checked_sub(offset).map(Time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        let t = parse("2024-03-01T12:00:00Z").unwrap();
        assert_eq!(t.to_string(), "2024-03-01 12:00:00 UTC");
        assert_eq!(parse("2024-03-01t12:00:00z"), Some(t));
        assert_eq!(parse("2024-03-01 12:00:00Z"), Some(t));
        assert_eq!(parse("2024-03-01T12:00:00.999Z"), Some(t));
        assert_eq!(parse("2024-03-01T13:30:00+01:30"), Some(t));
        assert_eq!(parse("2024-03-01T10:00:00-02:00"), Some(t));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(Time(0)));
        assert_eq!(parse("1969-12-31T23:59:59Z"), Some(Time(-1)));
    }

    #[test]
    fn rejected_forms() {
        for bad in [
            "",
            "2024-03-01",
            "2024-03-01T12:00Z",
            "2024-03-01T12:00:00",
            "2024-02-30T12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-03-01T24:00:00Z",
            "2024-03-01T12:00:60Z",
            "2024-03-01T12:00:00.Z",
            "2024-03-01T12:00:00+1:00",
            "2024-03-01T12:00:00+01:60",
            "2024-03-01T12:00:00+0100",
            "2024/03/01T12:00:00Z",
            "+024-03-01T12:00:00Z",
            "2024-03-01T12:00:00Zjunk",
            "2024-03-01T1é:00:00Z",
            "now",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn round_trip_over_the_calendar() {
        // Every 9,999,991 s (about 116 days) from 1970 to 2100: printed and read back.
        let mut t = 0i64;
        while t < 4_102_444_800 {
            let c = Time(t).civil();
            let text = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                c.year, c.month, c.day, c.hour, c.minute, c.second
            );
            assert_eq!(parse(&text), Some(Time(t)), "{text}");
            t += 9_999_991;
        }
    }
}
