//! What the benchmarks share.

/// A memory figure of this process from /proc/self/status (`VmRSS:` now,
/// `VmHWM:` the peak), in MB; NaN where the file does not say.
pub fn rss_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
