//! `quartier`: the terminal client of Quartier, over the same core as the apps.
//!
//! Every domain action, search and the inbox, for one person per profile (`--profile`), with human
//! output or `--json` for scripts, and exit codes scripts can rely on (see `error.rs`). The commands
//! are declared here; `commands.rs` carries them out and `render.rs` prints the results.
//!
//! To add a command: a variant below, an arm in `commands::run`, and a test in `cli/tests/`.

mod commands;
mod error;
mod parse;
mod profile;
mod render;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "quartier",
    version,
    about = "Neighbourhood mutual aid: favours, lending and the local market."
)]
pub struct Cli {
    /// The person to act as: each profile has its own folder and database.
    #[arg(long, short, global = true, env = "QUARTIER_PROFILE", default_value = "default")]
    pub profile: String,
    /// Where profiles live (default: ~/.quartier).
    #[arg(long, global = true, env = "QUARTIER_HOME")]
    pub home: Option<PathBuf>,
    /// The neighbourhood to act in (default: the profile's current one).
    #[arg(long = "in", global = true, value_name = "NEIGHBOURHOOD")]
    pub neighbourhood: Option<String>,
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Who this profile is, and where its data lives.
    Whoami,
    /// Time zone and notification settings of this profile.
    Settings(SettingsArgs),
    /// Create, list or switch neighbourhoods.
    #[command(subcommand)]
    Neighbourhood(NeighbourhoodCmd),
    /// Invite someone to the current neighbourhood: prints a code to give them.
    Invite {
        /// How many people may join with the code.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// How many days the code stays valid (at most 30).
        #[arg(long, default_value_t = 7)]
        days: i64,
    },
    /// Withdraw an invitation.
    Uninvite { id: String },
    /// Your profile in the current neighbourhood.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// The members of the neighbourhood, and moderation.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Ask for a favour or offer one, and follow it through.
    #[command(subcommand)]
    Favour(FavourCmd),
    /// Things you lend.
    #[command(subcommand)]
    Item(ItemCmd),
    /// Borrowing and lending.
    #[command(subcommand)]
    Loan(LoanCmd),
    /// Market stalls.
    #[command(subcommand)]
    Stall(StallCmd),
    /// The products of a stall: prices, stock, today's offer.
    #[command(subcommand)]
    Product(ProductCmd),
    /// Pre-orders for pickup at a stall.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Write in the thread of a favour, a loan or a pre-order.
    Message {
        #[command(flatten)]
        thread: ThreadArgs,
        /// What to say.
        text: String,
    },
    /// Read the thread of a favour, a loan or a pre-order.
    Thread {
        #[command(flatten)]
        thread: ThreadArgs,
    },
    /// Search favours, items and products (accents and case do not matter), best match first.
    Search {
        text: String,
        /// Only this kind of thing.
        #[arg(long, value_enum)]
        kind: Option<SearchKind>,
        #[arg(long)]
        category: Option<String>,
        #[command(flatten)]
        near: NearArgs,
        /// The latest to reach this device first instead.
        #[arg(long)]
        newest: bool,
    },
    /// What concerns you: requests on your items, orders ready, loans due, answers, refusals.
    Inbox {
        /// Only what is due as a notification now (quiet hours and daily budget apply), marked as told.
        #[arg(long)]
        notify: bool,
    },
    /// Your changes not yet sent to the server.
    Outbox,
    /// Everything you wrote in the current neighbourhood (profile, favours, items, loans you asked
    /// for, stalls and products, pre-orders, messages, invitations), as JSON on standard output:
    /// `quartier export > me.json`.
    Export,
    /// Register this profile's device with a sync server (once).
    Register {
        /// The server's address, like https://sync.example.org (http:// only to this machine).
        #[arg(long, env = "QUARTIER_SERVER")]
        server: String,
    },
    /// Join a neighbourhood with the invitation code a neighbour gave you.
    Join {
        code: String,
        /// Your name in the neighbourhood.
        #[arg(long)]
        name: String,
    },
    /// Add another device of yours (a tablet beside your phone): prints a link code for it. Anyone with
    /// the code can act as you, so give it only to your own device.
    LinkDevice,
    /// Set this (new, empty) profile up as another device of a person, with a link code.
    Pair { code: String },
    /// Your devices: the ones linked to your account, oldest first.
    Devices,
    /// Take one of your devices off your account (a lost or sold phone): its syncs are refused from
    /// then on. Your account's last device stays.
    RemoveDevice { device_id: String },
    /// Send your changes and fetch the neighbourhood's: one round.
    Sync {
        /// Stop after this many seconds (what is done is kept; run again to finish).
        #[arg(long, default_value_t = 60)]
        budget: u64,
    },
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Your offset from UTC, like +01:00.
    #[arg(long, allow_hyphen_values = true)]
    pub utc_offset: Option<String>,
    /// Quiet hours, like 22:00-08:00: no notification then.
    #[arg(long)]
    pub quiet_hours: Option<String>,
    /// The most notifications a day.
    #[arg(long)]
    pub daily_budget: Option<u32>,
}

