//! Push: a device's mutations, each applied once, in its sequence order, with one outcome each.
//!
//! Before anything is applied, every mutation of the request must be the device's own: its
//! `device_id` and `author` are the token's device and person, or the whole request is refused
//! (`forbidden`), so that a forged author or device never gets through. Then, in order, against the
//! device's last answered sequence number `last`:
//! - `seq <= last`: a mutation pushed again; its first outcome is answered again and nothing is applied;
//! - `seq == last + 1`: applied in one transaction with its outcome and the device's new `last` (a
//!   transaction answers a run of up to 100 consecutive mutations of one neighbourhood). A
//!   rejection is recorded and answered the same way: it is never retried, and it does not block the
//!   mutations behind it;
//! - `seq > last + 1`: a gap. The push stops there: what came before it is applied and recorded, and
//!   the call answers `409 seq_gap` with the expected seq and the outcomes of the mutations before the
//!   gap ([`SeqGap`]), so that the device can acknowledge them and see what is missing.
//!
//! A mutation pushed again is known by its number *and* its clock stamp, recorded with its outcome: a
//! different mutation under a number already answered (a device restored from an older backup, whose
//! numbers went back) is not answered with the other's outcome, which would lose it silently; the push
//! stops there with `409 seq_reused` and the same [`SeqGap`] body (`found < expected`).
//!
//! The answers are kept only as long as the device may ask again: a push may say up to which number
//! the device has stored its answers (`?stored_up_to=N`, the number below its oldest mutation still
//! waiting for one), and the server then forgets the device's answers up to there once they are
//! [`OUTCOMES_KEPT_MS`] old (a day, for the host's diagnosis). A mutation pushed again under a number
//! whose answer is forgotten can only come from a device whose numbers went back: it is answered as
//! `seq_reused`, as above.
//!
//! A removed or departed member's mutations are refused by the rules themselves (`not_member`).

use super::apply::apply_in;
use crate::clock::Clock;
use crate::error::{ApiError, Error};
use crate::storage::{Backend, Device, Tx};
use axum::http::StatusCode;
use quartier_core::domain::Mutation;
use quartier_core::sync::protocol::{MAX_PUSH_MUTATIONS, MutationResult, Outcome, SeqGap};
use std::sync::Arc;

/// What a push did, for the answer and the metrics.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushReport {
    /// One per mutation answered, in the request's order.
    pub results: Vec<MutationResult>,
    pub applied: u64,
    pub rejected: u64,
    pub duplicates: u64,
    /// Where the push stopped at a gap in the device's sequence numbers.
    pub gap: Option<Gap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The sequence number the server expects next.
    pub expected: u64,
    /// The one the push carried instead.
    pub found: u64,
}

impl Gap {
    /// The `409 seq_gap` answer (or `409 seq_reused`, for a number already answered for another
    /// mutation), with the outcomes of the mutations answered before it.
    pub fn into_api_error(self, results: Vec<MutationResult>) -> ApiError {
        let mut error = if self.found < self.expected {
            ApiError::new(
                StatusCode::CONFLICT,
                "seq_reused",
                format!(
                    "This device's seq {} was answered already, for another mutation: the device's numbers went back \
                     (was it restored from an older backup?). The server has answered this device up to seq {}; \
                     the mutations before seq {} in this push were answered (see `gap.results`).",
                    self.found,
                    self.expected - 1,
                    self.found
                ),
            )
        } else {
            ApiError::new(
                StatusCode::CONFLICT,
                "seq_gap",
                format!(
                    "This device's mutations must come without gaps: the server has answered them up to seq {}, but the push went on with seq {}. \
                 The mutations before it were answered (see `gap.results`); push the outbox from seq {}.",
                    self.expected - 1,
                    self.found,
                    self.expected
                ),
            )
        };
        error.body.gap = Some(SeqGap { expected: self.expected, found: self.found, results });
        error
    }
}

/// Refuses a push that is too long, or that carries a mutation that is not the device's own.
pub fn check(device: &Device, mutations: &[Mutation]) -> Result<(), Error> {
    if mutations.len() > MAX_PUSH_MUTATIONS {
        return Err(Error::TooLarge(format!(
            "A push carries at most {MAX_PUSH_MUTATIONS} mutations, and this one has {}; push the rest in another call.",
            mutations.len()
        )));
    }
    for m in mutations {
        if m.device_id != device.device_id {
            return Err(Error::Forbidden(format!(
                "Mutation seq {} names device {}, but this token belongs to device {}; a device pushes only its own mutations.",
                m.seq, m.device_id, device.device_id
            )));
        }
        if m.author != device.person_id {
            return Err(Error::Forbidden(format!(
                "Mutation seq {} names author {}, but this device acts for {}; a device pushes only its person's mutations.",
                m.seq, m.author, device.person_id
            )));
        }
        if m.seq == 0 {
            return Err(Error::BadRequest(String::from(
                "A mutation's seq starts at 1 on each device; seq 0 is not a pushed mutation.",
            )));
        }
    }
    Ok(())
}

enum Step {
    Answered(Outcome, Kind),
    Gap(Gap),
}

enum Kind {
    Applied,
    Rejected,
    Duplicate,
}

/// The most mutations applied in one transaction. A device back from days offline pushes hundreds at
/// once: one transaction (and one sync of the database to storage) each made the push the slowest call
/// by far, so consecutive mutations of one neighbourhood share a transaction, up to this many. Runs stop
/// where the neighbourhood changes, so that a transaction locks one neighbourhood, as before (two pushes
/// locking two neighbourhoods in opposite orders could deadlock on PostgreSQL).
const RUN: usize = 100;

