//! The bodies of the mutation fuzz targets: plain functions over bytes, so that cargo-fuzz (with a
//! nightly toolchain, `fuzz/`) and the stable test suite (seeded, structure-aware inputs and the corpus
//! files in `fuzz/corpus/`, see `core/tests/fuzz_mutations.rs`) run the very same code.
//!
//! [`mutations`] reads its input as the server reads a pushed mutation (one wire mutation, or a JSON
//! list of them), and applies each one that decodes, in order, with the domain's rules, to a small
//! neighbourhood ([`seeded_state`]) whose ids the corpus uses, so that the fuzzer reaches deep rules and
//! not only the decoder. It panics, which is what a fuzzer reports, when anything breaks a promise:
//! a refusal without a sentence, or the market's stock invariants broken after an applied mutation.
//!
//! To extend: add an invariant to `check_invariants`, or a new id to the seeded neighbourhood (and a
//! corpus file that uses it).

use crate::domain::mutation::*;
use crate::domain::*;

/// The seeded neighbourhood's id, and the ids of what it holds.
pub const NID: &str = "aligre";
/// The clock of the seed's mutations and of the applier: Monday 2 March 2026, 09:00 UTC.
pub const NOW_MS: i64 = 1_772_442_000_000;

/// "aligre": Mona (moderator) with Léa and Tom (a trader) who joined on invitation `inv-1`; Mona's
/// item `item-1` that Léa asked to borrow (`loan-1`), Léa's favour `fav-1`, Tom's stall `stall-1` with
/// product `prod-1` (10 in stock), and Léa's placed pre-order `order-1` of 2 of them.
pub fn seeded_state() -> MemoryState {
    let mut state = MemoryState::new();
    let day = Day::of_instant(NOW_MS, 0);
    let code = "plum tree 42";
    let seed: Vec<(&str, Op)> = vec![
        (
            "mona",
            NeighbourhoodCreate {
                name: "Aligre".into(),
                description: String::new(),
                cell: None,
                display_name: "Mona".into(),
            }
            .into(),
        ),
        (
            "mona",
            InvitationCreate {
                id: "inv-1".into(),
                code_hash: hash_code(code),
                expires_at: NOW_MS + 30 * 86_400_000,
                max_uses: 10,
            }
            .into(),
        ),
        (
            "lea",
            MemberJoin { invitation_id: "inv-1".into(), code: code.into(), display_name: "Léa".into() }
                .into(),
        ),
        (
            "tom",
            MemberJoin { invitation_id: "inv-1".into(), code: code.into(), display_name: "Tom".into() }
                .into(),
        ),
        ("mona", MemberSetRole { member_id: "tom".into(), role: Role::Trader }.into()),
        (
            "mona",
            ItemAdd {
                id: "item-1".into(),
                title: "Drill".into(),
                description: String::new(),
                category: "tools".into(),
                condition: Condition::Good,
                deposit_note: String::new(),
                cell: None,
            }
            .into(),
        ),
        (
            "lea",
            LoanRequest {
                id: "loan-1".into(),
                item_id: "item-1".into(),
                first_day: day.plus_days(1),
                last_day: day.plus_days(2),
                note: String::new(),
            }
            .into(),
        ),
        (
            "lea",
            FavourPost {
                id: "fav-1".into(),
                kind: FavourKind::Ask,
                title: "Water my plants".into(),
                details: String::new(),
                category: "garden".into(),
                window: None,
                cell: None,
            }
            .into(),
        ),
        (
            "tom",
            StallOpen {
                id: "stall-1".into(),
                name: "Tom's greens".into(),
                market: "Aligre".into(),
                days: vec![6],
                opens_min: 480,
                closes_min: 780,
                place: "by the fountain".into(),
                cell: None,
            }
            .into(),
        ),
        (
            "tom",
            ProductAdd {
                id: "prod-1".into(),
                stall_id: "stall-1".into(),
                name: "Leeks".into(),
                unit: "bunch".into(),
                price_cents: 250,
                stock: 10,
                available_today: true,
            }
            .into(),
        ),
        (
            "lea",
            OrderPlace {
                id: "order-1".into(),
                stall_id: "stall-1".into(),
                lines: vec![OrderLine { product_id: "prod-1".into(), quantity: 2 }],
                pickup_day: Some(day.plus_days(5)),
                note: String::new(),
            }
            .into(),
        ),
    ];
    for (seq, (author, op)) in (1_u64..).zip(seed) {
        let m = Mutation {
            neighbourhood_id: NID.into(),
            author: author.into(),
            device_id: format!("{author}-phone"),
            seq,
            hlc: Hlc::new(u64::try_from(NOW_MS).unwrap_or(0) + seq, 0, Hlc::node_of(author)),
            op,
        };
        match state.apply(&m, NOW_MS) {
            Ok(effects) => state.write(&effects),
            Err(error) => panic!("the fuzz seed's mutation {} is refused: {error}", m.op.name()),
        }
    }
    state
}

