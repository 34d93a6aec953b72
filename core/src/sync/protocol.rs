//! The sync protocol: what a device and the server say to each other, over HTTPS, as JSON.
//!
//! Both sides use these types, so they cannot drift apart. Every path starts with `/v1`; a breaking
//! change gets `/v2` and the server keeps answering `/v1` while devices in the field still use it.
//! Mutation names are versioned on their own (see `domain::mutation`).
//!
//! | call | body | answer |
//! |---|---|---|
//! | `POST /v1/register` | [`RegisterRequest`] | [`RegisterResponse`]: a token for the device |
//! | `POST /v1/devices` (token) | [`AddDeviceRequest`] | [`RegisterResponse`]: a token for another device of the same person |
//! | `GET /v1/devices` (token) | | [`DevicesResponse`]: the person's devices |
//! | `DELETE /v1/devices/{id}` (token) | | 204: that device of the same person is taken off the account |
//! | `POST /v1/join` (token) | [`JoinRequest`] | [`JoinResponse`]: the neighbourhood joined |
//! | `POST /v1/push?stored_up_to=N` (token) | [`PushRequest`] | [`PushResponse`]: one outcome per mutation |
//! | `GET /v1/neighbourhoods/{id}/pull?after=V&limit=N` (token) | | [`PullResponse`] |
//! | `GET /health`, `GET /metrics` | | 200, Prometheus text |
//!
//! The token goes in `Authorization: Bearer <token>`. Errors answer with a 4xx or 5xx status and an
//! [`ErrorBody`]. Request and response bodies may be gzip-compressed (`Content-Encoding`).

use crate::domain::{Code, Effect, Entity, EntityKey, Mutation};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The most mutations one push may carry.
pub const MAX_PUSH_MUTATIONS: usize = 500;
/// The most changes one pull page may carry, and the default page size.
pub const MAX_PULL_LIMIT: u32 = 5_000;
pub const DEFAULT_PULL_LIMIT: u32 = 1_000;

/// The length of a device token: 32 random bytes, in lower-case hex.
pub const TOKEN_LEN: usize = 64;

/// A fresh device token: 32 bytes from the operating system's random source, in lower-case hex.
pub fn new_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0_u8; TOKEN_LEN / 2];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `token` looks like one made by [`new_token`] (the server refuses any other).
pub fn is_well_formed_token(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A device makes itself known: the first device of a person names a new person id. Further devices of
/// the same person are added by a registered one ([`AddDeviceRequest`]).
///
/// The device draws its own token ([`new_token`]) and keeps it before it sends this, so that the call
/// can be retried when its answer is lost: the same device id with the same token registers once and
/// is answered again; with another token it is refused (`409 conflict`). The server keeps only the
/// token's hash. Without a token (devices of the first version), the server draws one and answers it
/// once: such a registration cannot be retried.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub device_id: String,
    pub person_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for RegisterRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterRequest")
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// The device's bearer token (the one it sent, or one the server drew), stored by the server only as
/// a hash.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterResponse {
    pub device_id: String,
    pub person_id: String,
    pub token: String,
}

impl std::fmt::Debug for RegisterResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterResponse")
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .field("token", &"<secret>")
            .finish()
    }
}

/// A registered device adds another device of its person (a trader's tablet beside the phone). The
/// answer's token is for the new device: the registered one hands it over (a link code, a QR code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddDeviceRequest {
    pub device_id: String,
}

/// The devices of the caller's person (`GET /v1/devices`), oldest first: those a lost one can be
/// told apart from and taken off the account (`DELETE /v1/devices/{id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesResponse {
    pub devices: Vec<AccountDevice>,
}

/// One device of a person's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountDevice {
    pub device_id: String,
    /// When it was registered or added (Unix ms, the server's clock).
    pub added_at: i64,
    /// Added with a link code that has not been used yet.
    pub waiting_for_first_call: bool,
    /// The device that asked.
    pub this_device: bool,
}

/// A newcomer redeems an invitation code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    pub code: String,
    pub display_name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinResponse {
    pub neighbourhood_id: String,
    pub neighbourhood_name: String,
}

/// A device's mutations, in its sequence order (they may belong to several neighbourhoods).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    pub mutations: Vec<Mutation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Applied by the server (now, or on an earlier push of the same mutation).
    Applied,
    /// Refused by the rules: the device rolls it back and tells its person why.
    Rejected { code: Code, message: String },
}

// No `deny_unknown_fields` here: serde cannot combine it with `flatten` (it refuses the flattened
// `status`, so no answer could be read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationResult {
    pub seq: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// One outcome per mutation of the request, in order. A mutation pushed again gets its first outcome
/// again and is not applied twice — as long as the server keeps it: a push may say (`stored_up_to=N`)
/// that the device has stored its answers up to number `N`, and the server forgets those a day later
/// (a mutation pushed again under such a number is then answered `seq_reused`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushResponse {
    pub results: Vec<MutationResult>,
}