/// How long an answer the device says it has stored is kept all the same (Unix ms): a day.
pub const OUTCOMES_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// Applies a device's mutations (see the module documentation), the device having stored the answers
/// to its mutations up to `stored_up_to`, if it says so.
///
/// Each run is one [`Backend::write_owned`], awaited before the next: on SQLite it is committed with
/// the runs of other devices' pushes queued at the same time (group commit), and answered once that
/// commit is durable. The first run also forgets the answers the device has stored.
pub async fn push<B: Backend>(
    backend: &B,
    clock: &Arc<Clock>,
    device: Device,
    mutations: Vec<Mutation>,
    mut stored_up_to: Option<u64>,
) -> Result<PushReport, Error> {
    check(&device, &mutations)?;
    let device = Arc::new(device);
    let mut report = PushReport::default();
    let mut rest = mutations;
    while let Some(first) = rest.first() {
        let run = rest.iter().take(RUN).take_while(|m| m.neighbourhood_id == first.neighbourhood_id).count();
        let later = rest.split_off(run);
        let now = std::mem::replace(&mut rest, later);
        let (clock_in, device_in, forget) = (Arc::clone(clock), Arc::clone(&device), stored_up_to.take());
        // Every mutation of the run is answered in one transaction, up to a gap; each is still applied
        // against what the ones before it wrote.
        let (now, steps) = backend
            .write_owned(move |tx| {
                let steps = answer_run(tx, &clock_in, &device_in, &now, forget)?;
                Ok::<_, Error>((now, steps))
            })
            .await?;
        for (m, step) in now.iter().zip(steps) {
            match step {
                Step::Answered(outcome, kind) => {
                    match kind {
                        Kind::Applied => report.applied += 1,
                        Kind::Rejected => report.rejected += 1,
                        Kind::Duplicate => report.duplicates += 1,
                    }
                    report.results.push(MutationResult { seq: m.seq, outcome });
                }
                Step::Gap(gap) => {
                    report.gap = Some(gap);
                    return Ok(report);
                }
            }
        }
    }
    Ok(report)
}

/// Answers a run of the device's mutations in `tx`, up to a gap, having forgotten first the answers the
/// device has stored up to `forget` (those the server gave already, and a day old).
fn answer_run(
    tx: &dyn Tx,
    clock: &Clock,
    device: &Device,
    run: &[Mutation],
    forget: Option<u64>,
) -> Result<Vec<Step>, Error> {
    let answered = tx.lock_device(&device.device_id)?.ok_or_else(|| {
        Error::Unauthorized(String::from("This device is no longer registered; register it again."))
    })?;
    if let Some(stored) = forget {
        let before = clock.now_ms().saturating_sub(OUTCOMES_KEPT_MS);
        tx.forget_outcomes(&device.device_id, stored.min(answered), before)?;
    }
    let mut last = answered;
    let mut steps = Vec::with_capacity(run.len());
    for m in run {
        let step = step(tx, clock, device, m, last)?;
        let gap = matches!(step, Step::Gap(_));
        if let Step::Answered(_, Kind::Applied | Kind::Rejected) = step {
            last = m.seq;
        }
        steps.push(step);
        if gap {
            break;
        }
    }
    if last != answered {
        tx.set_last_seq(&device.device_id, last)?;
    }
    Ok(steps)
}

/// Answers one mutation in `tx`, the device having been answered up to `last`.
fn step(tx: &dyn Tx, clock: &Clock, device: &Device, m: &Mutation, last: u64) -> Result<Step, Error> {
    if m.seq <= last {
        let stamp = tx.outcome_stamp(&device.device_id, m.seq)?;
        if stamp.is_some_and(|stamp| stamp != m.hlc.to_string()) {
            return Ok(Step::Gap(Gap { expected: last + 1, found: m.seq }));
        }
        // An answer forgotten: the device had stored it, so this is not the mutation it answered.
        let Some(outcome) = tx.outcome(&device.device_id, m.seq)? else {
            return Ok(Step::Gap(Gap { expected: last + 1, found: m.seq }));
        };
        return Ok(Step::Answered(outcome, Kind::Duplicate));
    }
    if m.seq > last + 1 {
        return Ok(Step::Gap(Gap { expected: last + 1, found: m.seq }));
    }
    // A stamp too far ahead (the device's clock set wrong) gives way to one of the server's clock.
    let stamp = clock.admit(m.hlc);
    let restamped;
    let applied = if stamp == m.hlc {
        m
    } else {
        tracing::info!(
            device = %device.device_id,
            ahead_ms = m.hlc.wall_ms().saturating_sub(stamp.wall_ms()),
            "a device's clock is ahead: its mutation is stamped by the server's"
        );
        restamped = Mutation { hlc: stamp, ..m.clone() };
        &restamped
    };
    let (outcome, kind) = match apply_in(tx, applied, clock.now_ms())? {
        Ok(()) => (Outcome::Applied, Kind::Applied),
        Err(rejection) => {
            (Outcome::Rejected { code: rejection.code, message: rejection.message }, Kind::Rejected)
        }
    };
    tx.record_outcome(
        &device.device_id,
        m.seq,
        &m.neighbourhood_id,
        &outcome,
        &m.hlc.to_string(),
        clock.now_ms(),
    )?;
    Ok(Step::Answered(outcome, kind))
}
