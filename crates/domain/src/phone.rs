//! Phone numbers normalised to E.164.

use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Why a phone number was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The text is not a phone number at all, or has the wrong length.
    #[error("not a valid phone number")]
    Invalid,
}

/// A phone number in E.164 form (`+79161234567`).
///
/// Numbers without a country code are read in the default region, Russia, so a Russian
/// trunk prefix `8` works as people type it:
///
/// ```
/// use cohai_domain::Phone;
/// assert_eq!(Phone::parse("8 (916) 123-45-67").unwrap().as_str(), "+79161234567");
/// assert_eq!(Phone::parse("+7 916 123 45 67").unwrap().as_str(), "+79161234567");
/// assert!(Phone::parse("garbage").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

/// Longest input accepted, in characters (a generously spaced number fits easily).
const MAX_INPUT_CHARS: usize = 64;

/// True for what people write between the digits of a phone number: any space (including
/// no-break and other Unicode spaces), `-`, `.`, `(`, `)`, `/`, any Unicode dash or minus
/// sign, their full-width forms, and invisible format characters (zero-width spaces,
/// direction marks, a soft hyphen) that come along when a number is copied from a page or
/// a messenger.
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '-' | '.'
            | '('
            | ')'
            | '/'
            | '\u{2212}' // MINUS SIGN
            | '\u{FF08}' // FULLWIDTH LEFT PARENTHESIS
            | '\u{FF09}' // FULLWIDTH RIGHT PARENTHESIS
            | '\u{FF0E}' // FULLWIDTH FULL STOP
            | '\u{FF0F}' // FULLWIDTH SOLIDUS
    ) || c.is_whitespace()
        || matches!(
            c.general_category(),
            GeneralCategory::SpaceSeparator
                | GeneralCategory::DashPunctuation
                | GeneralCategory::Format
        )
}

/// `input` without separators: an optional leading `+` and ASCII digits (full-width digits
/// and plus become ASCII), or `None` when anything else is in it (letters, a `+` after a
/// digit, other punctuation). Every spelling of one number gives one compact form.
fn compact(input: &str) -> Option<String> {
    let mut out = String::with_capacity(input.len().min(4 * MAX_INPUT_CHARS));
    for (i, c) in input.chars().enumerate() {
        if i >= MAX_INPUT_CHARS {
            return None;
        }
        match c {
            '0'..='9' => out.push(c),
            '\u{FF10}'..='\u{FF19}' => out.push(char::from_digit(u32::from(c) - 0xFF10, 10)?),
            '+' | '\u{FF0B}' if out.is_empty() => out.push('+'),
            c if is_separator(c) => {}
            _ => return None,
        }
    }
    out.bytes().any(|b| b.is_ascii_digit()).then_some(out)
}

impl Phone {
    /// Parses and validates `input`, defaulting to the Russian region.
    ///
    /// Separators are dropped first (see `is_separator`), so `+7916123-45-67`,
    /// `+7 916 123 45 67` and `8.916.123.45.67` are one number; anything but digits, one
    /// leading `+` and separators is rejected.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let input = compact(input).ok_or(PhoneError::Invalid)?;
        let number = phonenumber::parse(Some(phonenumber::country::Id::RU), &input)
            .map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        Ok(Self(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// Wraps a value that is already E.164 (as read back from storage).
    pub fn from_e164_unchecked(value: String) -> Self {
        Self(value)
    }

    /// The E.164 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the phone, returning the E.164 text.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_russian_formats() {
        for input in [
            "+7 916 123 45 67",
            "8(916)1234567",
            "9161234567",
            "8 916 123-45-67",
            "+7 (916) 123-45-67",
            " 89161234567 ",
        ] {
            assert_eq!(
                Phone::parse(input).map(Phone::into_string),
                Ok("+79161234567".to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn keeps_foreign_numbers_with_country_code() {
        assert_eq!(
            Phone::parse("+49 30 901820").map(Phone::into_string),
            Ok("+4930901820".to_owned())
        );
    }

    #[test]
    fn rejects_garbage_short_and_overlong_input() {
        for input in [
            "",
            "   ",
            "garbage",
            "12345",
            "+7 916 123",
            &"9".repeat(100),
        ] {
            assert_eq!(Phone::parse(input), Err(PhoneError::Invalid), "{input}");
        }
    }

    #[test]
    fn every_spelling_of_one_number_is_the_same_e164() {
        for input in [
            "+7916123-45-67",
            "+7916 123 45 67",
            "+7-916-123-45-67",
            "+7.916.123.45.67",
            "8.916.123.45.67",
            "8/916/1234567",
            "(916) 123 45 67",
            "+7 (916) 123\u{2013}45\u{2014}67",
            "+7\u{a0}916\u{a0}123\u{a0}45\u{a0}67",
            "+7\u{202f}916\u{2009}123\u{2007}45\u{3000}67",
            "8\u{2011}916\u{2010}123\u{2212}45\u{fe63}67\u{ff0d}",
            "\u{202a}+7 916 123-45-67\u{202c}",
            "\u{200e}8 916 123 45 67",
            "\u{feff}+79161234567",
            "+ 7 916 123 45 67",
            "\u{ff0b}\u{ff17}\u{ff19}\u{ff11}\u{ff16}\u{ff11}\u{ff12}\u{ff13}\u{ff14}\u{ff15}\u{ff16}\u{ff17}",
            "８\u{ff08}９１６\u{ff09}１２３\u{ff0e}４５\u{ff0f}６７",
            "\t8 916 123 45 67\n",
        ] {
            assert_eq!(
                Phone::parse(input).map(Phone::into_string),
                Ok("+79161234567".to_owned()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn separators_do_not_make_garbage_a_number() {
        for input in [
            "+7 916 123 45 67 доб. 12",
            "+7 916 123 45 67, +7 916 123 45 68",
            "7+9161234567",
            "++79161234567",
            "+7 916 123 45 6x",
            "tel:+79161234567",
            "8 916 123 45 67#",
            "- - - - -",
            "()",
            "+",
            "\u{200b}",
            "9161234567\u{0301}",
            &format!("8{}9161234567", " ".repeat(60)),
        ] {
            assert_eq!(Phone::parse(input), Err(PhoneError::Invalid), "{input:?}");
        }
    }
}
