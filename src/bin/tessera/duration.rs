//! Durations on the command line: a number and a unit, `90s`, `30m`, `12h`, `7d`.

use std::time::Duration;

/// Parses `30m`, `12h`, `7d` or `90s`. Zero and overflowing values are refused.
///
/// # Errors
///
/// A message for clap to show, for anything else.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 90s, 30m, 12h or 7d, got {text:?}");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (digits, unit) = (text.get(..split).ok_or_else(bad)?, text.get(split..));
    let scale: u64 = match unit {
        Some("s") => 1,
        Some("m") => 60,
        Some("h") => 3600,
        Some("d") => 86_400,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let secs = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("duration {text:?} is too long"))?;
    if secs == 0 {
        return Err("a duration must be longer than zero".to_string());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_rejections() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in [
            "",
            "m",
            "30",
            "30x",
            "-5m",
            "+5m",
            "1.5h",
            " 5m",
            "5 m",
            "0s",
            "é",
            "5é",
            "99999999999999999999d",
            "999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
