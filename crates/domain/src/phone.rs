//! Phone numbers normalised to E.164.

use std::fmt;

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

/// Longest input accepted before parsing (a formatted number with extension fits easily).
const MAX_INPUT_LEN: usize = 64;

impl Phone {
    /// Parses and validates `input`, defaulting to the Russian region.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_INPUT_LEN {
            return Err(PhoneError::Invalid);
        }
        let number = phonenumber::parse(Some(phonenumber::country::Id::RU), input)
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
}
