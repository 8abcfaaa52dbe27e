//! The terminal: raw mode and the alternate screen on the way in, restored on
//! the way out whether by `q`, an error or a panic; and the OSC 52 clipboard.

use std::io::Write;

use base64::Engine;
use ratatui::DefaultTerminal;

/// Takes over the terminal. `ratatui::try_init` also installs a panic hook that
/// restores the terminal before the panic message prints.
pub fn enter() -> std::io::Result<DefaultTerminal> {
    ratatui::try_init()
}

/// Gives the terminal back: cooked mode, main screen, cursor shown.
pub fn leave() -> std::io::Result<()> {
    ratatui::try_restore()
}

/// The escape sequence that puts `text` on the clipboard of the operator's own
/// terminal, even over SSH (and through tmux with `set-clipboard on`).
pub fn osc52(text: &str) -> String {
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

pub fn copy(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout();
    out.write_all(osc52(text).as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn osc52_carries_the_text_base64() {
        assert_eq!(super::osc52("event 42"), "\x1b]52;c;ZXZlbnQgNDI=\x07");
    }
}
