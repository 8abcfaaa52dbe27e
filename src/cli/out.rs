//! What commands print on standard output: lines and JSON, one way. JSON is
//! pretty on a terminal and compact in a pipe; a reader that closes the pipe
//! early (`| head`) ends the command quietly, as it ends `cat`.

use std::fmt::Arguments;
use std::io::{IsTerminal, Write};

/// One line on standard output; `say!` is the `println!` of commands.
pub fn line(text: Arguments<'_>) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(text)?;
    out.write_all(b"\n")
}

macro_rules! say {
    () => { $crate::cli::out::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::out::line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// `value` as JSON: indented for a person at a terminal, one line for a script.
pub fn print_json(value: &(impl serde::Serialize + ?Sized)) -> anyhow::Result<()> {
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)?
    } else {
        serde_json::to_string(value)?
    };
    Ok(line(format_args!("{text}"))?)
}

/// Whether `error` is a reader having closed standard output (EPIPE), anywhere in its chain.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Newest first, as the console lists them, unless `oldest_first`.
pub fn in_order<T>(mut rows: Vec<T>, oldest_first: bool) -> Vec<T> {
    if !oldest_first {
        rows.reverse();
    }
    rows
}

/// A progress bar on standard error for long work: done/total, rate and time
/// left. Hidden when standard error is not a terminal, or with `--json`.
pub fn progress(total: u64, what: &str, json: bool) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {human_pos}/{human_len} · {per_sec} · {eta} left",
    )
    .map(|style| style.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// Draws `step` on `bar`: a bar when its total is known, else a running count.
pub fn show_step(bar: &indicatif::ProgressBar, step: Option<&crate::engine::operator::progress::Step>) {
    let Some(step) = step else { return };
    let template = match step.total {
        Some(_) => "{msg} [{bar:30}] {human_pos}/{human_len} · {per_sec} · {eta} left",
        None => "{spinner} {msg}: {human_pos} · {per_sec}",
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    if let Some(total) = step.total {
        bar.set_length(total.max(step.done));
    }
    bar.set_position(step.done);
    bar.set_message(step.what.clone());
}

/// Draws `work` on `bar` ten times a second until the work ends, then clears it.
pub fn follow(
    bar: indicatif::ProgressBar,
    work: std::sync::Arc<crate::engine::operator::progress::Progress>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = false;
        loop {
            match work.now() {
                Some(step) => {
                    show_step(&bar, Some(&step));
                    seen = true;
                }
                None if seen => break,
                None => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        bar.finish_and_clear();
    })
}
