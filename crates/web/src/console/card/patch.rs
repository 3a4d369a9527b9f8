//! The change the card's form asks for: each field against the value the form was rendered
//! with (its hidden `was_*` twin), so that only what the manager changed is sent. A field that
//! is not in the form at all stays as it is.

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use cohai_domain::LeadStatus;
use cohai_services::LeadPatch;

use crate::console::form::Fields;

/// What the form asks for.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Nothing differs from what the form showed.
    Unchanged,
    /// These changes.
    Change(Box<LeadPatch>),
    /// Values people must correct, with why.
    Refused(Vec<String>),
}

/// The fields the form carries, each with its `was_*` twin.
pub(super) const FIELDS: [&str; 5] = [
    "status",
    "lost_reason",
    "assignee",
    "next_contact_at",
    "notes",
];

/// The submitted value of `name` when it differs from the one the form was rendered with.
fn changed<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    let now = fields.get(name)?;
    let was = fields.get(&format!("was_{name}"));
    (was != Some(now)).then_some(now)
}

/// The change the form asks for; `zone` is the studio's, in which the call-back is typed.
pub(super) fn patch_of(fields: &Fields, zone: Tz) -> Outcome {
    match build(fields, zone) {
        Ok(patch) if is_empty(&patch) => Outcome::Unchanged,
        Ok(patch) => Outcome::Change(Box::new(patch)),
        Err(message) => Outcome::Refused(vec![message]),
    }
}

fn is_empty(patch: &LeadPatch) -> bool {
    patch.status.is_none()
        && patch.lost_reason.is_none()
        && patch.assignee.is_none()
        && patch.next_contact_at.is_none()
        && patch.notes.is_none()
}

fn build(fields: &Fields, zone: Tz) -> Result<LeadPatch, String> {
    let mut patch = LeadPatch::default();
    let parse_status = |raw: &str| {
        raw.parse::<LeadStatus>()
            .map_err(|_| "Выберите статус.".to_owned())
    };
    let new_status = changed(fields, "status").map(parse_status).transpose()?;
    let was_status = fields
        .get("was_status")
        .and_then(|s| s.parse::<LeadStatus>().ok());
    let status = new_status.or(was_status);
    if status == Some(LeadStatus::Lost) {
        // Lost asks for a reason: when the lead becomes lost, or its reason is edited.
        if new_status.is_some() || changed(fields, "lost_reason").is_some() {
            let reason = fields
                .text("lost_reason", false)?
                .ok_or_else(|| "Укажите причину отказа.".to_owned())?;
            patch.lost_reason = Some(Some(reason));
        }
    } else if new_status.is_some() && was_status == Some(LeadStatus::Lost) {
        // Back from lost: the old reason no longer holds.
        patch.lost_reason = Some(None);
    }
    patch.status = new_status.map(Some);
    if changed(fields, "assignee").is_some() {
        patch.assignee = Some(fields.text("assignee", false)?);
    }
    if changed(fields, "next_contact_at").is_some() {
        let at = match fields.text("next_contact_at", false)? {
            None => None,
            Some(local) => Some(instant_in(&local, zone)?),
        };
        patch.next_contact_at = Some(at);
    }
    if changed(fields, "notes").is_some() {
        patch.notes = Some(fields.text("notes", true)?);
    }
    Ok(patch)
}