/// One change of the neighbourhood's confirmed state. All effects of one mutation share a version, and
/// a page never splits a version.
///
/// On the wire it is one flat object, `{"version": V, "op": "put", "entity": {…}}` or
/// `{"version": V, "op": "delete", "key": {…}}` (unknown fields are ignored). It is written and read by
/// hand rather than with `#[serde(flatten)]` over the internally tagged [`Effect`]: serde reads a
/// flattened or internally tagged value by buffering it whole first, which made reading a pull page
/// several times slower than reading the entities themselves.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "WireChange")]
pub struct Change {
    pub version: u64,
    pub effect: Effect,
}

impl Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.effect {
            Effect::Put { entity } => wire_change(serializer, self.version, Ok(entity)),
            Effect::Delete { key } => wire_change::<S, Entity>(serializer, self.version, Err(key)),
        }
    }
}

/// A change as a server keeps it: a put's entity is the JSON the server stored (written from an
/// [`Entity`]), sent on as it is instead of read and written again for every page. The same wire form
/// as [`Change`], which is how a device reads it.
#[derive(Clone, Debug)]
pub enum StoredChange {
    Put { version: u64, entity: Box<RawValue> },
    Delete { version: u64, key: EntityKey },
}

impl StoredChange {
    pub fn version(&self) -> u64 {
        match self {
            StoredChange::Put { version, .. } | StoredChange::Delete { version, .. } => *version,
        }
    }
}

impl Serialize for StoredChange {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StoredChange::Put { version, entity } => wire_change(serializer, *version, Ok(&**entity)),
            StoredChange::Delete { version, key } => {
                wire_change::<S, RawValue>(serializer, *version, Err(key))
            }
        }
    }
}

/// Writes a change's wire form: `{"version", "op": "put", "entity"}` or `{"version", "op": "delete", "key"}`.
fn wire_change<S: serde::Serializer, E: Serialize + ?Sized>(
    serializer: S,
    version: u64,
    effect: Result<&E, &EntityKey>,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(Some(3))?;
    map.serialize_entry("version", &version)?;
    match effect {
        Ok(entity) => {
            map.serialize_entry("op", "put")?;
            map.serialize_entry("entity", entity)?;
        }
        Err(key) => {
            map.serialize_entry("op", "delete")?;
            map.serialize_entry("key", key)?;
        }
    }
    map.end()
}

/// A [`Change`] as it is read: every field of either kind of effect, checked after.
#[derive(Deserialize)]
struct WireChange {
    version: u64,
    op: WireOp,
    #[serde(default)]
    entity: Option<Entity>,
    #[serde(default)]
    key: Option<EntityKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireOp {
    Put,
    Delete,
}

impl TryFrom<WireChange> for Change {
    type Error = String;

    fn try_from(wire: WireChange) -> Result<Change, String> {
        let effect = match (wire.op, wire.entity, wire.key) {
            (WireOp::Put, Some(entity), _) => Effect::Put { entity },
            (WireOp::Delete, _, Some(key)) => Effect::Delete { key },
            (WireOp::Put, None, _) => return Err(String::from("missing field `entity`")),
            (WireOp::Delete, _, None) => return Err(String::from("missing field `key`")),
        };
        Ok(Change { version: wire.version, effect })
    }
}

/// A page of changes after the device's cursor. The device stores the changes and `cursor` together,
/// then asks again from `cursor` while `more` is true; when `more` is false it has caught up with
/// `checkpoint`, the version the server had when this page was read.
///
/// `answered_seq` is the highest of the calling device's sequence numbers that the server had answered
/// when this page was read (0 if none), read in the same snapshot as the page: on the last page, the
/// confirmed state holds the effects of every mutation of this device numbered up to it (or the server
/// refused it). A mutation whose answer was lost on the way is still pending on the device, and must
/// not be replayed on top of a state that holds it already. Absent from servers that predate it.
///
/// A device reads [`Change`]s; a server writes the [`StoredChange`]s it keeps (`PullResponse<StoredChange>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullResponse<C = Change> {
    pub changes: Vec<C>,
    pub cursor: u64,
    pub checkpoint: u64,
    pub more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_seq: Option<u64>,
}

/// What a failed call answers, with a 4xx or 5xx status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// Only with `409 seq_gap`, the answer to a push that stopped at a gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<SeqGap>,
}

