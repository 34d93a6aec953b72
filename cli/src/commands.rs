//! Carrying out the commands: parse what was typed, act through the store, render the result.

use crate::error::{CliError, Result};
use crate::parse;
use crate::profile::Profile;
use crate::render::Out;
use crate::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::store::queries::*;
use quartier_core::store::search::{SearchFilter, SearchOrder};
use quartier_core::store::{Store, new_id};
use quartier_core::sync::SyncClient;
use std::sync::Arc;
use std::time::Duration;

/// What every command needs: who acts, where, in which neighbourhood, and how to print.
struct Ctx {
    profile: Profile,
    store: Arc<Store>,
    given_neighbourhood: Option<String>,
    out: Out,
}

impl Ctx {
    /// The sync client of this profile's server.
    fn client(&self) -> Result<Arc<SyncClient>> {
        let server = self.profile.settings.server.clone().ok_or_else(|| {
            CliError::NotSetUp(format!(
                "profile {} is not registered with a server: run `quartier register --server URL` first",
                self.profile.name
            ))
        })?;
        Ok(SyncClient::new(self.store.clone(), &server, Arc::new(self.profile.secrets()))?)
    }

    fn nid(&self) -> Result<String> {
        self.profile.neighbourhood(self.given_neighbourhood.as_deref())
    }

    fn me(&self) -> String {
        self.store.identity().person_id.clone()
    }

    fn today(&self) -> Day {
        Day::of_instant(self.store.now_ms(), self.profile.settings.utc_offset_minutes)
    }

    /// Acts in the current neighbourhood and says what was saved.
    fn act(&self, op: impl Into<Op>, done: &str) -> Result<String> {
        let nid = self.nid()?;
        let applied = self.store.mutate(&nid, op)?;
        Ok(self.out.saved(done, &applied))
    }

    /// The full id of a thing from its id or the end of it (as shown, 8 characters or more than 4).
    fn resolve(&self, kind: EntityKind, given: &str) -> Result<String> {
        let nid = self.nid()?;
        let given = given.trim();
        if given.len() < 4 {
            return Err(CliError::Usage(format!(
                "{given:?} is too short to name a {}: give at least 4 characters of its id",
                kind.as_str()
            )));
        }
        let ids = self.store.ids_ending_with(&nid, kind, given, 2)?;
        match ids.as_slice() {
            [] => {
                Err(CliError::NotFound(format!("no {} with id {given} in this neighbourhood", kind.as_str())))
            }
            [one] => Ok(one.clone()),
            [first, _] if first == given => Ok(first.clone()),
            _ => Err(CliError::NotFound(format!(
                "several {}s have an id ending in {given}; give more characters",
                kind.as_str()
            ))),
        }
    }

    fn entity(&self, kind: EntityKind, given: &str) -> Result<Entity> {
        let id = self.resolve(kind, given)?;
        let key = EntityKey::new(&self.nid()?, kind, &id);
        self.store
            .get(&key)?
            .ok_or_else(|| CliError::NotFound(format!("no {} with id {given}", kind.as_str())))
    }

    fn near(&self, near: &NearArgs) -> Result<(Option<Cell>, Option<u32>)> {
        let cell = parse::place(near.place.lat, near.place.lon, near.place.cell.as_deref())?;
        if near.within.is_some() && cell.is_none() {
            return Err(CliError::Usage("--within needs a place: add --lat and --lon, or --cell".into()));
        }
        Ok((cell, near.within))
    }
}

fn page(args: &PageArgs) -> Page {
    Page { limit: args.limit, offset: args.offset }
}

fn place(args: &PlaceArgs) -> Result<Option<Cell>> {
    parse::place(args.lat, args.lon, args.cell.as_deref())
}