/// A `datetime-local` value (`2026-12-02T15:30`) read in `zone`, as RFC 3339. A time that
/// falls into a daylight-saving gap does not exist there; one that occurs twice is the first.
fn instant_in(local: &str, zone: Tz) -> Result<String, String> {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "Перезвонить: укажите дату и время.".to_owned())?;
    let at = naive.and_local_timezone(zone).earliest().ok_or_else(|| {
        "Перезвонить: такого времени в часовом поясе студии нет (переход на летнее время)."
            .to_owned()
    })?;
    Ok(at.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: &str) -> Fields {
        Fields::parse(body.as_bytes()).expect("form")
    }

    fn change(body: &str, zone: Tz) -> LeadPatch {
        match patch_of(&fields(body), zone) {
            Outcome::Change(patch) => *patch,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    fn refusal(body: &str) -> Vec<String> {
        match patch_of(&fields(body), Tz::UTC) {
            Outcome::Refused(messages) => messages,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn only_what_the_manager_changed_is_sent() {
        let patch = change(
            "status=new&was_status=new&assignee=olga&was_assignee=&notes=a&was_notes=a\
             &next_contact_at=&was_next_contact_at=&lost_reason=&was_lost_reason=",
            Tz::UTC,
        );
        assert_eq!(patch.assignee, Some(Some("olga".to_owned())));
        assert!(patch.status.is_none() && patch.notes.is_none() && patch.next_contact_at.is_none());
        let same = "status=new&was_status=new&notes=a&was_notes=a";
        assert!(matches!(
            patch_of(&fields(same), Tz::UTC),
            Outcome::Unchanged
        ));
    }

    #[test]
    fn lost_needs_a_reason() {
        assert_eq!(
            refusal("status=lost&was_status=new&lost_reason=+&was_lost_reason="),
            ["Укажите причину отказа."]
        );
        let patch = change(
            "status=lost&was_status=new&lost_reason=Дорого&was_lost_reason=",
            Tz::UTC,
        );
        assert_eq!(patch.status, Some(Some(LeadStatus::Lost)));
        assert_eq!(patch.lost_reason, Some(Some("Дорого".to_owned())));
        // A lost lead's reason edited alone, and emptied: refused.
        let patch = change(
            "status=lost&was_status=lost&lost_reason=Далеко&was_lost_reason=Дорого",
            Tz::UTC,
        );
        assert_eq!(patch.lost_reason, Some(Some("Далеко".to_owned())));
        assert_eq!(
            refusal("status=lost&was_status=lost&lost_reason=&was_lost_reason=Дорого"),
            ["Укажите причину отказа."]
        );
    }

    #[test]
    fn leaving_lost_clears_the_reason_and_other_statuses_ignore_it() {
        let back = change(
            "status=contacted&was_status=lost&lost_reason=Дорого&was_lost_reason=Дорого",
            Tz::UTC,
        );
        assert_eq!(back.status, Some(Some(LeadStatus::Contacted)));
        assert_eq!(back.lost_reason, Some(None));
        let other = change(
            "status=contacted&was_status=new&lost_reason=x&was_lost_reason=",
            Tz::UTC,
        );
        assert_eq!(other.lost_reason, None);
    }

    #[test]
    fn a_form_without_the_previous_values_changes_what_it_sends() {
        let patch = change("status=contacted", Tz::UTC);
        assert_eq!(patch.status, Some(Some(LeadStatus::Contacted)));
        assert!(matches!(patch_of(&fields(""), Tz::UTC), Outcome::Unchanged));
        assert_eq!(refusal("status=bogus"), ["Выберите статус."]);
    }

    #[test]
    fn the_call_back_is_read_in_the_studio_zone_and_blank_clears_it() {
        let moscow = chrono_tz::Europe::Moscow;
        let patch = change(
            "next_contact_at=2026-12-02T15:30&was_next_contact_at=",
            moscow,
        );
        assert_eq!(
            patch.next_contact_at,
            Some(Some("2026-12-02T15:30:00+03:00".to_owned()))
        );
        let cleared = change(
            "next_contact_at=&was_next_contact_at=2026-12-02T15:30",
            moscow,
        );
        assert_eq!(cleared.next_contact_at, Some(None));
        assert!(matches!(
            patch_of(&fields("next_contact_at=tomorrow"), moscow),
            Outcome::Refused(_)
        ));
    }

    #[test]
    fn a_time_in_a_daylight_saving_gap_is_refused_and_a_repeated_one_is_the_first() {
        let berlin = chrono_tz::Europe::Berlin;
        assert!(matches!(
            patch_of(&fields("next_contact_at=2026-03-29T02:30"), berlin),
            Outcome::Refused(_)
        ));
        let twice = change("next_contact_at=2026-10-25T02:30", berlin);
        assert_eq!(
            twice.next_contact_at,
            Some(Some("2026-10-25T02:30:00+02:00".to_owned()))
        );
    }

    #[test]
    fn blank_owner_and_notes_clear_them() {
        let patch = change("assignee=&was_assignee=olga&notes=&was_notes=x", Tz::UTC);
        assert_eq!(patch.assignee, Some(None));
        assert_eq!(patch.notes, Some(None));
        let patch = change("notes=a%0D%0Ab", Tz::UTC);
        assert_eq!(patch.notes, Some(Some("a\nb".to_owned())));
    }
}
