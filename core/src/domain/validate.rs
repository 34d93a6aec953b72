//! Checks on the arguments of mutations: text lengths, slugs, amounts.
//!
//! Each check names the field and says what is expected, so the sentence can be shown as it is.
//! Limits are generous for people and tight enough that no one can fill a phone or the server.

use super::rejection::Rejection;

pub const MAX_TITLE: usize = 120;
pub const MAX_NAME: usize = 60;
pub const MAX_TEXT: usize = 2_000;
pub const MAX_MESSAGE: usize = 4_000;
pub const MAX_SKILLS: usize = 20;
pub const MAX_SLUG: usize = 32;
pub const MAX_ID: usize = 64;
/// The highest price: 1,000,000.00 in the local currency.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;
/// The most stock a product can hold, and the largest single stock move.
pub const MAX_STOCK: i64 = 1_000_000_000;
/// The most of one product in one order.
pub const MAX_ORDER_QUANTITY: i64 = 10_000;
pub const MAX_ORDER_LINES: usize = 50;
/// The longest loan: a season.
pub const MAX_LOAN_DAYS: i32 = 92;

fn has_control_chars(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

/// A required one-line text: trimmed, not empty, at most `max` characters, no control characters.
pub fn required_line(field: &str, text: &str, max: usize) -> Result<String, Rejection> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Rejection::invalid(format!("The {field} is empty; write a few words.")));
    }
    if trimmed.contains('\n') || has_control_chars(trimmed) {
        return Err(Rejection::invalid(format!("The {field} must be a single line of text.")));
    }
    check_length(field, trimmed, max)?;
    Ok(trimmed.to_owned())
}

/// A free text that may be empty: trimmed, at most `max` characters, no control characters but new lines.
pub fn free_text(field: &str, text: &str, max: usize) -> Result<String, Rejection> {
    let trimmed = text.trim();
    if has_control_chars(trimmed) {
        return Err(Rejection::invalid(format!("The {field} contains control characters; remove them.")));
    }
    check_length(field, trimmed, max)?;
    Ok(trimmed.to_owned())
}

fn check_length(field: &str, text: &str, max: usize) -> Result<(), Rejection> {
    let count = text.chars().count();
    if count > max {
        return Err(Rejection::invalid(format!(
            "The {field} is {count} characters long; it may have at most {max}."
        )));
    }
    Ok(())
}

/// A category or unit: lower-case letters, digits and dashes, at most [`MAX_SLUG`] characters.
pub fn slug(field: &str, text: &str) -> Result<String, Rejection> {
    let trimmed = text.trim();
    let ok = !trimmed.is_empty()
        && trimmed.len() <= MAX_SLUG
        && trimmed.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(Rejection::invalid(format!(
            "The {field} {trimmed:?} is not valid: use lower-case letters, digits and dashes, at most {MAX_SLUG} characters (for example \"garden\")."
        )))
    }
}

/// An id chosen by a device for a new thing: 1 to 64 letters, digits, dashes or underscores.
pub fn new_id(field: &str, id: &str) -> Result<(), Rejection> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Rejection::invalid(format!(
            "The {field} id {id:?} is not valid: use 1 to {MAX_ID} letters, digits, dashes or underscores."
        )))
    }
}

/// An amount between `min` and `max`, both included.
pub fn amount(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Rejection> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Rejection::invalid(format!("The {field} must be between {min} and {max}, not {value}.")))
    }
}

/// A coarse place, if given, must be a cell of the grid.
pub fn cell(cell: Option<super::cell::Cell>) -> Result<(), Rejection> {
    match cell {
        Some(cell) if !cell.is_valid() => {
            Err(Rejection::invalid(format!("The place {cell} is not on the map.")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rejection::Code;

    #[test]
    fn lines_are_trimmed_and_checked() {
        assert_eq!(required_line("title", "  Water my plants ", MAX_TITLE).unwrap(), "Water my plants");
        for bad in ["", "   ", "two\nlines", "bell\u{7}", &"é".repeat(MAX_TITLE + 1)] {
            let err = required_line("title", bad, MAX_TITLE).unwrap_err();
            assert_eq!(err.code, Code::Invalid, "{bad:?}");
            assert!(err.message.contains("title"));
        }
        assert_eq!(
            required_line("title", &"é".repeat(MAX_TITLE), MAX_TITLE).unwrap().chars().count(),
            MAX_TITLE
        );
    }

    #[test]
    fn free_text_may_be_empty_or_multiline() {
        assert_eq!(free_text("details", "", MAX_TEXT).unwrap(), "");
        assert!(free_text("details", "a\nb", MAX_TEXT).is_ok());
        assert!(free_text("details", "a\u{0}b", MAX_TEXT).is_err());
    }

    #[test]
    fn slugs_ids_and_amounts() {
        assert_eq!(slug("category", " garden ").unwrap(), "garden");
        assert!(slug("category", "Jardin").is_err());
        assert!(slug("category", "").is_err());
        assert!(new_id("favour", "01J-abc_9").is_ok());
        assert!(new_id("favour", "a b").is_err());
        assert!(new_id("favour", &"a".repeat(65)).is_err());
        assert!(amount("price", -1, 0, MAX_PRICE_CENTS).is_err());
        assert_eq!(amount("price", 250, 0, MAX_PRICE_CENTS).unwrap(), 250);
    }
}
