//! Lending: items neighbours lend, and the loans of them.
//!
//! A loan is requested for a period (first and last day, both included), then approved or declined by
//! the item's owner — the authority on its calendar — handed over, and returned; the borrower may cancel
//! until it is handed over. No two approved loans of one item overlap: a request that overlaps an
//! approved loan is refused at once, and approving a request declines the requests it overlaps, with a
//! sentence that says why.

use super::mutation::{ItemAdd, ItemEdit, LoanDecline, LoanRequest};
use super::validate::{self, MAX_LOAN_DAYS, MAX_TEXT, MAX_TITLE};
use super::*;

fn owned_item(ctx: &Ctx<'_>, id: &str) -> Result<Item, ApplyError> {
    ctx.actor()?;
    let item = ctx.item(id)?;
    if !ctx.is_author(&item.owner) {
        return Err(Rejection::forbidden(format!("Only the owner of \"{}\" can do this.", item.title)).into());
    }
    Ok(item)
}

pub(super) fn add_item(ctx: &Ctx<'_>, a: &ItemAdd) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Item, &a.id)?;
    validate::cell(a.cell)?;
    Ok(vec![put(Item {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        owner: ctx.m.author.clone(),
        title: validate::required_line("title", &a.title, MAX_TITLE)?,
        description: validate::free_text("description", &a.description, MAX_TEXT)?,
        category: validate::slug("category", &a.category)?,
        condition: a.condition,
        deposit_note: validate::free_text("deposit note", &a.deposit_note, MAX_TITLE)?,
        cell: a.cell,
        withdrawn: false,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

pub(super) fn edit_item(ctx: &Ctx<'_>, a: &ItemEdit) -> Outcome {
    let mut item = owned_item(ctx, &a.id)?;
    item.title = validate::required_line("title", &a.title, MAX_TITLE)?;
    item.description = validate::free_text("description", &a.description, MAX_TEXT)?;
    item.category = validate::slug("category", &a.category)?;
    item.condition = a.condition;
    item.deposit_note = validate::free_text("deposit note", &a.deposit_note, MAX_TITLE)?;
    item.updated = ctx.m.hlc;
    Ok(vec![put(item)])
}

/// Withdrawing also declines the requests still waiting; loans already approved stand.
pub(super) fn set_withdrawn(ctx: &Ctx<'_>, id: &str, withdrawn: bool) -> Outcome {
    let mut item = owned_item(ctx, id)?;
    if item.withdrawn == withdrawn {
        let state = if withdrawn { "already withdrawn" } else { "already up for lending" };
        return Err(Rejection::wrong_state(format!("\"{}\" is {state}.", item.title)).into());
    }
    item.withdrawn = withdrawn;
    item.updated = ctx.m.hlc;
    let mut effects = Vec::new();
    if withdrawn {
        for mut loan in ctx.view.open_loans_of_item(ctx.nid(), id)? {
            if loan.status == LoanStatus::Requested {
                loan.status = LoanStatus::Declined;
                loan.decline_reason = Some(format!("{} is no longer lent.", item.title));
                loan.updated = ctx.m.hlc;
                effects.push(put(loan));
            }
        }
    }
    effects.push(put(item));
    Ok(effects)
}

pub(super) fn request(ctx: &Ctx<'_>, a: &LoanRequest) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Loan, &a.id)?;
    let item = ctx.item(&a.item_id)?;
    if ctx.is_author(&item.owner) {
        return Err(Rejection::forbidden("You cannot borrow your own item.").into());
    }
    if item.withdrawn {
        return Err(Rejection::wrong_state(format!("\"{}\" is not lent at the moment.", item.title)).into());
    }
    if a.last_day < a.first_day {
        return Err(Rejection::invalid("The last day of a loan cannot come before its first day.").into());
    }
    let days = a.first_day.days_until(a.last_day) + 1;
    if days > MAX_LOAN_DAYS {
        return Err(
            Rejection::invalid(format!("A loan may last at most {MAX_LOAN_DAYS} days, not {days}.")).into()
        );
    }
    // The earliest "today" anywhere on earth (UTC-12) when the request was made.
    let earliest_today = Day::of_instant(ctx.at(), -12 * 60);
    if a.first_day < earliest_today {
        return Err(Rejection::invalid(format!("A loan cannot start in the past ({}).", a.first_day)).into());
    }
    let open = ctx.view.open_loans_of_item(ctx.nid(), &item.id)?;
    if let Some(taken) =
        open.iter().find(|l| l.status.holds_calendar() && l.overlaps(a.first_day, a.last_day))
    {
        return Err(Rejection::new(
            Code::Overlap,
            format!(
                "\"{}\" is already lent from {} to {}; choose other days.",
                item.title, taken.first_day, taken.last_day
            ),
        )
        .into());
    }
    if open.iter().any(|l| l.borrower == ctx.m.author && l.overlaps(a.first_day, a.last_day)) {
        return Err(Rejection::new(Code::AlreadyExists, "You have already asked for these days.").into());
    }
    Ok(vec![put(Loan {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        item_id: item.id.clone(),
        owner: item.owner.clone(),
        borrower: ctx.m.author.clone(),
        first_day: a.first_day,
        last_day: a.last_day,
        status: LoanStatus::Requested,
        note: validate::free_text("note", &a.note, MAX_TEXT)?,
        decline_reason: None,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

/// The loan, if the author is its owner (`as_owner`) or its borrower.
fn loan_for(ctx: &Ctx<'_>, id: &str, as_owner: bool) -> Result<Loan, ApplyError> {
    ctx.actor()?;
    let loan = ctx.loan(id)?;
    let (who, role) = if as_owner { (&loan.owner, "owner") } else { (&loan.borrower, "borrower") };
    if !ctx.is_author(who) {
        return Err(Rejection::forbidden(format!("Only the {role} of this loan can do this.")).into());
    }
    Ok(loan)
}

fn refuse_state(loan: &Loan, doing: &str) -> ApplyError {
    let state = match loan.status {
        LoanStatus::Requested => "still waiting for an answer",
        LoanStatus::Approved => "already approved",
        LoanStatus::Declined => "declined",
        LoanStatus::HandedOver => "already handed over",
        LoanStatus::Returned => "already returned",
        LoanStatus::Cancelled => "cancelled",
    };
    Rejection::wrong_state(format!("This loan is {state}, so it cannot be {doing}.")).into()
}

fn transition(ctx: &Ctx<'_>, mut loan: Loan, from: &[LoanStatus], to: LoanStatus, doing: &str) -> Outcome {
    if !from.contains(&loan.status) {
        return Err(refuse_state(&loan, doing));
    }
    loan.status = to;
    loan.updated = ctx.m.hlc;
    Ok(vec![put(loan)])
}

pub(super) fn approve(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let mut loan = loan_for(ctx, id, true)?;
    if loan.status != LoanStatus::Requested {
        return Err(refuse_state(&loan, "approved"));
    }
    let item = ctx.item(&loan.item_id)?;
    let others = ctx.view.open_loans_of_item(ctx.nid(), &loan.item_id)?;
    let others = others.into_iter().filter(|l| l.id != loan.id && l.overlaps(loan.first_day, loan.last_day));
    let mut effects = Vec::new();
    let borrower_name =
        ctx.member(&loan.borrower)?.map_or_else(|| "another neighbour".to_owned(), |m| m.display_name);
    for mut other in others {
        if other.status.holds_calendar() {
            return Err(Rejection::new(
                Code::Overlap,
                format!(
                    "\"{}\" is already lent from {} to {}; these days overlap.",
                    item.title, other.first_day, other.last_day
                ),
            )
            .into());
        }
        other.status = LoanStatus::Declined;
        other.decline_reason = Some(format!("{} was lent to {borrower_name} in the meantime.", item.title));
        other.updated = ctx.m.hlc;
        effects.push(put(other));
    }
    loan.status = LoanStatus::Approved;
    loan.updated = ctx.m.hlc;
    effects.push(put(loan));
    Ok(effects)
}

pub(super) fn decline(ctx: &Ctx<'_>, a: &LoanDecline) -> Outcome {
    let mut loan = loan_for(ctx, &a.id, true)?;
    let reason = validate::free_text("reason", &a.reason, MAX_TITLE)?;
    loan.decline_reason = (!reason.is_empty()).then_some(reason);
    transition(ctx, loan, &[LoanStatus::Requested], LoanStatus::Declined, "declined")
}

pub(super) fn cancel(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let loan = loan_for(ctx, id, false)?;
    transition(ctx, loan, &[LoanStatus::Requested, LoanStatus::Approved], LoanStatus::Cancelled, "cancelled")
}

pub(super) fn hand_over(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let loan = loan_for(ctx, id, true)?;
    transition(ctx, loan, &[LoanStatus::Approved], LoanStatus::HandedOver, "handed over")
}

pub(super) fn give_back(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let loan = loan_for(ctx, id, true)?;
    transition(ctx, loan, &[LoanStatus::HandedOver], LoanStatus::Returned, "marked as returned")
}