pub fn run(cli: Cli) -> Result<String> {
    let mut profile = Profile::locate(cli.home.as_deref(), &cli.profile)?;
    if let Command::Pair { code } = &cli.command {
        return pair(&mut profile, code, Out { json: cli.json });
    }
    let store = profile.open_store()?;
    let out = Out { json: cli.json };
    let mut ctx = Ctx { profile, store, given_neighbourhood: cli.neighbourhood, out };
    match cli.command {
        Command::Whoami => Ok(ctx.out.whoami(&ctx.profile, &ctx.store)),
        Command::Settings(args) => settings(&mut ctx, args),
        Command::Neighbourhood(cmd) => neighbourhood(&mut ctx, cmd),
        Command::Invite { uses, days } => {
            let nid = ctx.nid()?;
            let invitation = ctx.store.invite(&nid, uses, days.saturating_mul(86_400_000))?;
            Ok(ctx.out.invitation(&nid, &invitation))
        }
        Command::Uninvite { id } => {
            let id = ctx.resolve(EntityKind::Invitation, &id)?;
            ctx.act(InvitationRevoke { id }, "Invitation withdrawn")
        }
        Command::Profile(cmd) => profile_cmd(&ctx, cmd),
        Command::Member(cmd) => member(&mut ctx, cmd),
        Command::Favour(cmd) => favour(&ctx, cmd),
        Command::Item(cmd) => item(&ctx, cmd),
        Command::Loan(cmd) => loan(&ctx, cmd),
        Command::Stall(cmd) => stall(&ctx, cmd),
        Command::Product(cmd) => product(&ctx, cmd),
        Command::Order(cmd) => order(&ctx, cmd),
        Command::Message { thread, text } => {
            let thread = thread_ref(&ctx, &thread)?;
            ctx.act(MessageSend { id: new_id(), thread, body: text }, "Message sent")
        }
        Command::Export => Ok(ctx.store.export_json(&ctx.nid()?)?),
        Command::Thread { thread } => {
            let thread = thread_ref(&ctx, &thread)?;
            let messages = ctx.store.thread(&ctx.nid()?, &thread, Page { limit: 200, offset: 0 })?;
            Ok(ctx.out.messages(&messages))
        }
        Command::Search { text, kind, category, near, newest } => {
            let (near, within_m) = ctx.near(&near)?;
            let kinds = match kind {
                None => vec![],
                Some(SearchKind::Favour) => vec![EntityKind::Favour],
                Some(SearchKind::Item) => vec![EntityKind::Item],
                Some(SearchKind::Product) => vec![EntityKind::Product],
            };
            let order = if newest { SearchOrder::Newest } else { SearchOrder::BestMatch };
            let filter = SearchFilter { kinds, category, near, within_m, open_only: true, order };
            let hits = ctx.store.search(&ctx.nid()?, &text, &filter, Page::default())?;
            Ok(ctx.out.search(&hits))
        }
        Command::Inbox { notify } => {
            let nid = ctx.nid()?;
            let settings = &ctx.profile.settings;
            let now = ctx.store.now_ms();
            let entries = if notify {
                let notify = quartier_core::store::inbox::NotifySettings {
                    utc_offset_minutes: settings.utc_offset_minutes,
                    quiet_start_min: settings.quiet_start_min,
                    quiet_end_min: settings.quiet_end_min,
                    daily_budget: settings.daily_budget,
                };
                ctx.store.notifications_due(&nid, now, &notify)?
            } else {
                ctx.store.inbox(&nid, now, settings.utc_offset_minutes)?
            };
            Ok(ctx.out.inbox(&entries))
        }
        Command::Outbox => Ok(ctx.out.outbox(&ctx.store.outbox()?)),
        Command::Register { server } => {
            let client = SyncClient::new(ctx.store.clone(), &server, Arc::new(ctx.profile.secrets()))?;
            block_on(client.register())?;
            ctx.profile.settings.server = Some(server.clone());
            ctx.profile.save()?;
            Ok(ctx.out.message(&format!("This device is registered with {server}.")))
        }
        Command::Join { code, name } => {
            let client = ctx.client()?;
            let joined = block_on(client.join(&code, &name))?;
            ctx.profile.settings.neighbourhood = Some(joined.neighbourhood_id.clone());
            ctx.profile.save()?;
            Ok(ctx.out.joined(&joined))
        }
        Command::LinkDevice => {
            let link = block_on(ctx.client()?.link_device())?;
            Ok(ctx.out.link(&link))
        }
        Command::Pair { .. } => Err(CliError::Unexpected("pairing is handled before the store opens".into())),
        Command::Devices => {
            let devices = block_on(ctx.client()?.devices())?;
            Ok(ctx.out.devices(&devices))
        }
        Command::RemoveDevice { device_id } => {
            block_on(ctx.client()?.remove_device(&device_id))?;
            Ok(ctx
                .out
                .message(&format!("{device_id} is off your account: its syncs are refused from now on.")))
        }
        Command::Sync { budget } => {
            let client = ctx.client()?;
            let report = block_on(client.sync_once(Duration::from_secs(budget.max(1))))?;
            Ok(ctx.out.synced(&report, &client.status()))
        }
    }
}