/// A coarse place: turned into a cell of about 800 m at once; the coordinates are not kept.
#[derive(Debug, Args, Default)]
pub struct PlaceArgs {
    #[arg(long, allow_hyphen_values = true)]
    pub lat: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub lon: Option<f64>,
    /// A cell, as row:col.
    #[arg(long)]
    pub cell: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct NearArgs {
    /// Nearest first, around this place.
    #[command(flatten)]
    pub place: PlaceArgs,
    /// Only within this many metres.
    #[arg(long)]
    pub within: Option<u32>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ThreadArgs {
    #[arg(long)]
    pub favour: Option<String>,
    #[arg(long)]
    pub loan: Option<String>,
    #[arg(long)]
    pub order: Option<String>,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SearchKind {
    Favour,
    Item,
    Product,
}

#[derive(Debug, Subcommand)]
pub enum NeighbourhoodCmd {
    /// Found a neighbourhood; you become its first moderator.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Your name in it.
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// The neighbourhoods this profile holds.
    List,
    /// Act in this neighbourhood from now on.
    Use { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ProfileCmd {
    /// Show a member's profile (yours by default).
    Show { member: Option<String> },
    /// Rewrite your profile.
    Set {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        bio: String,
        /// A skill; repeat for several.
        #[arg(long = "skill")]
        skills: Vec<String>,
        #[command(flatten)]
        place: PlaceArgs,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Member,
    Trader,
    Moderator,
}

#[derive(Debug, Subcommand)]
pub enum MemberCmd {
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// (Moderators) give a member a role.
    Role { member: String, role: RoleArg },
    /// (Moderators) remove a member; their content is removed everywhere.
    Remove { member: String },
    /// Leave the neighbourhood; your content is removed everywhere.
    Leave {
        /// Confirm that you mean it.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct FavourFields {
    #[arg(long)]
    pub title: String,
    #[arg(long, default_value = "")]
    pub details: String,
    /// garden, diy, care, transport, shopping, cooking, tech, pets, company, other…
    #[arg(long, default_value = "other")]
    pub category: String,
    /// The day it is for.
    #[arg(long)]
    pub on: Option<String>,
    /// From this time that day (HH:MM).
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time that day (HH:MM).
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FavourStatusArg {
    Open,
    Promised,
    Done,
    Thanked,
    Cancelled,
}

#[derive(Debug, Subcommand)]
pub enum FavourCmd {
    /// Ask for a favour.
    Ask {
        #[command(flatten)]
        fields: FavourFields,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Offer a favour.
    Offer {
        #[command(flatten)]
        fields: FavourFields,
        #[command(flatten)]
        place: PlaceArgs,
    },
    /// Rewrite an open favour of yours.
    Edit {
        id: String,
        #[command(flatten)]
        fields: FavourFields,
    },
    /// Favours of the neighbourhood (open ones by default).
    List {
        #[arg(long, value_enum)]
        status: Option<FavourStatusArg>,
        /// Any status.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        category: Option<String>,
        /// Only yours (asked, offered or taken up).
        #[arg(long)]
        mine: bool,
        #[command(flatten)]
        near: NearArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    Show {
        id: String,
    },
    /// "I'll do it" (an ask) or "yes please" (an offer).
    Promise {
        id: String,
    },
    /// Step back from a favour you took up.
    Withdraw {
        id: String,
    },
    /// Mark a promised favour as done.
    Done {
        id: String,
    },
    /// Thank for a favour done for you.
    Thank {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    Cancel {
        id: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ConditionArg {
    New,
    Good,
    Fair,
    Worn,
}

#[derive(Debug, Args)]
pub struct ItemFields {
    #[arg(long)]
    pub title: String,
    #[arg(long, default_value = "")]
    pub description: String,
    #[arg(long, default_value = "other")]
    pub category: String,
    #[arg(long, value_enum, default_value = "good")]
    pub condition: ConditionArg,
    /// What you ask as a deposit, in words.
    #[arg(long, default_value = "")]
    pub deposit: String,
}

#[derive(Debug, Subcommand)]
pub enum ItemCmd {
    /// Put an item up for lending.
    Add {
        #[command(flatten)]
        fields: ItemFields,
        #[command(flatten)]
        place: PlaceArgs,
    },
    Edit {
        id: String,
        #[command(flatten)]
        fields: ItemFields,
    },
    List {
        #[arg(long)]
        category: Option<String>,
        /// Only yours.
        #[arg(long)]
        mine: bool,
        /// Also withdrawn ones.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        near: NearArgs,
        #[command(flatten)]
        page: PageArgs,
    },
    Show {
        id: String,
    },
    /// When the item is lent.
    Calendar {
        id: String,
    },
    /// Stop lending it (pending requests are declined).
    Withdraw {
        id: String,
    },
    /// Lend it again.
    Relist {
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LoanCmd {
    /// Ask to borrow an item from a day to a day, both included.
    Request {
        item: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    Approve {
        id: String,
    },
    Decline {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Cancel {
        id: String,
    },
    HandOver {
        id: String,
    },
    Return {
        id: String,
    },
    /// Your loans: what you borrow, and requests on your items.
    List {
        /// Only what you borrow.
        #[arg(long, conflicts_with = "lending")]
        borrowing: bool,
        /// Only loans of your items.
        #[arg(long)]
        lending: bool,
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Debug, Args)]
pub struct StallFields {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub market: String,
    /// Market days, like sat,sun.
    #[arg(long)]
    pub days: String,
    /// Opening hours, like 08:00-13:00.
    #[arg(long)]
    pub hours: String,
    /// Where at the market.
    #[arg(long, default_value = "")]
    pub place: String,
}

#[derive(Debug, Subcommand)]
pub enum StallCmd {
    /// (Traders) open a stall.
    Open {
        #[command(flatten)]
        fields: StallFields,
        #[command(flatten)]
        location: PlaceArgs,
    },
    Edit {
        id: String,
        #[command(flatten)]
        fields: StallFields,
        #[command(flatten)]
        location: PlaceArgs,
    },
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// A stall and its products.
    Show { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ProductCmd {
    Add {
        #[arg(long)]
        stall: String,
        #[arg(long)]
        name: String,
        /// kg, bunch, piece…
        #[arg(long)]
        unit: String,
        /// Like 2.50.
        #[arg(long, allow_hyphen_values = true)]
        price: String,
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        stock: i64,
        /// On the stall today.
        #[arg(long)]
        today: bool,
    },
    Rename {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        unit: String,
    },
    /// Change the price (like 2.80).
    Price {
        id: String,
        #[arg(allow_hyphen_values = true)]
        price: String,
    },
    /// Sold some (negative, like -3) or restocked (positive, like +10).
    Stock {
        id: String,
        #[arg(allow_hyphen_values = true)]
        delta: String,
    },
    /// You counted the stock: set it.
    Count {
        id: String,
        #[arg(allow_hyphen_values = true)]
        count: i64,
    },
    /// On the stall today, or not.
    Today {
        id: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    Remove {
        id: String,
    },
    List {
        #[arg(long)]
        stall: String,
        /// Also removed ones.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrderCmd {
    /// Pre-order products of a stall for pickup.
    Place {
        #[arg(long)]
        stall: String,
        /// PRODUCT:QUANTITY; repeat for several products.
        #[arg(long = "line", required = true)]
        lines: Vec<String>,
        #[arg(long)]
        pickup: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
    Confirm {
        id: String,
    },
    Decline {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Ready {
        id: String,
    },
    Collect {
        id: String,
    },
    Cancel {
        id: String,
    },
    /// Your pre-orders, or with --stall the pending ones at your stall.
    List {
        #[arg(long)]
        stall: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let wants_json = std::env::args().any(|arg| arg == "--json");
            let is_usage_error = !matches!(
                error.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            );
            if wants_json && is_usage_error {
                let message = error.kind().to_string();
                let detail = error.render().to_string();
                let detail = detail.lines().next().unwrap_or(&message).trim_start_matches("error: ");
                println!("{}", serde_json::json!({ "error": { "code": "usage", "message": detail } }));
                std::process::exit(2);
            }
            error.exit();
        }
    };
    let json = cli.json;
    let code = match commands::run(cli) {
        Ok(output) => {
            if !output.is_empty() {
                println!("{output}");
            }
            0
        }
        Err(error) => {
            if json {
                let body =
                    serde_json::json!({ "error": { "code": error.code(), "message": error.to_string() } });
                println!("{body}");
            } else {
                eprintln!("quartier: {error}");
            }
            error.exit_code()
        }
    };
    std::process::exit(code);
}