/// What [`mutations`] did with its input, for the tests that count how deep their inputs reach.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// The input did not decode as a mutation or a list of them.
    pub undecodable: bool,
    pub applied: usize,
    pub refused: usize,
}

/// The fuzz target `mutation`: decode (as the server does), validate and apply on [`seeded_state`].
pub fn mutations(state: &MemoryState, data: &[u8]) -> Reached {
    let decoded: Vec<Mutation> = match serde_json::from_slice::<Mutation>(data) {
        Ok(one) => vec![one],
        Err(_) => match serde_json::from_slice::<Vec<Mutation>>(data) {
            Ok(many) => many,
            Err(_) => return Reached { undecodable: true, ..Reached::default() },
        },
    };
    let mut state = state.clone();
    let mut reached = Reached::default();
    for m in decoded {
        match state.apply(&m, NOW_MS) {
            Ok(effects) => {
                state.write(&effects);
                check_invariants(&state, &m);
                reached.applied += 1;
            }
            Err(ApplyError::Rejected(rejection)) => {
                assert!(
                    !rejection.message.trim().is_empty(),
                    "{} was refused ({:?}) without a sentence",
                    m.op.name(),
                    rejection.code
                );
                reached.refused += 1;
            }
            Err(ApplyError::View(error)) => panic!("the in-memory state failed to answer: {error}"),
        }
    }
    reached
}

/// The promises of the rules that any applied mutation must keep.
fn check_invariants(state: &MemoryState, m: &Mutation) {
    for entity in state.entities() {
        if let Entity::Product(p) = entity {
            assert!(
                p.stock >= 0 && p.reserved >= 0 && p.reserved <= p.stock,
                "after {}, product {} has stock {} and reserved {}",
                m.op.name(),
                p.id,
                p.stock,
                p.reserved
            );
        }
    }
}

/// Values that have broken parsers and rules before: limits of every integer type, empty, huge and
/// odd text, dates out of range, wrong types, long lists and deep nesting. Picked by [`mutate`].
pub fn nasty_value(pick: u8, size: u8) -> serde_json::Value {
    use serde_json::{Value, json};
    let long = 1 + usize::from(size) * 400;
    match pick % 34 {
        0 => json!(i64::MAX),
        1 => json!(i64::MIN),
        2 => json!(u64::MAX),
        3 => json!(u32::MAX),
        4 => json!(u64::from(u32::MAX) + 1),
        5 => json!(-1),
        6 => json!(0),
        7 => json!(1.5e308),
        8 => json!(-0.5),
        9 => Value::Null,
        10 => json!(true),
        11 => json!(""),
        12 => json!(" \t\n"),
        13 => json!("x".repeat(long)),
        14 => json!("é\u{202e}😀".repeat(long / 4 + 1)),
        15 => json!("a\u{0}b"),
        16 => json!("0000-01-01"),
        17 => json!("9999-12-31"),
        18 => json!("2026-02-30"),
        19 => json!("+275760-09-13"),
        20 => json!("-2026-03-02"),
        21 => json!("2026-03-02T10:00:00Z"),
        22 => json!(vec![json!({"product_id": "prod-1", "quantity": 1}); long]),
        23 => json!(vec![json!(6); long]),
        24 => {
            let mut v = json!([]);
            for _ in 0..(usize::from(size) % 150 + 1) {
                v = json!([v]);
            }
            v
        }
        25 => json!({"owner": "mona", "server_version": 1}),
        26 => json!({"row": u32::MAX, "col": u32::MAX}),
        27 => json!({"row": 0, "col": 0, "lat": 48.8493, "lon": 2.3780}),
        28 => json!({"start_ms": i64::MAX, "end_ms": i64::MIN}),
        29 => json!({"kind": "favour", "id": "fav-1"}),
        30 => json!(
            ["item-1", "loan-1", "prod-1", "stall-1", "order-1", "fav-1", "inv-1"][usize::from(size) % 7]
        ),
        31 => json!(["mona", "lea", "tom", "zed", "aligre", "belleville", "fuzz"][usize::from(size) % 7]),
        32 => json!(Op::NAMES[usize::from(size) % Op::NAMES.len()]),
        _ => json!({"ω": [1, {"": null}]}),
    }
}

