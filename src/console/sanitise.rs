//! Text from outside (HRIS, LMS, LRS, store, errors quoting them) made safe to
//! show in the operator's terminal: control and invisible characters are shown
//! escaped instead of acted on. Also the last sweep over each drawn frame.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::OnceLock;

use ratatui::buffer::Buffer;

/// Invisible format characters that can reorder or hide text: bidi embeddings,
/// overrides, isolates and marks (Trojan Source), zero-width spaces, line and
/// paragraph separators, the byte order mark. ZWNJ and ZWJ (U+200C, U+200D) are
/// left alone: Persian, Indic scripts and emoji sequences need them, and they
/// cannot move text.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'), // soft hyphen
    ('\u{061C}', '\u{061C}'), // Arabic letter mark
    ('\u{180E}', '\u{180E}'), // Mongolian vowel separator
    ('\u{200B}', '\u{200B}'), // zero-width space
    ('\u{200E}', '\u{200F}'), // left-to-right and right-to-left marks
    ('\u{2028}', '\u{2029}'), // line and paragraph separators
    ('\u{202A}', '\u{202E}'), // bidi embeddings and overrides
    ('\u{2060}', '\u{2064}'), // word joiner, invisible operators
    ('\u{2066}', '\u{206F}'), // bidi isolates, deprecated format characters
    ('\u{FEFF}', '\u{FEFF}'), // byte order mark, zero-width no-break space
    ('\u{FFF9}', '\u{FFFB}'), // interlinear annotation
];

/// Whether a character must not reach the terminal as itself: C0, DEL and C1
/// controls (the terminal acts on them) and the invisible format characters.
pub fn is_hostile(c: char) -> bool {
    c.is_control() || (c >= '\u{00AD}' && INVISIBLE.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)))
}

/// The control picture for C0 and DEL (`␛` for ESC, `␡` for DEL), else None.
fn picture(c: char) -> Option<char> {
    match c {
        '\0'..='\u{1F}' => char::from_u32(0x2400 + c as u32),
        '\u{7F}' => Some('\u{2421}'),
        _ => None,
    }
}

/// `text` as the operator should see it, on one line: newline, carriage return
/// and tab become a space (a multi-line value is split into lines before this);
/// other C0 controls and DEL become their control pictures; C1 controls and the
/// invisible format characters become `\u{202e}`-style text. Clean text, the
/// common case, comes back borrowed.
pub fn visible(text: &str) -> Cow<'_, str> {
    let Some(at) = text.find(is_hostile) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..at]);
    for c in text[at..].chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if !is_hostile(c) => out.push(c),
            c => match picture(c) {
                Some(p) => out.push(p),
                None => out.extend(c.escape_unicode()),
            },
        }
    }
    Cow::Owned(out)
}

