//! The engines in `hrsync status`: each engine's id, host, pid, last heartbeat,
//! whether it is live (heard from within a lease time) and the duties it holds.
//! An engine gone long ago is counted, not listed, in the human form.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::out::say;
use crate::console::sanitise::on_stdout;
use crate::store::EngineRecord;

/// The engines as `--json` shows them: every one the store knows.
pub fn as_json(engines: &[EngineRecord]) -> Value {
    engines
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "host": e.host,
                "pid": e.pid,
                "started_at": e.started_at,
                "heartbeat_at": e.heartbeat_at,
                "live": e.live,
                "duties": e.duties,
            })
        })
        .collect()
}

/// The live engines one line each, and how many are not live.
pub fn say_engines(engines: &[EngineRecord], now: Timestamp) -> anyhow::Result<()> {
    let live: Vec<&EngineRecord> = engines.iter().filter(|e| e.live).collect();
    let gone = engines.len() - live.len();
    say!(
        "engines: {} live{}",
        live.len(),
        if gone > 0 {
            format!(", {gone} not heard from within a lease time")
        } else {
            String::new()
        }
    )?;
    for engine in live {
        let duties = if engine.duties.is_empty() {
            "no duties".to_string()
        } else {
            format!("holds {}", engine.duties.join(", "))
        };
        say!(
            "  {} on {}, pid {}, heartbeat {}s ago; {duties}",
            on_stdout(&engine.id),
            on_stdout(&engine.host),
            engine.pid,
            now.duration_since(engine.heartbeat_at).as_secs().max(0),
        )?;
    }
    Ok(())
}
