//! Favours: asks ("water my plants Saturday") and offers ("I can fix bikes").
//!
//! Life of a favour: open → promised (a neighbour says "I'll do it", or takes up the offer) → done →
//! thanked; or cancelled by its author while open or promised. The counterpart may step back, and the
//! favour is open again. Thanks are the reputation: counted, never scored.

use super::mutation::{FavourEdit, FavourPost, FavourThank};
use super::validate::{self, MAX_TEXT, MAX_TITLE};
use super::*;

/// The longest time window a favour may have: 90 days.
const MAX_WINDOW_MS: i64 = 90 * 24 * 3_600_000;

fn check_window(window: Option<TimeWindow>) -> Result<Option<TimeWindow>, Rejection> {
    match window {
        Some(w) if w.end_ms <= w.start_ms => {
            Err(Rejection::invalid("The time window must end after it starts."))
        }
        Some(w) if w.end_ms - w.start_ms > MAX_WINDOW_MS => {
            Err(Rejection::invalid("The time window may last at most 90 days."))
        }
        Some(w) if w.start_ms < 0 => Err(Rejection::invalid("The time window starts before 1970.")),
        _ => Ok(window),
    }
}

fn state_name(status: FavourStatus) -> &'static str {
    match status {
        FavourStatus::Open => "still open",
        FavourStatus::Promised => "already promised",
        FavourStatus::Done => "already done",
        FavourStatus::Thanked => "already done and thanked",
        FavourStatus::Cancelled => "cancelled",
    }
}

fn refuse_state(favour: &Favour, doing: &str) -> ApplyError {
    Rejection::wrong_state(format!(
        "\"{}\" is {}, so it cannot be {doing}.",
        favour.title,
        state_name(favour.status)
    ))
    .into()
}

pub(super) fn post(ctx: &Ctx<'_>, a: &FavourPost) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Favour, &a.id)?;
    validate::cell(a.cell)?;
    Ok(vec![put(Favour {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        author: ctx.m.author.clone(),
        kind: a.kind,
        title: validate::required_line("title", &a.title, MAX_TITLE)?,
        details: validate::free_text("details", &a.details, MAX_TEXT)?,
        category: validate::slug("category", &a.category)?,
        window: check_window(a.window)?,
        cell: a.cell,
        status: FavourStatus::Open,
        counterpart: None,
        thanks_note: None,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

pub(super) fn edit(ctx: &Ctx<'_>, a: &FavourEdit) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(&a.id)?;
    if !ctx.is_author(&favour.author) {
        return Err(Rejection::forbidden("Only the author of a favour can change it.").into());
    }
    if favour.status != FavourStatus::Open {
        return Err(refuse_state(&favour, "changed"));
    }
    favour.title = validate::required_line("title", &a.title, MAX_TITLE)?;
    favour.details = validate::free_text("details", &a.details, MAX_TEXT)?;
    favour.category = validate::slug("category", &a.category)?;
    favour.window = check_window(a.window)?;
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}

pub(super) fn promise(ctx: &Ctx<'_>, id: &str) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(id)?;
    if ctx.is_author(&favour.author) {
        return Err(Rejection::forbidden("You cannot take up your own favour.").into());
    }
    if favour.status != FavourStatus::Open {
        return Err(refuse_state(&favour, "promised"));
    }
    favour.status = FavourStatus::Promised;
    favour.counterpart = Some(ctx.m.author.clone());
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}

pub(super) fn withdraw(ctx: &Ctx<'_>, id: &str) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(id)?;
    if favour.counterpart.as_deref() != Some(ctx.m.author.as_str()) {
        return Err(
            Rejection::forbidden("Only the neighbour who took up a favour can step back from it.").into()
        );
    }
    if favour.status != FavourStatus::Promised {
        return Err(refuse_state(&favour, "given back"));
    }
    favour.status = FavourStatus::Open;
    favour.counterpart = None;
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}

pub(super) fn complete(ctx: &Ctx<'_>, id: &str) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(id)?;
    let involved =
        ctx.is_author(&favour.author) || favour.counterpart.as_deref() == Some(ctx.m.author.as_str());
    if !involved {
        return Err(
            Rejection::forbidden("Only the two neighbours involved can mark a favour as done.").into()
        );
    }
    if favour.status != FavourStatus::Promised {
        return Err(refuse_state(&favour, "marked as done"));
    }
    favour.status = FavourStatus::Done;
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}

pub(super) fn thank(ctx: &Ctx<'_>, a: &FavourThank) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(&a.id)?;
    if favour.beneficiary() != Some(ctx.m.author.as_str()) {
        return Err(Rejection::forbidden("Only the neighbour who received a favour can thank for it.").into());
    }
    if favour.status != FavourStatus::Done {
        return Err(refuse_state(&favour, "thanked"));
    }
    let note = validate::free_text("thank-you note", &a.note, MAX_TEXT)?;
    favour.status = FavourStatus::Thanked;
    favour.thanks_note = (!note.is_empty()).then_some(note);
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}

pub(super) fn cancel(ctx: &Ctx<'_>, id: &str) -> Outcome {
    ctx.actor()?;
    let mut favour = ctx.favour(id)?;
    if !ctx.is_author(&favour.author) {
        return Err(Rejection::forbidden("Only the author of a favour can cancel it.").into());
    }
    if !matches!(favour.status, FavourStatus::Open | FavourStatus::Promised) {
        return Err(refuse_state(&favour, "cancelled"));
    }
    favour.status = FavourStatus::Cancelled;
    favour.updated = ctx.m.hlc;
    Ok(vec![put(favour)])
}
