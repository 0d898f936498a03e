//! Text that came from a server, a DNS answer, a file or the user, made safe to print on a
//! terminal: the one function every plain-text renderer (the `discover` table and summary,
//! `select`, plain `watch` lines, the interactive view, hints, error messages) passes such
//! text through. JSON output keeps the exact value: JSON escaping is already safe.

use std::borrow::Cow;
use std::fmt::Write as _;

/// The longest table cell or single value shown (in characters, after escaping).
pub const CELL_CHARS: usize = 200;

/// The longest whole line shown (a hint, a `watch` line, an error message).
pub const LINE_CHARS: usize = 2000;

/// Whether `c` must not reach a terminal as it is: C0 controls (ESC, newline, tab, CR...),
/// DEL, C1 controls (including the 8-bit CSI), and the invisible characters that reorder
/// or hide text (bidirectional overrides, zero-width characters, line separators).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Appends the visible form of `c`: `\n`, `\r`, `\t`, or `\u{1b}` for the others.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        other => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
        }
    }
}

/// `text` as it may be shown on a terminal: every control character and escape sequence
/// made visible (`\u{1b}`, `\n`, ...), and at most `max_chars` characters of that (escapes
/// count with their visible length), followed by `… (N chars)` with the full length of
/// `text` when some of it is left out. Text that needs neither is returned as it is.
pub fn display_untrusted(text: &str, max_chars: usize) -> Cow<'_, str> {
    let total = text.chars().count();
    if total <= max_chars && !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(max_chars.min(text.len()).saturating_add(24));
    let mut shown = 0usize;
    let mut cut = false;
    let mut piece = String::new();
    for c in text.chars() {
        piece.clear();
        if is_unsafe(c) {
            push_escaped(&mut piece, c);
        } else {
            piece.push(c);
        }
        let length = piece.chars().count();
        if shown.saturating_add(length) > max_chars {
            cut = true;
            break;
        }
        out.push_str(&piece);
        shown += length;
    }
    if cut {
        let _ = write!(out, "… ({total} chars)");
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{display_untrusted, is_unsafe};

    #[test]
    fn escape_sequences_and_newlines_are_made_visible() {
        let shown = display_untrusted("rs0\u{1b}]0;TITLE\u{7}\u{1b}[2J\nFORGED: yes\t\r", 100);
        assert_eq!(
            shown,
            "rs0\\u{1b}]0;TITLE\\u{7}\\u{1b}[2J\\nFORGED: yes\\t\\r"
        );
        assert_eq!(display_untrusted("a\u{9b}b\u{7f}", 100), "a\\u{9b}b\\u{7f}");
        assert_eq!(display_untrusted("a\u{202e}b", 100), "a\\u{202e}b");
    }

    #[test]
    fn plain_text_is_kept_as_it_is() {
        let shown = display_untrusted("host-1.example:27017 → rs0 dc:east", 100);
        assert!(matches!(shown, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn long_text_is_cut_with_its_full_length_stated() {
        let long = "x".repeat(70_000);
        let shown = display_untrusted(&long, 10);
        assert_eq!(shown, "xxxxxxxxxx… (70000 chars)");
        assert_eq!(display_untrusted("ab\ncd", 4), "ab\\n… (5 chars)");
    }

    proptest! {
        #[test]
        fn any_bytes_come_out_printable_and_bounded(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            max_chars in 0usize..300,
        ) {
            let text = String::from_utf8_lossy(&bytes);
            let shown = display_untrusted(&text, max_chars);
            let escape_or_newline = shown.contains(['\x1b', '\n']);
            prop_assert!(!escape_or_newline, "{:?}", shown);
            prop_assert!(!shown.chars().any(is_unsafe), "{shown:?}");
            // The cut text, then "… (N chars)" with N below 10^20.
            prop_assert!(shown.chars().count() <= max_chars + 30, "{shown:?}");
        }

        #[test]
        fn any_characters_come_out_printable_and_bounded(
            text in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{200b}-\\u{202e}a]{0,300}",
            max_chars in 0usize..300,
        ) {
            let shown = display_untrusted(&text, max_chars);
            prop_assert!(!shown.chars().any(|c| c.is_control()), "{shown:?}");
            prop_assert!(shown.chars().count() <= max_chars + 30, "{shown:?}");
        }
    }
}
