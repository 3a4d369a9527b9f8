//! Text that people type: names stored the way they read, whichever way they were typed.
//!
//! A name is stored trimmed and in Unicode Normalization Form C (NFC), so `"й"` typed as one
//! code point (U+0439) or as `и` + U+0306 COMBINING BREVE is one name that search finds either
//! way, and its length is counted in characters of that form. It must contain at least one
//! character a reader can see: a name of only zero-width spaces, direction marks, a byte-order
//! mark or a lone combining accent is stored by nobody.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// Why a name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Nothing in the name can be seen: only spaces, format or control characters, combining
    /// marks or blank fillers.
    #[error("must contain at least one visible character")]
    Invisible,
}

/// `input` trimmed and in NFC, the form names are stored and searched in.
///
/// ```
/// use cohai_domain::text::normalise_name;
/// assert_eq!(normalise_name("  Йога \u{a0}"), "Йога");
/// assert_eq!(normalise_name("И\u{306}ога"), "Йога"); // И + combining breve → Й
/// ```
pub fn normalise_name(input: &str) -> String {
    let nfc: String = input.nfc().collect();
    match nfc.trim() {
        trimmed if trimmed.len() == nfc.len() => nfc,
        trimmed => trimmed.to_owned(),
    }
}

/// `input` in NFC, borrowed when it already is (the common case: most text is typed in NFC).
///
/// Search terms go through this so that they match names stored by [`normalise_name`].
pub fn nfc(input: &str) -> Cow<'_, str> {
    if unicode_normalization::is_nfc(input) {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(input.nfc().collect())
    }
}

/// True when `c` shows something on its own: a letter, digit, punctuation mark or symbol
/// (or a private-use character, which fonts draw).
///
/// Not visible: whitespace and other separators (`Z*`), control and format characters such as
/// U+200B ZERO WIDTH SPACE, U+200F RIGHT-TO-LEFT MARK and U+FEFF (`Cc`, `Cf`), combining marks
/// (`Mn`, `Mc`, `Me`), unassigned code points, and the letters and symbols that fonts draw
/// blank (the Hangul fillers, U+2800 BRAILLE PATTERN BLANK).
pub fn is_visible(c: char) -> bool {
    if c.is_whitespace() || is_blank_filler(c) {
        return false;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Letter
        | GeneralCategoryGroup::Number
        | GeneralCategoryGroup::Punctuation
        | GeneralCategoryGroup::Symbol => true,
        GeneralCategoryGroup::Other => c.general_category() == GeneralCategory::PrivateUse,
        GeneralCategoryGroup::Mark | GeneralCategoryGroup::Separator => false,
    }
}

/// Letters and symbols that are drawn as nothing (used to fake blank names).
fn is_blank_filler(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' // HANGUL CHOSEONG FILLER
            | '\u{1160}' // HANGUL JUNGSEONG FILLER
            | '\u{3164}' // HANGUL FILLER
            | '\u{FFA0}' // HALFWIDTH HANGUL FILLER
            | '\u{2800}' // BRAILLE PATTERN BLANK
    )
}

/// True when `text` has at least one [visible](is_visible) character.
pub fn has_visible_character(text: &str) -> bool {
    text.chars().any(is_visible)
}

/// `input` as a name is stored ([normalised](normalise_name)), or why it cannot be one.
///
/// Length limits are the caller's: they count the characters of the returned form.
///
/// ```
/// use cohai_domain::text::{NameError, visible_name};
/// assert_eq!(visible_name(" Анна ").as_deref(), Ok("Анна"));
/// assert_eq!(visible_name("\u{200b}"), Err(NameError::Invisible));
/// assert_eq!(visible_name("\u{301}"), Err(NameError::Invisible)); // a lone combining accent
/// ```
pub fn visible_name(input: &str) -> Result<String, NameError> {
    let name = normalise_name(input);
    if has_visible_character(&name) {
        Ok(name)
    } else {
        Err(NameError::Invisible)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_names_are_rejected() {
        for input in [
            "",
            "   ",
            "\u{200b}",
            "\u{200f}",
            "\u{200e}\u{200f}",
            "\u{feff}",
            "\u{2060}",
            "\u{00ad}",
            "\u{0301}",
            "\u{0301}\u{0308}",
            "\u{20dd}", // COMBINING ENCLOSING CIRCLE (Me)
            "\u{0903}", // DEVANAGARI SIGN VISARGA (Mc)
            " \u{200b} ",
            "\u{a0}\u{2007}\u{202f}\u{3000}",
            "\u{2028}\u{2029}",
            "\u{0085}",
            "\u{0007}",
            "\u{3164}",
            "\u{115f}\u{1160}",
            "\u{2800}",
            "\u{e0041}", // TAG LATIN CAPITAL LETTER A (Cf)
            "\u{fe0f}",  // VARIATION SELECTOR-16 (Mn)
            "\u{0378}",  // unassigned
        ] {
            assert_eq!(visible_name(input), Err(NameError::Invisible), "{input:?}");
        }
    }

    #[test]
    fn visible_names_are_kept_trimmed() {
        for (input, stored) in [
            ("Анна", "Анна"),
            ("  Анна Смирнова \t", "Анна Смирнова"),
            ("\u{200b}Анна\u{200b}", "\u{200b}Анна\u{200b}"),
            ("a\u{0301}", "\u{e1}"),
            ("李小龍", "李小龍"),
            ("O'Neil-Smith", "O'Neil-Smith"),
            ("7", "7"),
            ("🙂", "🙂"),
            ("\u{e000}", "\u{e000}"),
            ("\u{0301}a", "\u{0301}a"),
        ] {
            assert_eq!(visible_name(input).as_deref(), Ok(stored), "{input:?}");
        }
    }

    #[test]
    fn names_are_stored_in_nfc_whichever_form_was_typed() {
        let composed = "Zo\u{eb} Jos\u{e9}";
        let decomposed = "Zoe\u{308} Jose\u{301}";
        assert_eq!(normalise_name(decomposed), composed);
        assert_eq!(normalise_name(composed), composed);
        assert_eq!(normalise_name(decomposed).chars().count(), 8);
        // Cyrillic й and ё typed with combining marks.
        assert_eq!(normalise_name("и\u{306}е\u{308}"), "йё");
        // A singleton decomposition: U+212B ANGSTROM SIGN is Å.
        assert_eq!(normalise_name("\u{212b}"), "\u{c5}");
    }

    #[test]
    fn nfc_borrows_text_that_already_is() {
        assert!(matches!(nfc("анна"), Cow::Borrowed("анна")));
        assert_eq!(nfc("e\u{301}"), "\u{e9}");
        assert!(matches!(nfc("e\u{301}"), Cow::Owned(_)));
    }
}