/// Runs one network call to completion on a small runtime of its own.
fn block_on<T, E: Into<CliError>>(future: impl std::future::Future<Output = Result<T, E>>) -> Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Unexpected(format!("cannot start the network runtime: {e}")))?;
    runtime.block_on(future).map_err(Into::into)
}

/// Sets a fresh profile up as another device of a person, from a link code, and fetches their
/// neighbourhoods.
fn pair(profile: &mut Profile, code: &str, out: Out) -> Result<String> {
    let link = quartier_core::sync::DeviceLink::from_code(code)?;
    if profile.database_path().exists() {
        return Err(CliError::Usage(format!(
            "profile {} already has its own data; pair a new profile (--profile NEW_NAME)",
            profile.name
        )));
    }
    let identity = quartier_core::store::Identity {
        device_id: link.device_id.clone(),
        person_id: link.person_id.clone(),
    };
    let store = profile.open_store_as(identity)?;
    let client = SyncClient::adopt(store, &link, Arc::new(profile.secrets()))?;
    profile.settings.server = Some(link.server.clone());
    profile.settings.neighbourhood = link.neighbourhoods.first().cloned();
    profile.save()?;
    let report = block_on(client.sync_once(Duration::from_secs(60)))?;
    Ok(out.synced(&report, &client.status()))
}

fn settings(ctx: &mut Ctx, args: SettingsArgs) -> Result<String> {
    let settings = &mut ctx.profile.settings;
    if let Some(offset) = args.utc_offset {
        settings.utc_offset_minutes = parse::utc_offset(&offset)?;
    }
    if let Some(quiet) = args.quiet_hours {
        let (start, end) = parse::hours(&quiet)?;
        settings.quiet_start_min = start;
        settings.quiet_end_min = end;
    }
    if let Some(budget) = args.daily_budget {
        settings.daily_budget = budget;
    }
    ctx.profile.save()?;
    Ok(ctx.out.settings(&ctx.profile.settings))
}

fn neighbourhood(ctx: &mut Ctx, cmd: NeighbourhoodCmd) -> Result<String> {
    match cmd {
        NeighbourhoodCmd::Create { name, description, display_name, place: at } => {
            let nid = new_id();
            let cell = place(&at)?;
            let applied =
                ctx.store.mutate(&nid, NeighbourhoodCreate { name, description, cell, display_name })?;
            ctx.profile.settings.neighbourhood = Some(nid);
            ctx.profile.save()?;
            Ok(ctx.out.saved("Neighbourhood created; you are its moderator", &applied))
        }
        NeighbourhoodCmd::List => {
            let current = ctx.profile.settings.neighbourhood.clone();
            Ok(ctx.out.neighbourhoods(&ctx.store.neighbourhoods()?, current.as_deref()))
        }
        NeighbourhoodCmd::Use { id } => {
            let known = ctx.store.neighbourhoods()?;
            let found = known
                .iter()
                .find(|n| n.id == id || (id.len() >= 4 && n.id.ends_with(&id)))
                .ok_or_else(|| {
                    CliError::NotFound(format!(
                        "this profile holds no neighbourhood {id}; see `quartier neighbourhood list`"
                    ))
                })?;
            ctx.profile.settings.neighbourhood = Some(found.id.clone());
            ctx.profile.save()?;
            Ok(ctx.out.message(&format!("Now acting in {}.", found.name)))
        }
    }
}

