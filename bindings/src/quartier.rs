//! The [`Quartier`] object: the device's store, as the apps use it.

use crate::error::{QuartierError, guard, shielded};
use crate::observe::{InboxRelays, Subscription};
use crate::records::*;
use quartier_core::domain::mutation::{FavourPost, ItemAdd, LoanRequest, NeighbourhoodCreate};
use quartier_core::domain::{self as core, Day, EntityKind};
use quartier_core::store::{
    self as store, FavourFilter, ItemFilter, LoanFilter, Page, SearchFilter, SearchOrder, Store,
    StoreOptions, new_id,
};
use std::sync::{Arc, Mutex};

const DAY_MS: i64 = 86_400_000;

/// The device's Quartier: its database, with the neighbourhoods it holds and its outbox. Open one per
/// database file and share it; every method may be called from any thread, and saves at once, even
/// offline (the sync engine sends the outbox later).
#[derive(Debug, uniffi::Object)]
pub struct Quartier {
    pub(crate) store: Arc<Store>,
    /// The inbox observers, told when a refused change is dismissed (no entity changes then).
    pub(crate) inbox_relays: InboxRelays,
}

/// Told the favours of a neighbourhood: at once, then after every change that alters the list.
/// Called on the thread that made the change: hand the list over to your own thread or queue. What it
/// throws is logged, and undoes nothing: the change is saved.
#[uniffi::export(foreign)]
pub trait FavoursObserver: Send + Sync {
    fn on_favours(&self, favours: Vec<Favour>) -> Result<(), QuartierError>;
    /// A later run of the query failed; the observation goes on and runs again at the next change.
    fn on_error(&self, error: QuartierError) -> Result<(), QuartierError>;
}

pub(crate) fn day(text: &str) -> Result<Day, QuartierError> {
    text.parse().map_err(|e: core::day::BadDay| QuartierError::invalid(e.to_string()))
}

#[uniffi::export]
impl Quartier {
    /// Opens (or creates) the database at `path`, upgrading it if it is older. Its folder must exist.
    #[uniffi::constructor]
    pub fn open(path: String) -> Result<Arc<Quartier>, QuartierError> {
        guard(|| {
            let store = Store::open(&path, StoreOptions::default())?;
            tracing::debug!("opened the local database");
            Ok(Arc::new(Quartier { store: Arc::new(store), inbox_relays: Mutex::default() }))
        })
    }

    pub fn identity(&self) -> Identity {
        let identity = self.store.identity();
        Identity { person_id: identity.person_id.clone(), device_id: identity.device_id.clone() }
    }

    /// The neighbourhoods this device holds, by name.
    pub fn neighbourhoods(&self) -> Result<Vec<Neighbourhood>, QuartierError> {
        guard(|| Ok(self.store.neighbourhoods()?.into_iter().map(Neighbourhood::from).collect()))
    }

    /// Starts a neighbourhood, with this person as its first member and moderator. Returns its id.
    pub fn create_neighbourhood(
        &self,
        name: String,
        description: String,
        display_name: String,
    ) -> Result<String, QuartierError> {
        guard(|| {
            let id = new_id();
            self.store.mutate(&id, NeighbourhoodCreate { name, description, cell: None, display_name })?;
            Ok(id)
        })
    }

    /// Asks neighbours for a favour. Returns its id.
    pub fn ask_favour(&self, neighbourhood_id: String, draft: FavourDraft) -> Result<String, QuartierError> {
        guard(|| self.post_favour(&neighbourhood_id, core::FavourKind::Ask, draft))
    }

    /// Offers neighbours a favour. Returns its id.
    pub fn offer_favour(
        &self,
        neighbourhood_id: String,
        draft: FavourDraft,
    ) -> Result<String, QuartierError> {
        guard(|| self.post_favour(&neighbourhood_id, core::FavourKind::Offer, draft))
    }

    /// Favours, newest first, optionally only those with one status.
    #[uniffi::method(default(status = None, limit = 50, offset = 0))]
    pub fn favours(
        &self,
        neighbourhood_id: String,
        status: Option<FavourStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Favour>, QuartierError> {
        guard(|| {
            let filter = FavourFilter { status: status.map(Into::into), ..FavourFilter::default() };
            let views = self.store.favours(&neighbourhood_id, &filter, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Favour::from).collect())
        })
    }

