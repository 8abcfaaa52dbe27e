//! CPU time from /proc, for the benchmarks that report it (a figure that,
//! unlike the wall clock, does not count the time the host took the CPU away).

use std::process::Command;

/// CPU seconds (user + system) a process has used so far, from `/proc/{pid}/stat`.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name and state.
    (ticks(11) + ticks(12)) / clock_ticks_per_second()
}

/// CPU seconds the hypervisor gave to others while this machine's cores wanted
/// them (steal time, all cores together, from `/proc/stat`): a round that loses
/// a lot of it measures the host, not the code.
pub fn stolen_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // cpu user nice system idle iowait irq softirq steal ...
    let steal = stat
        .lines()
        .next()
        .and_then(|all| all.split_whitespace().nth(8))
        .and_then(|ticks| ticks.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    steal / clock_ticks_per_second()
}

/// Seconds in which some task on this machine was ready to run but waited for a
/// core (`/proc/pressure/cpu`, "some"): other processes in the machine competing.
pub fn waiting_seconds() -> f64 {
    std::fs::read_to_string("/proc/pressure/cpu")
        .unwrap_or_default()
        .lines()
        .find(|line| line.starts_with("some"))
        .and_then(|line| line.split_whitespace().find_map(|f| f.strip_prefix("total=")))
        .and_then(|micros| micros.parse::<f64>().ok())
        .map_or(f64::NAN, |micros| micros / 1e6)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0)
}
