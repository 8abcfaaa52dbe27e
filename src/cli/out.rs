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
