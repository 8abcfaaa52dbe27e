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
/// terminal, even over SSH (and through tmux with `set-clipboard on`). The text
/// is copied exactly, as base64: its own escapes never reach the terminal.
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

    #[test]
    fn a_copied_value_with_escapes_stays_inside_the_base64() {
        let hostile = "Zoë\x1b]52;c;aGk=\x07\x1b[2J\u{9b}2J\u{202e}";
        let sequence = super::osc52(hostile);
        let payload = sequence
            .strip_prefix("\x1b]52;c;")
            .and_then(|s| s.strip_suffix('\x07'))
            .expect("one OSC 52 frame");
        assert!(
            payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
        use base64::Engine;
        let copied = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
        assert_eq!(
            copied,
            hostile.as_bytes(),
            "the original value, not the escaped one"
        );
    }
}