    /// Observes the newest favours of a neighbourhood (up to 200): the observer gets the list now, then
    /// again after every change to it, until the subscription is cancelled or released.
    pub fn observe_favours(
        &self,
        neighbourhood_id: String,
        observer: Arc<dyn FavoursObserver>,
    ) -> Result<Arc<Subscription>, QuartierError> {
        guard(|| {
            let on_change = observer.clone();
            let watch = self.store.watch_with_errors(
                // Members too: a favour shows its author's name.
                &[EntityKind::Favour, EntityKind::Member],
                move |store: &Store| {
                    let page = Page::new(store::queries::MAX_PAGE_LIMIT, 0);
                    store.favours(&neighbourhood_id, &FavourFilter::default(), page)
                },
                move |views| {
                    let favours = views.into_iter().map(Favour::from).collect();
                    shielded("favours observer", || on_change.on_favours(favours));
                },
                move |error| shielded("favours observer", || observer.on_error(error.into())),
            )?;
            Ok(Subscription::new(Box::new(watch)))
        })
    }

    /// Puts an item up for lending. Returns its id.
    pub fn add_item(&self, neighbourhood_id: String, draft: ItemDraft) -> Result<String, QuartierError> {
        guard(|| {
            let id = new_id();
            let op = ItemAdd {
                id: id.clone(),
                title: draft.title,
                description: draft.description,
                category: draft.category,
                condition: draft.condition.into(),
                deposit_note: draft.deposit_note,
                cell: None,
            };
            self.store.mutate(&neighbourhood_id, op)?;
            Ok(id)
        })
    }

    /// The items lent in a neighbourhood, newest first.
    #[uniffi::method(default(limit = 50, offset = 0))]
    pub fn items(
        &self,
        neighbourhood_id: String,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Item>, QuartierError> {
        guard(|| {
            let views =
                self.store.items(&neighbourhood_id, &ItemFilter::default(), Page::new(limit, offset))?;
            Ok(views.into_iter().map(Item::from).collect())
        })
    }

    /// Asks to borrow an item from `first_day` to `last_day` (`YYYY-MM-DD`, both included). Returns the
    /// loan's id.
    #[uniffi::method(default(note = ""))]
    pub fn request_loan(
        &self,
        neighbourhood_id: String,
        item_id: String,
        first_day: String,
        last_day: String,
        note: String,
    ) -> Result<String, QuartierError> {
        guard(|| {
            let id = new_id();
            let op = LoanRequest {
                id: id.clone(),
                item_id,
                first_day: day(&first_day)?,
                last_day: day(&last_day)?,
                note,
            };
            self.store.mutate(&neighbourhood_id, op)?;
            Ok(id)
        })
    }

    /// Loans, the latest first day first, optionally of one item or with one status.
    #[uniffi::method(default(item_id = None, status = None, limit = 50, offset = 0))]
    pub fn loans(
        &self,
        neighbourhood_id: String,
        item_id: Option<String>,
        status: Option<LoanStatus>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Loan>, QuartierError> {
        guard(|| {
            let filter = LoanFilter { item_id, status: status.map(Into::into), ..LoanFilter::default() };
            let views = self.store.loans(&neighbourhood_id, &filter, Page::new(limit, offset))?;
            Ok(views.into_iter().map(Loan::from).collect())
        })
    }

    /// Invites newcomers: up to `max_uses` people may join with the code for `valid_for_days` days.
    #[uniffi::method(default(max_uses = 1, valid_for_days = 7))]
    pub fn invite(
        &self,
        neighbourhood_id: String,
        max_uses: u32,
        valid_for_days: u32,
    ) -> Result<Invitation, QuartierError> {
        guard(|| {
            let valid_for_ms = i64::from(valid_for_days).saturating_mul(DAY_MS);
            let new = self.store.invite(&neighbourhood_id, max_uses, valid_for_ms)?;
            let expires_at_ms = match &new.applied.mutation.op {
                core::Op::InvitationCreate(args) => args.expires_at,
                _ => self.store.now_ms().saturating_add(valid_for_ms),
            };
            Ok(Invitation { id: new.invitation_id, code: new.code, expires_at_ms, max_uses })
        })
    }

    /// Searches the open favours, the items lent and the products on sale, best match first, or the
    /// latest to reach this device first with `newest_first` (which stays fast however many things
    /// match).
    #[uniffi::method(default(limit = 20, newest_first = false))]
    pub fn search(
        &self,
        neighbourhood_id: String,
        text: String,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<SearchHit>, QuartierError> {
        guard(|| {
            let order = if newest_first { SearchOrder::Newest } else { SearchOrder::BestMatch };
            let filter = SearchFilter { order, ..SearchFilter::default() };
            let hits = self.store.search(&neighbourhood_id, &text, &filter, Page::new(limit, 0))?;
            Ok(hits.into_iter().filter_map(SearchHit::from_core).collect())
        })
    }

    /// What concerns this person in a neighbourhood now, newest first. The offset from UTC (in minutes)
    /// decides what is due today.
    #[uniffi::method(default(utc_offset_minutes = 0))]
    pub fn inbox(
        &self,
        neighbourhood_id: String,
        utc_offset_minutes: i32,
    ) -> Result<Vec<InboxEntry>, QuartierError> {
        guard(|| {
            let entries = self.store.inbox(&neighbourhood_id, self.store.now_ms(), utc_offset_minutes)?;
            Ok(entries.into_iter().map(InboxEntry::from).collect())
        })
    }

    /// How many changes wait in the outbox to be sent.
    pub fn outbox_count(&self) -> Result<u64, QuartierError> {
        guard(|| Ok(self.store.pending_count()?))
    }

    /// Everything this person wrote in the neighbourhood (profile, favours, items, loans they asked
    /// for, stalls and products, pre-orders, messages, invitations), as JSON (format
    /// `quartier.export.v1`), for them to keep or take elsewhere.
    pub fn export_json(&self, neighbourhood_id: String) -> Result<String, QuartierError> {
        guard(|| Ok(self.store.export_json(&neighbourhood_id)?))
    }
}

impl Quartier {
    fn post_favour(
        &self,
        nid: &str,
        kind: core::FavourKind,
        draft: FavourDraft,
    ) -> Result<String, QuartierError> {
        let id = new_id();
        let op = FavourPost {
            id: id.clone(),
            kind,
            title: draft.title,
            details: draft.details,
            category: draft.category,
            window: draft.window.map(|w| core::TimeWindow { start_ms: w.start_ms, end_ms: w.end_ms }),
            cell: None,
        };
        self.store.mutate(nid, op)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Mutex<Vec<Vec<Favour>>>);

    impl FavoursObserver for Collect {
        fn on_favours(&self, favours: Vec<Favour>) -> Result<(), QuartierError> {
            self.0.lock().unwrap().push(favours);
            Ok(())
        }
        fn on_error(&self, error: QuartierError) -> Result<(), QuartierError> {
            panic!("unexpected error {error}");
        }
    }

    #[test]
    fn a_favour_is_saved_listed_and_observed_until_cancelled() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Alice".into()).unwrap();
        let seen = Arc::new(Collect(Mutex::new(Vec::new())));
        let sub = q.observe_favours(nid.clone(), seen.clone()).unwrap();
        let draft = FavourDraft {
            title: "Water my plants".into(),
            category: "garden".into(),
            details: String::new(),
            window: None,
        };
        let id = q.ask_favour(nid.clone(), draft.clone()).unwrap();
        let listed = q.favours(nid.clone(), None, 50, 0).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id.as_str(), listed[0].author_name.as_str()), (id.as_str(), "Alice"));
        assert_eq!(listed[0].kind, FavourKind::Ask);
        assert_eq!(*seen.0.lock().unwrap(), vec![vec![], listed.clone()]);
        assert_eq!(q.outbox_count().unwrap(), 2);

        sub.cancel();
        assert!(!sub.is_active());
        q.offer_favour(nid, FavourDraft { title: "Bike repairs".into(), ..draft }).unwrap();
        assert_eq!(seen.0.lock().unwrap().len(), 2, "no call after cancel");
    }