fn profile_cmd(ctx: &Ctx, cmd: ProfileCmd) -> Result<String> {
    match cmd {
        ProfileCmd::Show { member } => {
            let id = match member {
                Some(given) => ctx.resolve(EntityKind::Member, &given)?,
                None => ctx.me(),
            };
            let view = ctx
                .store
                .member(&ctx.nid()?, &id)?
                .ok_or_else(|| CliError::NotFound(format!("no member {id} in this neighbourhood")))?;
            Ok(ctx.out.member(&view))
        }
        ProfileCmd::Set { name, bio, skills, place: at } => {
            let cell = place(&at)?;
            ctx.act(MemberUpdateProfile { display_name: name, bio, skills, cell }, "Profile saved")
        }
    }
}

fn member(ctx: &mut Ctx, cmd: MemberCmd) -> Result<String> {
    match cmd {
        MemberCmd::List { page: p } => Ok(ctx.out.members(&ctx.store.members(&ctx.nid()?, page(&p))?)),
        MemberCmd::Role { member, role } => {
            let member_id = ctx.resolve(EntityKind::Member, &member)?;
            let role = match role {
                RoleArg::Member => Role::Member,
                RoleArg::Trader => Role::Trader,
                RoleArg::Moderator => Role::Moderator,
            };
            ctx.act(MemberSetRole { member_id, role }, "Role set")
        }
        MemberCmd::Remove { member } => {
            let member_id = ctx.resolve(EntityKind::Member, &member)?;
            ctx.act(MemberRemove { member_id }, "Member removed; their content is removed everywhere")
        }
        MemberCmd::Leave { yes } => {
            if !yes {
                return Err(CliError::Usage(
                    "leaving removes everything you wrote in this neighbourhood; run again with --yes to confirm".into(),
                ));
            }
            let said = ctx.act(MemberLeave {}, "You left the neighbourhood; your content is removed")?;
            if ctx.given_neighbourhood.is_none() {
                ctx.profile.settings.neighbourhood = None;
                ctx.profile.save()?;
            }
            Ok(said)
        }
    }
}

fn window(ctx: &Ctx, fields: &FavourFields) -> Result<Option<TimeWindow>> {
    let Some(on) = &fields.on else {
        if fields.from.is_some() || fields.until.is_some() {
            return Err(CliError::Usage("--from and --until need a day: add --on YYYY-MM-DD".into()));
        }
        return Ok(None);
    };
    let day = parse::day(on, ctx.today())?;
    let start = day.start_ms(ctx.profile.settings.utc_offset_minutes);
    let from = fields.from.as_deref().map(parse::time_of_day).transpose()?.unwrap_or(0);
    let until = fields.until.as_deref().map(parse::time_of_day).transpose()?.unwrap_or(24 * 60);
    Ok(Some(TimeWindow {
        start_ms: start + i64::from(from) * 60_000,
        end_ms: start + i64::from(until) * 60_000,
    }))
}

