//! Lays the header's pieces onto its lines. A piece is never cut: it wraps to
//! the next line, and when the pieces cannot all fit the least needed go first.
//! A piece's tail (a failing system's error, the sources line) is the one thing
//! cut, with [`fit`]: it takes whatever room its line has left, or is left out.

use ratatui::text::{Line, Span};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Between two pieces on a line.
const GAP: &str = "  ";
/// A tail with less room than this is left out rather than cut to a stub.
const MIN_TAIL: usize = 8;
/// The room a tail is given when pieces are placed: the words that say most
/// (an error's status and first words) before the rates are given room.
const TAIL_WANTS: usize = 16;

/// `text` in at most `width` columns, ending in "…" when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// `text` on lines of at most `width` columns, broken between words where it
/// can (a word longer than a line is broken where the line ends).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = vec![String::new()];
    // Whether the last line has a word yet (an empty word keeps a leading space).
    let mut started = false;
    for word in text.split(' ') {
        let line = lines.last_mut().expect("one line at least");
        let gap = usize::from(started);
        if line.width() + gap + word.width() <= width {
            if started {
                line.push(' ');
            }
            line.push_str(word);
            started = true;
            continue;
        }
        if started {
            lines.push(String::new());
        }
        for c in word.chars() {
            let line = lines.last_mut().expect("one line at least");
            if line.width() + c.width().unwrap_or(0) > width {
                lines.push(String::new());
            }
            lines.last_mut().expect("one line at least").push(c);
        }
        started = true;
    }
    lines
}

/// One piece of the header.
pub struct Piece {
    /// Shown whole, or not at all.
    pub head: Vec<Span<'static>>,
    /// Shown right after the head, cut to the room its line has left.
    pub tail: Option<Span<'static>>,
    /// Left out when room runs out, lowest first (`None`: always shown).
    pub drop_rank: Option<u8>,
    /// Starts a new line when the lines allow it.
    pub new_line: bool,
}

impl Piece {
    pub fn always(head: Vec<Span<'static>>) -> Piece {
        Piece {
            head,
            tail: None,
            drop_rank: None,
            new_line: false,
        }
    }

    pub fn optional(rank: u8, head: Vec<Span<'static>>) -> Piece {
        Piece {
            drop_rank: Some(rank),
            ..Piece::always(head)
        }
    }

    pub fn with_tail(mut self, tail: Span<'static>) -> Piece {
        self.tail = Some(tail);
        self
    }

    pub fn starting_a_line(mut self) -> Piece {
        self.new_line = true;
        self
    }

    fn head_width(&self) -> usize {
        self.head.iter().map(Span::width).sum()
    }

    /// The columns it is placed by: its head and up to `tail_wants` of its tail.
    fn width(&self, tail_wants: usize) -> usize {
        let tail = self.tail.as_ref().map_or(0, Span::width);
        self.head_width() + tail.min(tail_wants)
    }
}

/// The pieces on at most `lines` lines of `width` columns.
pub fn flow(pieces: Vec<Piece>, width: u16, lines: u16) -> Vec<Line<'static>> {
    let (width, lines) = (width as usize, lines.max(1) as usize);
    let mut optional: Vec<usize> = (0..pieces.len())
        .filter(|&i| pieces[i].drop_rank.is_some())
        .collect();
    optional.sort_by_key(|&i| pieces[i].drop_rank);
    // The intended lines first; before they are reshaped, the least needed piece
    // goes. Tails are given room first, and only if all else fails none.
    for wants in [TAIL_WANTS, 0] {
        for dropped in 0..=optional.len() {
            let kept: Vec<usize> = (0..pieces.len())
                .filter(|i| !optional[..dropped].contains(i))
                .collect();
            let fits = |breaks| place(&pieces, &kept, Fit { width, lines, wants }, breaks);
            if let Some(placed) = fits(true) {
                return render(pieces, placed, width);
            }
            if dropped > 0
                && let Some(mut placed) = fits(false)
            {
                balance(&pieces, &mut placed, Fit { width, lines, wants });
                return render(pieces, placed, width);
            }
        }
    }
    // Too narrow for what must show: it runs on, and the terminal's edge cuts it.
    let kept: Vec<usize> = (0..pieces.len())
        .filter(|&i| pieces[i].drop_rank.is_none())
        .collect();
    let endless = Fit {
        width,
        lines: usize::MAX,
        wants: 0,
    };
    let mut placed = place(&pieces, &kept, endless, false).unwrap_or_default();
    let rest: Vec<usize> = placed.split_off(lines.min(placed.len())).concat();
    if let Some(last) = placed.last_mut() {
        last.extend(rest);
    }
    render(pieces, placed, width)
}

