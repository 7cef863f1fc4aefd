//! Time: the clock, and unix seconds as UTC dates for people.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current unix time in seconds, or `now` when a command was given `--now`.
pub fn now_or(now: Option<u64>) -> u64 {
    now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    })
}

/// The last second of the year 9999 (9999-12-31T23:59:59Z): the latest
/// `--now`, and the latest deadline `issue` gives a session.
pub const LAST: u64 = 253_402_300_799;

/// Parses `--now`: unix seconds, at most [`LAST`].
///
/// # Errors
///
/// A message for clap to show: not a whole number, or after the year 9999
/// (milliseconds given for seconds, say).
pub fn parse_now(text: &str) -> Result<u64, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits {
        return Err(format!(
            "expected unix seconds, a whole number such as 1750000000, got {text:?}"
        ));
    }
    match text.parse::<u64>() {
        Ok(unix) if unix <= LAST => Ok(unix),
        _ => Err(format!(
            "{text} is after 9999-12-31T23:59:59Z ({LAST}); --now takes unix seconds, \
             not milliseconds"
        )),
    }
}

/// `2026-11-26T07:00:00Z` for times up to the year 9999, the bare number beyond.
pub fn utc(unix: u64) -> String {
    if unix > LAST {
        return unix.to_string();
    }
    let (days, secs) = (unix / 86_400, unix % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_750_000_000), "2025-06-15T15:06:40Z");
        assert_eq!(utc(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(utc(u64::MAX), u64::MAX.to_string());
        assert_eq!(now_or(Some(5)), 5);
    }

    #[test]
    fn now_is_whole_seconds_up_to_the_year_9999() {
        assert_eq!(parse_now("0"), Ok(0));
        assert_eq!(parse_now("1750000000"), Ok(1_750_000_000));
        assert_eq!(parse_now("253402300799"), Ok(LAST));
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            " 5",
            "5s",
            "253402300800",
            "1750000000000",
            "18446744073709551615",
            "99999999999999999999999",
        ] {
            assert!(parse_now(bad).is_err(), "{bad:?}");
        }
        assert!(parse_now("1750000000000").unwrap_err().contains("9999"));
    }
}