fn favour(ctx: &Ctx, cmd: FavourCmd) -> Result<String> {
    let post = |kind: FavourKind, fields: FavourFields, at: PlaceArgs, done: &str| -> Result<String> {
        let window = window(ctx, &fields)?;
        let op = FavourPost {
            id: new_id(),
            kind,
            title: fields.title,
            details: fields.details,
            category: fields.category,
            window,
            cell: place(&at)?,
        };
        ctx.act(op, done)
    };
    let id = |given: &str| ctx.resolve(EntityKind::Favour, given);
    match cmd {
        FavourCmd::Ask { fields, place: at } => post(FavourKind::Ask, fields, at, "Favour asked"),
        FavourCmd::Offer { fields, place: at } => post(FavourKind::Offer, fields, at, "Favour offered"),
        FavourCmd::Edit { id: given, fields } => {
            let window = window(ctx, &fields)?;
            let op = FavourEdit {
                id: id(&given)?,
                title: fields.title,
                details: fields.details,
                category: fields.category,
                window,
            };
            ctx.act(op, "Favour updated")
        }
        FavourCmd::List { status, all, category, mine, near, page: p } => {
            let (near, within_m) = ctx.near(&near)?;
            let status = match (status, all) {
                (Some(s), _) => Some(match s {
                    FavourStatusArg::Open => FavourStatus::Open,
                    FavourStatusArg::Promised => FavourStatus::Promised,
                    FavourStatusArg::Done => FavourStatus::Done,
                    FavourStatusArg::Thanked => FavourStatus::Thanked,
                    FavourStatusArg::Cancelled => FavourStatus::Cancelled,
                }),
                (None, true) => None,
                (None, false) if mine => None,
                (None, false) => Some(FavourStatus::Open),
            };
            let filter = FavourFilter {
                status,
                category,
                involving: mine.then(|| ctx.me()),
                near,
                within_m,
                ..FavourFilter::default()
            };
            Ok(ctx.out.favours(&ctx.store.favours(&ctx.nid()?, &filter, page(&p))?))
        }
        FavourCmd::Show { id: given } => {
            let id = id(&given)?;
            let filter = FavourFilter::default();
            let views = ctx.store.favours(&ctx.nid()?, &filter, Page { limit: 200, offset: 0 })?;
            match views.into_iter().find(|v| v.favour.id == id) {
                Some(view) => Ok(ctx.out.favour(&view)),
                None => Ok(ctx.out.entity(&ctx.entity(EntityKind::Favour, &id)?)),
            }
        }
        FavourCmd::Promise { id: given } => ctx.act(FavourRef { id: id(&given)? }, "Promised"),
        FavourCmd::Withdraw { id: given } => {
            ctx.act(FavourWithdraw { id: id(&given)? }, "You stepped back; the favour is open again")
        }
        FavourCmd::Done { id: given } => ctx.act(FavourComplete { id: id(&given)? }, "Marked as done"),
        FavourCmd::Thank { id: given, note } => {
            ctx.act(FavourThank { id: id(&given)?, note }, "Thanks given")
        }
        FavourCmd::Cancel { id: given } => ctx.act(FavourCancel { id: id(&given)? }, "Favour cancelled"),
    }
}

fn condition(arg: ConditionArg) -> Condition {
    match arg {
        ConditionArg::New => Condition::New,
        ConditionArg::Good => Condition::Good,
        ConditionArg::Fair => Condition::Fair,
        ConditionArg::Worn => Condition::Worn,
    }
}

fn item(ctx: &Ctx, cmd: ItemCmd) -> Result<String> {
    let id = |given: &str| ctx.resolve(EntityKind::Item, given);
    match cmd {
        ItemCmd::Add { fields, place: at } => {
            let op = ItemAdd {
                id: new_id(),
                title: fields.title,
                description: fields.description,
                category: fields.category,
                condition: condition(fields.condition),
                deposit_note: fields.deposit,
                cell: place(&at)?,
            };
            ctx.act(op, "Item added")
        }
        ItemCmd::Edit { id: given, fields } => {
            let op = ItemEdit {
                id: id(&given)?,
                title: fields.title,
                description: fields.description,
                category: fields.category,
                condition: condition(fields.condition),
                deposit_note: fields.deposit,
            };
            ctx.act(op, "Item updated")
        }
        ItemCmd::List { category, mine, all, near, page: p } => {
            let (near, within_m) = ctx.near(&near)?;
            let filter = ItemFilter {
                category,
                owner: mine.then(|| ctx.me()),
                near,
                within_m,
                include_withdrawn: all,
            };
            Ok(ctx.out.items(&ctx.store.items(&ctx.nid()?, &filter, page(&p))?))
        }
        ItemCmd::Show { id: given } => Ok(ctx.out.entity(&ctx.entity(EntityKind::Item, &given)?)),
        ItemCmd::Calendar { id: given } => {
            let item_id = id(&given)?;
            Ok(ctx.out.calendar(&ctx.store.loan_calendar(&ctx.nid()?, &item_id)?))
        }
        ItemCmd::Withdraw { id: given } => ctx.act(ItemWithdraw { id: id(&given)? }, "Item withdrawn"),
        ItemCmd::Relist { id: given } => ctx.act(ItemRelist { id: id(&given)? }, "Item lent again"),
    }
}