/// The room pieces are placed in, and the columns each tail is given there.
#[derive(Clone, Copy)]
struct Fit {
    width: usize,
    lines: usize,
    wants: usize,
}

fn line_width(pieces: &[Piece], line: &[usize], wants: usize) -> usize {
    let heads: usize = line.iter().map(|&i| pieces[i].width(wants)).sum();
    heads + GAP.len() * line.len().saturating_sub(1)
}

/// Each kept piece on a line, wrapping whole pieces; `None` if they need more
/// lines. A piece wider than a whole line gets a line of its own (and is cut).
fn place(pieces: &[Piece], kept: &[usize], fit: Fit, breaks: bool) -> Option<Vec<Vec<usize>>> {
    let mut placed: Vec<Vec<usize>> = vec![Vec::new()];
    // A line break asked for by a piece left out passes to the next one kept.
    let mut wants_break = false;
    for (i, piece) in pieces.iter().enumerate() {
        wants_break |= breaks && piece.new_line;
        if !kept.contains(&i) {
            continue;
        }
        let line = placed.last().expect("one line at least");
        let room = line_width(pieces, line, fit.wants) + GAP.len() + piece.width(fit.wants) <= fit.width;
        if !line.is_empty() && (!room || wants_break) {
            if placed.len() == fit.lines {
                return None;
            }
            placed.push(Vec::new());
        }
        wants_break = false;
        placed.last_mut().expect("one line at least").push(i);
    }
    Some(placed)
}

/// Moves pieces down while the line below has room, leaving the upper lines'
/// tails (the failing system's error) more room.
fn balance(pieces: &[Piece], placed: &mut [Vec<usize>], fit: Fit) {
    for upper in (0..placed.len().saturating_sub(1)).rev() {
        while placed[upper].len() > 1 {
            let last = *placed[upper].last().expect("two pieces");
            let below = &placed[upper + 1];
            if line_width(pieces, below, fit.wants) + GAP.len() + pieces[last].width(fit.wants) > fit.width {
                break;
            }
            placed[upper].pop();
            placed[upper + 1].insert(0, last);
        }
    }
}

fn render(pieces: Vec<Piece>, placed: Vec<Vec<usize>>, width: usize) -> Vec<Line<'static>> {
    let mut pieces: Vec<Option<Piece>> = pieces.into_iter().map(Some).collect();
    placed
        .into_iter()
        .map(|line| {
            let mut room = width.saturating_sub(line_width_of(&pieces, &line));
            let mut spans = Vec::new();
            for (n, i) in line.into_iter().enumerate() {
                let Some(piece) = pieces[i].take() else {
                    continue;
                };
                let tail = piece.tail.and_then(|tail| {
                    let shown = fit(&tail.content, room);
                    (room >= MIN_TAIL.min(tail.width())).then(|| Span::styled(shown, tail.style))
                });
                if n > 0 && (!piece.head.is_empty() || tail.is_some()) {
                    spans.push(Span::raw(GAP));
                }
                spans.extend(piece.head);
                if let Some(tail) = tail {
                    room = room.saturating_sub(tail.width());
                    spans.push(tail);
                }
            }
            Line::from(spans)
        })
        .collect()
}