/// A structure-aware mutant of a valid input: `choices` (fuzzer bytes, or a seeded generator's) pick
/// edits — replace any field of any depth with a [`nasty_value`], add an unknown field, swap the
/// operation's name, drop a field — then, last, maybe damage the JSON text itself (cut it, flip a byte,
/// put invalid UTF-8 in it). The same bytes always give the same mutant.
pub fn mutate(value: &serde_json::Value, choices: &[u8]) -> Vec<u8> {
    let mut value = value.clone();
    let mut picks = choices.chunks_exact(3);
    let edits = choices.first().map_or(0, |b| b % 4);
    for _ in 0..edits {
        let Some(&[what, at, size]) = picks.next() else { break };
        let mut slots = Vec::new();
        paths(&value, &mut Vec::new(), &mut slots);
        let Some(path) = slots.get(usize::from(at) % slots.len().max(1)).cloned() else { break };
        match what % 8 {
            0..=4 => set(&mut value, &path, nasty_value(size, what)),
            5 => {
                if let Some(serde_json::Value::Object(object)) =
                    get_mut(&mut value, &path[..path.len().saturating_sub(1)])
                {
                    object.insert(format!("extra_{size}"), nasty_value(what, size));
                }
            }
            6 => {
                if let Some(serde_json::Value::Object(object)) =
                    get_mut(&mut value, &path[..path.len().saturating_sub(1)])
                {
                    if let Some(Step::Key(key)) = path.last() {
                        object.remove(key);
                    }
                }
            }
            _ => set(&mut value, &path, serde_json::json!(Op::NAMES[usize::from(size) % Op::NAMES.len()])),
        }
    }
    let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
    if let Some(&[what, at, byte]) = picks.next() {
        let at = usize::from(at) * bytes.len() / 256;
        match what % 16 {
            0 => bytes.truncate(at),
            1 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = byte;
                }
            }
            2 => bytes.splice(at..at, [0xff, 0xfe, byte]).for_each(drop),
            _ => {}
        }
    }
    bytes
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every place in `value` (objects' fields and lists' elements, at every depth).
fn paths(value: &serde_json::Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        serde_json::Value::Object(object) => {
            for (key, inner) in object {
                here.push(Step::Key(key.clone()));
                out.push(here.clone());
                paths(inner, here, out);
                here.pop();
            }
        }
        serde_json::Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                here.push(Step::Index(i));
                out.push(here.clone());
                paths(inner, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(value: &'a mut serde_json::Value, path: &[Step]) -> Option<&'a mut serde_json::Value> {
    path.iter().try_fold(value, |value, step| match step {
        Step::Key(key) => value.get_mut(key.as_str()),
        Step::Index(i) => value.get_mut(*i),
    })
}

fn set(value: &mut serde_json::Value, path: &[Step], new: serde_json::Value) {
    if let Some(slot) = get_mut(value, path) {
        *slot = new;
    }
}