fn loan(ctx: &Ctx, cmd: LoanCmd) -> Result<String> {
    let id = |given: &str| ctx.resolve(EntityKind::Loan, given);
    match cmd {
        LoanCmd::Request { item, from, to, note } => {
            let today = ctx.today();
            let op = LoanRequest {
                id: new_id(),
                item_id: ctx.resolve(EntityKind::Item, &item)?,
                first_day: parse::day(&from, today)?,
                last_day: parse::day(&to, today)?,
                note,
            };
            ctx.act(op, "Loan requested")
        }
        LoanCmd::Approve { id: given } => ctx.act(LoanApprove { id: id(&given)? }, "Loan approved"),
        LoanCmd::Decline { id: given, reason } => {
            ctx.act(LoanDecline { id: id(&given)?, reason }, "Loan declined")
        }
        LoanCmd::Cancel { id: given } => ctx.act(LoanCancel { id: id(&given)? }, "Loan cancelled"),
        LoanCmd::HandOver { id: given } => ctx.act(LoanHandOver { id: id(&given)? }, "Handed over"),
        LoanCmd::Return { id: given } => ctx.act(LoanReturn { id: id(&given)? }, "Returned"),
        LoanCmd::List { borrowing, lending, page: p } => {
            let me = ctx.me();
            let nid = ctx.nid()?;
            let mut loans = Vec::new();
            if !lending {
                loans.extend(ctx.store.loans(
                    &nid,
                    &LoanFilter { borrower: Some(me.clone()), ..LoanFilter::default() },
                    page(&p),
                )?);
            }
            if !borrowing {
                loans.extend(ctx.store.loans(
                    &nid,
                    &LoanFilter { owner: Some(me), ..LoanFilter::default() },
                    page(&p),
                )?);
            }
            Ok(ctx.out.loans(&loans))
        }
    }
}

fn stall_op(id: String, fields: StallFields, location: &PlaceArgs) -> Result<StallOpen> {
    let (opens_min, closes_min) = parse::hours(&fields.hours)?;
    Ok(StallOpen {
        id,
        name: fields.name,
        market: fields.market,
        days: parse::weekdays(&fields.days)?,
        opens_min,
        closes_min,
        place: fields.place,
        cell: place(location)?,
    })
}

fn stall(ctx: &Ctx, cmd: StallCmd) -> Result<String> {
    match cmd {
        StallCmd::Open { fields, location } => {
            ctx.act(stall_op(new_id(), fields, &location)?, "Stall opened")
        }
        StallCmd::Edit { id, fields, location } => {
            let id = ctx.resolve(EntityKind::Stall, &id)?;
            ctx.act(StallEdit(stall_op(id, fields, &location)?), "Stall updated")
        }
        StallCmd::List { page: p } => Ok(ctx.out.stalls(&ctx.store.stalls(&ctx.nid()?, page(&p))?)),
        StallCmd::Show { id } => {
            let Entity::Stall(stall) = ctx.entity(EntityKind::Stall, &id)? else {
                return Err(CliError::NotFound(format!("no stall {id}")));
            };
            let products = ctx.store.products(&ctx.nid()?, &stall.id, false)?;
            Ok(ctx.out.stall(&stall, &products))
        }
    }
}

