//! The time the LMS stamps on `meta.created` / `meta.lastModified`.

use jiff::Timestamp;
use jiff::tz::Offset;

/// The time stamped on writes, UTC to the millisecond
/// (`2026-11-27T17:05:12.345Z`): formatted once per millisecond, not per write.
#[derive(Default)]
pub struct Clock {
    millisecond: i64,
    text: String,
}

impl Clock {
    pub fn now(&mut self) -> String {
        let now = Timestamp::now();
        if self.text.is_empty() || now.as_millisecond() != self.millisecond {
            self.millisecond = now.as_millisecond();
            self.text = format_utc(now);
        }
        self.text.clone()
    }
}

fn format_utc(now: Timestamp) -> String {
    let t = Offset::UTC.to_datetime(now);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    #[test]
    fn the_text_is_rfc_3339_to_the_millisecond_in_utc() {
        for text in [
            "2026-11-27T17:05:12.345Z",
            "1999-01-02T03:04:05.006Z",
            "2030-12-31T23:59:59.999Z",
        ] {
            let at: Timestamp = text.parse().unwrap();
            assert_eq!(super::format_utc(at), text);
            assert_eq!(
                super::format_utc(at),
                at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            );
        }
    }
}
