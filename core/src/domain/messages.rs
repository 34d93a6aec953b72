//! Messages: a thread attached to a favour, a loan or a pre-order, between the people involved.
//!
//! A thread opens once there are two parties: a favour once it is promised (its author and
//! counterpart), a loan between owner and borrower, a pre-order between customer and trader. This is
//! also where an exact address may be given, so no one else can read or write in it.

use super::mutation::MessageSend;
use super::validate::{self, MAX_MESSAGE};
use super::*;

/// The two people of a thread, or why it has none yet.
fn parties(ctx: &Ctx<'_>, thread: &ThreadRef) -> Result<[Id; 2], ApplyError> {
    match thread.kind {
        ThreadKind::Favour => {
            let favour = ctx.favour(&thread.id)?;
            match favour.counterpart {
                Some(counterpart) => Ok([favour.author, counterpart]),
                None => Err(Rejection::wrong_state(format!(
                    "\"{}\" has no thread yet: it opens when a neighbour takes the favour up.",
                    favour.title
                ))
                .into()),
            }
        }
        ThreadKind::Loan => {
            let loan = ctx.loan(&thread.id)?;
            Ok([loan.owner, loan.borrower])
        }
        ThreadKind::Order => {
            let order = ctx.order(&thread.id)?;
            Ok([order.trader, order.customer])
        }
    }
}

pub(super) fn send(ctx: &Ctx<'_>, a: &MessageSend) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Message, &a.id)?;
    let [first, second] = parties(ctx, &a.thread)?;
    let recipient = if ctx.is_author(&first) {
        second
    } else if ctx.is_author(&second) {
        first
    } else {
        return Err(Rejection::forbidden("Only the two neighbours involved can write in this thread.").into());
    };
    let body = validate::free_text("message", &a.body, MAX_MESSAGE)?;
    if body.is_empty() {
        return Err(Rejection::invalid("The message is empty; write something.").into());
    }
    Ok(vec![put(Message {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        thread: a.thread.clone(),
        author: ctx.m.author.clone(),
        recipient,
        body,
        sent_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}