fn product(ctx: &Ctx, cmd: ProductCmd) -> Result<String> {
    let id = |given: &str| ctx.resolve(EntityKind::Product, given);
    match cmd {
        ProductCmd::Add { stall, name, unit, price, stock, today } => {
            let op = ProductAdd {
                id: new_id(),
                stall_id: ctx.resolve(EntityKind::Stall, &stall)?,
                name,
                unit,
                price_cents: parse::price_cents(&price)?,
                stock,
                available_today: today,
            };
            ctx.act(op, "Product added")
        }
        ProductCmd::Rename { id: given, name, unit } => {
            ctx.act(ProductEdit { id: id(&given)?, name, unit }, "Product renamed")
        }
        ProductCmd::Price { id: given, price } => ctx
            .act(ProductSetPrice { id: id(&given)?, price_cents: parse::price_cents(&price)? }, "Price set"),
        ProductCmd::Stock { id: given, delta } => {
            let delta: i64 = delta.trim().trim_start_matches('+').parse().map_err(|_| {
                CliError::Usage(format!(
                    "{delta:?} is not a stock move: write -3 for 3 sold, +10 for 10 added"
                ))
            })?;
            ctx.act(ProductAdjustStock { id: id(&given)?, delta }, "Stock moved")
        }
        ProductCmd::Count { id: given, count } => {
            ctx.act(ProductStocktake { id: id(&given)?, count }, "Stock counted")
        }
        ProductCmd::Today { id: given, state } => ctx.act(
            ProductSetAvailableToday { id: id(&given)?, available: state == "on" },
            "Today's offer updated",
        ),
        ProductCmd::Remove { id: given } => ctx.act(ProductRemove { id: id(&given)? }, "Product removed"),
        ProductCmd::List { stall, all } => {
            let stall_id = ctx.resolve(EntityKind::Stall, &stall)?;
            Ok(ctx.out.products(&ctx.store.products(&ctx.nid()?, &stall_id, all)?))
        }
    }
}

fn order(ctx: &Ctx, cmd: OrderCmd) -> Result<String> {
    let id = |given: &str| ctx.resolve(EntityKind::Order, given);
    match cmd {
        OrderCmd::Place { stall, lines, pickup, note } => {
            let lines = lines
                .iter()
                .map(|line| {
                    let (product, quantity) = parse::order_line(line)?;
                    Ok(OrderLine { product_id: ctx.resolve(EntityKind::Product, &product)?, quantity })
                })
                .collect::<Result<Vec<_>>>()?;
            let op = OrderPlace {
                id: new_id(),
                stall_id: ctx.resolve(EntityKind::Stall, &stall)?,
                lines,
                pickup_day: pickup.as_deref().map(|d| parse::day(d, ctx.today())).transpose()?,
                note,
            };
            ctx.act(op, "Pre-order placed")
        }
        OrderCmd::Confirm { id: given } => {
            ctx.act(OrderConfirm { id: id(&given)? }, "Pre-order confirmed; its stock is reserved")
        }
        OrderCmd::Decline { id: given, reason } => {
            ctx.act(OrderDecline { id: id(&given)?, reason }, "Pre-order declined")
        }
        OrderCmd::Ready { id: given } => {
            ctx.act(OrderReady { id: id(&given)? }, "Pre-order ready for pickup")
        }
        OrderCmd::Collect { id: given } => ctx.act(OrderCollect { id: id(&given)? }, "Pre-order collected"),
        OrderCmd::Cancel { id: given } => ctx.act(OrderCancel { id: id(&given)? }, "Pre-order cancelled"),
        OrderCmd::List { stall, page: p } => {
            let nid = ctx.nid()?;
            let orders = match stall {
                Some(stall) => ctx.store.pending_orders(&nid, &ctx.resolve(EntityKind::Stall, &stall)?)?,
                None => ctx.store.orders(
                    &nid,
                    &OrderFilter { customer: Some(ctx.me()), ..OrderFilter::default() },
                    page(&p),
                )?,
            };
            Ok(ctx.out.orders(&orders))
        }
    }
}

fn thread_ref(ctx: &Ctx, args: &ThreadArgs) -> Result<ThreadRef> {
    let (kind, entity, given) = match (&args.favour, &args.loan, &args.order) {
        (Some(id), _, _) => (ThreadKind::Favour, EntityKind::Favour, id),
        (_, Some(id), _) => (ThreadKind::Loan, EntityKind::Loan, id),
        (_, _, Some(id)) => (ThreadKind::Order, EntityKind::Order, id),
        _ => return Err(CliError::Usage("name the thread: --favour ID, --loan ID or --order ID".into())),
    };
    Ok(ThreadRef { kind, id: ctx.resolve(entity, given)? })
}