/// A push stopped at a gap in the device's sequence numbers (`409`, code `seq_gap`): the server has
/// answered this device up to `expected - 1`, and the push went on with `found`. With code
/// `seq_reused`, `found < expected`: that number was answered already for another mutation (the
/// device's numbers went back, as after restoring an older backup). The mutations of
/// the push before the gap were answered (`results`, to be acknowledged like a [`PushResponse`]);
/// nothing from `found` on was looked at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeqGap {
    pub expected: u64,
    pub found: u64,
    pub results: Vec<MutationResult>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `too_large`, `rate_limited`,
    /// `invitation_unusable`, `conflict`, `seq_gap`, `seq_reused`, `internal`.
    pub code: String,
    /// A sentence for the person or the developer.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: code.to_owned(), message: message.into() }, gap: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_one_flat_object_and_reads_in_any_field_order() {
        use crate::domain::{EntityKind, Hlc, Neighbourhood};
        let entity = Entity::Neighbourhood(Neighbourhood {
            id: "n1".into(),
            name: "Rue Haute".into(),
            description: String::new(),
            cell: None,
            created_by: "p1".into(),
            created_at: 7,
            updated: Hlc::ZERO,
        });
        let put = Change { version: 3, effect: Effect::Put { entity: entity.clone() } };
        let key = EntityKey::new("n1", EntityKind::Favour, "f1");
        let delete = Change { version: 4, effect: Effect::Delete { key: key.clone() } };
        // The same text as the effect's own, with the version first.
        let mut expected = serde_json::to_value(Effect::Put { entity: entity.clone() }).unwrap();
        expected.as_object_mut().unwrap().insert("version".into(), 3.into());
        assert_eq!(serde_json::to_value(&put).unwrap(), expected);
        let text = serde_json::to_string(&put).unwrap();
        assert!(text.starts_with(r#"{"version":3,"op":"put","entity":{"kind":"neighbourhood""#), "{text}");
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), put);
        let text = serde_json::to_string(&delete).unwrap();
        assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), delete);
        // Fields in another order, and unknown ones, as a newer server may send.
        let shuffled = format!(
            r#"{{"key":{},"later":1,"op":"delete","version":4}}"#,
            serde_json::to_string(&key).unwrap()
        );
        assert_eq!(serde_json::from_str::<Change>(&shuffled).unwrap(), delete);
        let shuffled =
            format!(r#"{{"entity":{},"op":"put","version":3}}"#, serde_json::to_string(&entity).unwrap());
        assert_eq!(serde_json::from_str::<Change>(&shuffled).unwrap(), put);
        for bad in
            [r#"{"version":1,"op":"put"}"#, r#"{"version":1,"op":"delete"}"#, r#"{"version":1,"op":"x"}"#]
        {
            assert!(serde_json::from_str::<Change>(bad).is_err(), "{bad}");
        }

        // A server sends the entity's stored JSON as it is: the same text, read as the same change.
        let stored = StoredChange::Put {
            version: 3,
            entity: RawValue::from_string(serde_json::to_string(&entity).unwrap()).unwrap(),
        };
        assert_eq!(stored.version(), 3);
        assert_eq!(serde_json::to_string(&stored).unwrap(), serde_json::to_string(&put).unwrap());
        let stored = StoredChange::Delete { version: 4, key: key.clone() };
        assert_eq!(serde_json::to_string(&stored).unwrap(), serde_json::to_string(&delete).unwrap());
        let page = PullResponse {
            changes: vec![stored],
            cursor: 4,
            checkpoint: 4,
            more: false,
            answered_seq: Some(2),
        };
        let read: PullResponse = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
        assert_eq!(read.changes, vec![delete]);
    }

    #[test]
    fn tokens_are_256_random_bits_in_hex_and_stay_out_of_debug_output() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_ne!(a, b);
        assert!(is_well_formed_token(&a) && is_well_formed_token(&b));
        for bad in ["", "abc", &a[1..], &a.to_uppercase(), &format!("{}g", &a[1..]), &format!("{a} ")] {
            assert!(!is_well_formed_token(bad), "{bad:?}");
        }
        let request =
            RegisterRequest { device_id: "d".into(), person_id: "p".into(), token: Some(a.clone()) };
        assert!(!format!("{request:?}").contains(&a));
        let response = RegisterResponse { device_id: "d".into(), person_id: "p".into(), token: a.clone() };
        assert!(!format!("{response:?}").contains(&a));
        // A device of the first version sends no token, and the request still reads.
        let legacy: RegisterRequest = serde_json::from_str(r#"{"device_id":"d","person_id":"p"}"#).unwrap();
        assert_eq!(legacy.token, None);
    }

    #[test]
    fn a_pull_page_reads_with_or_without_the_answered_seq() {
        // From a server that predates `answered_seq`.
        let old: PullResponse =
            serde_json::from_str(r#"{"changes":[],"cursor":7,"checkpoint":7,"more":false}"#).unwrap();
        assert_eq!(old.answered_seq, None);
        assert!(!serde_json::to_string(&old).unwrap().contains("answered_seq"), "left out when unknown");
        let new = PullResponse { answered_seq: Some(3), ..old };
        let json = serde_json::to_string(&new).unwrap();
        assert!(json.contains(r#""answered_seq":3"#), "{json}");
        assert_eq!(serde_json::from_str::<PullResponse>(&json).unwrap(), new);
        // And a device of the previous version reads it, ignoring the field: `PullResponse` takes
        // unknown fields, so it must never get `deny_unknown_fields`.
        #[derive(Deserialize)]
        struct PreviousPullResponse {
            changes: Vec<Change>,
            cursor: u64,
            checkpoint: u64,
            more: bool,
        }
        let previous: PreviousPullResponse = serde_json::from_str(&json).unwrap();
        assert!(previous.changes.is_empty());
        assert_eq!((previous.cursor, previous.checkpoint, previous.more), (7, 7, false));
    }
}