    #[test]
    fn refusals_and_bad_days_are_typed() {
        let dir = tempfile::TempDir::new().unwrap();
        let q = Quartier::open(dir.path().join("q.db").display().to_string()).unwrap();
        let nid = q.create_neighbourhood("Aligre".into(), String::new(), "Alice".into()).unwrap();
        let empty = FavourDraft {
            title: "  ".into(),
            category: "garden".into(),
            details: String::new(),
            window: None,
        };
        match q.ask_favour(nid.clone(), empty) {
            Err(QuartierError::Refused { code, reason }) => {
                assert_eq!(code, "invalid");
                assert!(reason.contains("title"), "{reason}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        let item = q
            .add_item(
                nid.clone(),
                ItemDraft {
                    title: "Drill".into(),
                    category: "tools".into(),
                    condition: Condition::Good,
                    description: String::new(),
                    deposit_note: String::new(),
                },
            )
            .unwrap();
        let bad = q.request_loan(nid, item, "tomorrow".into(), "2030-01-02".into(), String::new());
        assert!(matches!(bad, Err(QuartierError::Invalid { .. })), "{bad:?}");
    }

    #[test]
    fn a_missing_folder_is_a_storage_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = dir.path().join("nope").join("q.db").display().to_string();
        assert!(matches!(Quartier::open(missing), Err(QuartierError::Storage { .. })));
    }
}
