//! Times as the console shows and reads them: UTC, to the second.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// `2026-12-06 10:00:05 UTC`.
pub fn show(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// [`show`] of unix seconds (`-` for 0 or an impossible value).
pub fn show_unix(secs: i64) -> String {
    match Utc.timestamp_opt(secs, 0).single() {
        Some(t) if secs > 0 => show(t),
        _ => "-".to_string(),
    }
}

/// The value of an `<input type="datetime-local">` for `t` (the console's times are UTC).
pub fn input_value(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Reads a time typed or picked in a form: `datetime-local` (UTC), RFC 3339 or unix seconds.
/// Empty means none.
pub fn parse(field: &str, value: &str) -> Result<Option<DateTime<Utc>>, String> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(secs) = v.parse::<i64>() {
        return Utc
            .timestamp_opt(secs, 0)
            .single()
            .map(Some)
            .ok_or_else(|| format!("{field}: {secs} is not a unix time"));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(Some(t.and_utc()));
        }
    }
    Err(format!("{field}: {v:?} is not a time; use YYYY-MM-DDTHH:MM (UTC), RFC 3339 or unix seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_are_read_as_utc() {
        let t = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        for v in ["2026-12-06T10:00", "2026-12-06T10:00:00", "2026-12-06T10:00:00Z", "1796551200"] {
            assert_eq!(parse("Since", v), Ok(Some(t)), "{v}");
        }
        assert_eq!(parse("Since", " "), Ok(None));
        assert!(parse("Since", "yesterday").unwrap_err().contains("Since"));
        assert_eq!(parse("Since", &input_value(t)), Ok(Some(t)));
    }
}