fn line_width_of(pieces: &[Option<Piece>], line: &[usize]) -> usize {
    let heads: usize = line
        .iter()
        .map(|&i| pieces[i].as_ref().map_or(0, Piece::head_width))
        .sum();
    heads + GAP.len() * line.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    fn word(w: &str) -> Vec<Span<'static>> {
        vec![Span::raw(w.to_string())]
    }

    #[test]
    fn fit_cuts_to_the_columns_with_an_ellipsis() {
        assert_eq!(fit("LMS answered 503", 40), "LMS answered 503");
        assert_eq!(fit("LMS answered 503", 8), "LMS ans…");
        assert_eq!(fit("李李李李", 5), "李李…");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn wrap_breaks_between_words_and_inside_a_word_too_long() {
        assert_eq!(
            wrap("LMS answered 503 Service Unavailable", 16),
            ["LMS answered 503", "Service", "Unavailable"]
        );
        assert_eq!(wrap("ab abcdefgh", 4), ["ab", "abcd", "efgh"]);
        assert_eq!(wrap("", 4), [""]);
        assert_eq!(wrap("  email: not one", 9), ["  email:", "not one"]);
    }

    #[test]
    fn the_intended_lines_when_they_fit() {
        let pieces = vec![
            Piece::always(word("engine")).with_tail(Span::raw(": sources and more")),
            Piece::always(word("dead 3")).starting_a_line(),
            Piece::always(word("held 2")),
        ];
        assert_eq!(
            text(&flow(pieces, 40, 2)),
            ["engine: sources and more", "dead 3  held 2"]
        );
    }

    #[test]
    fn whole_pieces_wrap_and_the_least_needed_go_first() {
        let always = |w: &str| Piece::always(word(w));
        let pieces = vec![
            always("hrsync ▲ degraded"),
            always("LMS ✗ down 4m").with_tail(Span::raw(": LMS answered 503 Service Unavailable")),
            Piece::optional(2, word("3.2 ev/s")).starting_a_line(),
            Piece::optional(1, word("p99 120ms")),
            Piece::optional(3, word("err 68.5%")),
            always("queue 214"),
            always("dead 12"),
            always("held 2"),
            always("rejected 4"),
            always("drift 5 (! 2 critical)"),
            always("reconciling 45%"),
        ];
        let lines = text(&flow(pieces, 80, 2));
        assert_eq!(
            lines,
            [
                "hrsync ▲ degraded  LMS ✗ down 4m: LMS answered 503 Service…  3.2 ev/s  err 68.5%",
                "queue 214  dead 12  held 2  rejected 4  drift 5 (! 2 critical)  reconciling 45%",
            ]
        );
    }

    #[test]
    fn on_a_narrower_line_the_rates_go_and_every_count_stays() {
        let always = |w: &str| Piece::always(word(w));
        let pieces = vec![
            always("hrsync ▲ degraded"),
            always("LMS ✗ down 4m").with_tail(Span::raw(": LMS answered 503")),
            Piece::optional(2, word("3.2 ev/s")).starting_a_line(),
            Piece::optional(3, word("err 68.5%")),
            always("queue 214"),
            always("dead 12"),
            always("held 2"),
            always("rejected 4"),
            always("drift 5 (! 2 critical)"),
        ];
        let lines = text(&flow(pieces, 56, 2));
        let all = lines.join("\n");
        for count in [
            "LMS ✗ down 4m",
            "queue 214",
            "dead 12",
            "held 2",
            "rejected 4",
            "drift 5 (! 2",
        ] {
            assert!(all.contains(count), "{count} in {lines:?}");
        }
        assert!(!all.contains("ev/s"), "{lines:?}");
        assert!(lines.iter().all(|l| l.chars().count() <= 56), "{lines:?}");
    }

    #[test]
    fn a_tail_with_no_room_is_left_out_and_nothing_is_lost_when_too_narrow() {
        let pieces = vec![
            Piece::always(word("hrsync running")).with_tail(Span::raw(": why")),
            Piece::always(word("dead 3")),
        ];
        assert_eq!(text(&flow(pieces, 8, 1)), ["hrsync running  dead 3"]);
    }
}