/// [`visible`] for text already formatted into a `String`: no copy when clean.
pub fn visible_string(text: String) -> String {
    match visible(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

/// Whether stdout is a terminal, asked once: the CLI escapes only for a person
/// reading; a pipe or file gets the values exactly.
pub fn stdout_is_terminal() -> bool {
    static TERMINAL: OnceLock<bool> = OnceLock::new();
    *TERMINAL.get_or_init(|| std::io::stdout().is_terminal())
}

/// A value the CLI prints: [`visible`] on a terminal, exact otherwise.
pub fn on_stdout(text: &str) -> Cow<'_, str> {
    if stdout_is_terminal() {
        visible(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// The safety net, run over every frame after it is drawn and before it reaches
/// the terminal: a draw site that forgot [`visible`] must still not let a value
/// clear the screen or write the clipboard. ratatui gives a C0 control a cell of
/// its own but puts zero-width characters inside the cell before them, so a whole
/// cell is replaced: by the control picture when it holds only a C0 or DEL, else
/// by U+FFFD. Either is one column wide, as the cell was.
/// Returns how many cells it had to replace (none when every site escapes).
pub fn sweep(buffer: &mut Buffer) -> usize {
    let mut replaced = 0;
    for cell in &mut buffer.content {
        let symbol = cell.symbol();
        // Fast path: the usual cell is one printable ASCII character.
        if symbol.bytes().all(|b| (0x20..0x7F).contains(&b)) || !symbol.chars().any(is_hostile) {
            continue;
        }
        let mut chars = symbol.chars();
        let shown = match (chars.next(), chars.next()) {
            (Some(c), None) => picture(c).unwrap_or('\u{FFFD}'),
            _ => '\u{FFFD}',
        };
        cell.set_char(shown);
        replaced += 1;
    }
    replaced
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::text::Span;
    use ratatui::widgets::Widget;

    use super::{sweep, visible};

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        let table = [
            // OSC 52: writes the clipboard.
            ("\x1b]52;c;aGk=\x07Zoë", "␛]52;c;aGk=␇Zoë"),
            // OSC 2 with the ST terminator: sets the window title.
            ("\x1b]2;pwned\x1b\\Ana", "␛]2;pwned␛\\Ana"),
            // CSI 2J: clears the screen.
            ("Okafor\x1b[2J", "Okafor␛[2J"),
            // C1 CSI: the one-byte form of ESC [.
            ("\u{9b}2J", "\\u{9b}2J"),
            ("a\u{85}b", "a\\u{85}b"),
            ("\0nul", "␀nul"),
            ("del\x7f", "del␡"),
            // One line: as before, newlines and tabs become spaces.
            ("two\nlines\r\nand\ta tab", "two lines  and a tab"),
            // Bidi: "gpj.exe" shown reversed as "exe.jpg" otherwise.
            ("invoice\u{202e}gpj.exe", "invoice\\u{202e}gpj.exe"),
            ("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}"),
            ("ad\u{200b}min", "ad\\u{200b}min"),
            ("\u{feff}E001", "\\u{feff}E001"),
            ("a\u{2028}b", "a\\u{2028}b"),
            ("ab\u{ad}c", "ab\\u{ad}c"),
        ];
        for (input, shown) in table {
            assert_eq!(visible(input), shown, "{input:?}");
        }
    }

    #[test]
    fn clean_text_passes_unchanged_and_borrowed() {
        let table = [
            "",
            "Ana Okafor",
            "Zoë Müller-Lüdenscheidt",
            // Combining marks: e + U+0301, a Devanagari cluster.
            "Jose\u{301} क्षि",
            "李小龙 · 山田太郎",
            "محمد عبد الله",
            "שלום",
            // Emoji with ZWJ sequences and a variation selector.
            "🐻\u{200d}❄\u{fe0f} 👩\u{200d}👩\u{200d}👧 🇳🇴",
            // Persian needs ZWNJ.
            "می\u{200c}خواهم",
            "{\"firstName\":\"Zoë\"}",
        ];
        for input in table {
            let shown = visible(input);
            assert!(
                matches!(shown, std::borrow::Cow::Borrowed(_)),
                "{input:?} was copied"
            );
            assert_eq!(shown, input);
        }
    }

    #[test]
    fn the_net_replaces_cells_holding_controls() {
        let mut buffer = Buffer::empty(Rect::new(0, 0, 12, 1));
        // Drawn without escaping: ESC and BEL get a cell each, the zero-width
        // override goes inside the space before it.
        Span::raw("a\x1b]2;x\x07 \u{202e}z").render(buffer.area, &mut buffer);
        assert!(buffer.content.iter().any(|c| c.symbol().contains('\x1b')));
        assert_eq!(sweep(&mut buffer), 3);
        let shown: String = buffer.content.iter().map(|c| c.symbol()).collect();
        assert_eq!(shown, "a␛]2;x␇�z   ");
        // A cell holding only the control shows its picture.
        let mut buffer = Buffer::empty(Rect::new(0, 0, 3, 1));
        Span::raw("\x1b[").render(buffer.area, &mut buffer);
        sweep(&mut buffer);
        let shown: String = buffer.content.iter().map(|c| c.symbol()).collect();
        assert_eq!(shown, "␛[ ");
        assert_eq!(sweep(&mut buffer), 0, "a swept frame is clean");
    }
}
