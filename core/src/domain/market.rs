//! The market: traders' stalls, their products, and pre-orders for pickup (click-and-collect).
//!
//! Prices, names and "available today" are last-writer-wins by clock stamp, so a trader's phone and
//! tablet can both edit offline and the newest edit stands whatever order they sync in. Stock moves are
//! deltas that add up (sold 3, restocked 10); a stocktake sets the count, and moves stamped before it
//! are taken as already counted. A confirmed pre-order reserves its stock until it is collected,
//! declined or cancelled; stock never goes below zero, nor below what is reserved.
//!
//! Traders open stalls, and so may moderators, who hold every power of a trader; a trader made a plain
//! member again keeps managing the stall they have.
//!
//! Pre-order life: placed → confirmed → ready → collected, or declined (by the trader) / cancelled (by
//! the customer).

use super::mutation::{
    OrderDecline, OrderPlace, ProductAdd, ProductAdjustStock, ProductEdit, ProductSetAvailableToday,
    ProductSetPrice, ProductStocktake, StallOpen,
};
use super::validate::{
    self, MAX_ORDER_LINES, MAX_ORDER_QUANTITY, MAX_PRICE_CENTS, MAX_STOCK, MAX_TEXT, MAX_TITLE,
};
use super::*;
use std::collections::{BTreeMap, BTreeSet};

struct StallDetails {
    name: String,
    market: String,
    days: Vec<u8>,
    place: String,
}

fn check_stall(a: &StallOpen) -> Result<StallDetails, Rejection> {
    let days: BTreeSet<u8> = a.days.iter().copied().collect();
    if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
        return Err(Rejection::invalid(
            "Market days are numbered 1 (Monday) to 7 (Sunday); give at least one.",
        ));
    }
    if a.opens_min >= a.closes_min || a.closes_min > 24 * 60 {
        return Err(Rejection::invalid("The stall must close after it opens, on the same day."));
    }
    validate::cell(a.cell)?;
    Ok(StallDetails {
        name: validate::required_line("stall name", &a.name, MAX_TITLE)?,
        market: validate::required_line("market", &a.market, MAX_TITLE)?,
        days: days.into_iter().collect(),
        place: validate::free_text("place", &a.place, MAX_TITLE)?,
    })
}

pub(super) fn open_stall(ctx: &Ctx<'_>, a: &StallOpen) -> Outcome {
    let actor = ctx.actor()?;
    if actor.role == Role::Member {
        return Err(Rejection::forbidden(
            "Only traders can open a stall; ask a moderator to make you a trader.",
        )
        .into());
    }
    ctx.fresh_id(EntityKind::Stall, &a.id)?;
    let details = check_stall(a)?;
    Ok(vec![put(Stall {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        owner: ctx.m.author.clone(),
        name: details.name,
        market: details.market,
        days: details.days,
        opens_min: a.opens_min,
        closes_min: a.closes_min,
        place: details.place,
        cell: a.cell,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

fn own_stall(ctx: &Ctx<'_>, id: &str) -> Result<Stall, ApplyError> {
    ctx.actor()?;
    let stall = ctx.stall(id)?;
    if !ctx.is_author(&stall.owner) {
        return Err(Rejection::forbidden(format!("Only the trader of {} can do this.", stall.name)).into());
    }
    Ok(stall)
}

pub(super) fn edit_stall(ctx: &Ctx<'_>, a: &StallOpen) -> Outcome {
    let mut stall = own_stall(ctx, &a.id)?;
    let details = check_stall(a)?;
    stall.name = details.name;
    stall.market = details.market;
    stall.days = details.days;
    stall.opens_min = a.opens_min;
    stall.closes_min = a.closes_min;
    stall.place = details.place;
    stall.cell = a.cell;
    stall.updated = ctx.m.hlc;
    Ok(vec![put(stall)])
}

fn price(cents: i64) -> Result<i64, Rejection> {
    validate::amount("price in cents", cents, 0, MAX_PRICE_CENTS)
}

pub(super) fn add_product(ctx: &Ctx<'_>, a: &ProductAdd) -> Outcome {
    let stall = own_stall(ctx, &a.stall_id)?;
    ctx.fresh_id(EntityKind::Product, &a.id)?;
    Ok(vec![put(Product {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        stall_id: stall.id,
        owner: stall.owner,
        name: validate::required_line("product name", &a.name, MAX_TITLE)?,
        unit: validate::slug("unit", &a.unit)?,
        price_cents: price(a.price_cents)?,
        stock: validate::amount("stock", a.stock, 0, MAX_STOCK)?,
        reserved: 0,
        available_today: a.available_today,
        removed: false,
        details_hlc: ctx.m.hlc,
        price_hlc: ctx.m.hlc,
        available_hlc: ctx.m.hlc,
        stocktake_hlc: ctx.m.hlc,
        moves: Vec::new(),
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

/// The author's product, still on the stall.
fn own_product(ctx: &Ctx<'_>, id: &str) -> Result<Product, ApplyError> {
    ctx.actor()?;
    let product = ctx.product(id)?;
    if !ctx.is_author(&product.owner) {
        return Err(
            Rejection::forbidden(format!("Only the trader selling {} can change it.", product.name)).into()
        );
    }
    if product.removed {
        return Err(Rejection::wrong_state(format!("{} was removed from the stall.", product.name)).into());
    }
    Ok(product)
}

/// Writes one last-writer-wins field: only if this mutation is newer than the field's last change.
fn last_writer_wins(
    ctx: &Ctx<'_>,
    mut product: Product,
    stamp: fn(&mut Product) -> &mut Hlc,
    write: impl FnOnce(&mut Product),
) -> Outcome {
    if *stamp(&mut product) > ctx.m.hlc {
        return Ok(vec![]); // a newer edit from another device already stands
    }
    write(&mut product);
    *stamp(&mut product) = ctx.m.hlc;
    product.updated = product.updated.max(ctx.m.hlc);
    Ok(vec![put(product)])
}

pub(super) fn edit_product(ctx: &Ctx<'_>, a: &ProductEdit) -> Outcome {
    let product = own_product(ctx, &a.id)?;
    let name = validate::required_line("product name", &a.name, MAX_TITLE)?;
    let unit = validate::slug("unit", &a.unit)?;
    last_writer_wins(
        ctx,
        product,
        |p| &mut p.details_hlc,
        |p| {
            p.name = name;
            p.unit = unit;
        },
    )
}

pub(super) fn set_price(ctx: &Ctx<'_>, a: &ProductSetPrice) -> Outcome {
    let product = own_product(ctx, &a.id)?;
    let cents = price(a.price_cents)?;
    last_writer_wins(ctx, product, |p| &mut p.price_hlc, |p| p.price_cents = cents)
}

pub(super) fn set_available_today(ctx: &Ctx<'_>, a: &ProductSetAvailableToday) -> Outcome {
    let product = own_product(ctx, &a.id)?;
    last_writer_wins(ctx, product, |p| &mut p.available_hlc, |p| p.available_today = a.available)
}

fn short_of(product: &Product, wanted: i64) -> ApplyError {
    let free = product.free_stock().max(0);
    let message = if product.reserved > 0 {
        format!(
            "Only {free} {} of {} can go: {} of the {} left are reserved for pre-orders.",
            product.unit, product.name, product.reserved, product.stock
        )
    } else {
        format!("Only {free} {} of {} left, not {wanted}.", product.unit, product.name)
    };
    Rejection::new(Code::InsufficientStock, message).into()
}

pub(super) fn adjust_stock(ctx: &Ctx<'_>, a: &ProductAdjustStock) -> Outcome {
    let mut product = own_product(ctx, &a.id)?;
    if a.delta == 0 {
        return Err(Rejection::invalid(
            "A stock move of 0 changes nothing; give the number sold (negative) or added.",
        )
        .into());
    }
    validate::amount("stock move", a.delta, -MAX_STOCK, MAX_STOCK)?;
    if ctx.m.hlc < product.stocktake_hlc {
        return Ok(vec![]); // counted already by a later stocktake
    }
    let stock = product.stock + a.delta;
    if stock < product.reserved || stock < 0 {
        return Err(short_of(&product, -a.delta));
    }
    product.stock = validate::amount("stock", stock, 0, MAX_STOCK)?;
    product.record_move(ctx.m.hlc, a.delta);
    product.updated = product.updated.max(ctx.m.hlc);
    Ok(vec![put(product)])
}

/// A stocktake sets the stock to the count plus the moves stamped after it (made after the count, but
/// synced before it); moves stamped before it were counted. An older stocktake than the last changes
/// nothing.
pub(super) fn stocktake(ctx: &Ctx<'_>, a: &ProductStocktake) -> Outcome {
    let mut product = own_product(ctx, &a.id)?;
    let count = validate::amount("counted stock", a.count, 0, MAX_STOCK)?;
    if product.stocktake_hlc > ctx.m.hlc {
        return Ok(vec![]); // a later stocktake already stands
    }
    let later: i64 = product.moves.iter().filter(|m| m.hlc > ctx.m.hlc).map(|m| m.delta).sum();
    let stock = (count + later).max(0);
    if stock < product.reserved {
        return Err(Rejection::new(
            Code::InsufficientStock,
            format!(
                "You counted {count} {} of {}, but {} are reserved for pre-orders; decline one first.",
                product.unit, product.name, product.reserved
            ),
        )
        .into());
    }
    product.stock = validate::amount("stock", stock, 0, MAX_STOCK)?;
    product.moves.retain(|m| m.hlc > ctx.m.hlc);
    product.stocktake_hlc = ctx.m.hlc;
    product.updated = product.updated.max(ctx.m.hlc);
    Ok(vec![put(product)])
}

pub(super) fn remove_product(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let mut product = own_product(ctx, id)?;
    if product.reserved > 0 {
        return Err(Rejection::wrong_state(format!(
            "{} {} of {} are reserved for pre-orders; hand them over or decline them first.",
            product.reserved, product.unit, product.name
        ))
        .into());
    }
    product.removed = true;
    product.available_today = false;
    product.updated = product.updated.max(ctx.m.hlc);
    Ok(vec![put(product)])
}

pub(super) fn place_order(ctx: &Ctx<'_>, a: &OrderPlace) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Order, &a.id)?;
    let stall = ctx.stall(&a.stall_id)?;
    if ctx.is_author(&stall.owner) {
        return Err(Rejection::forbidden("You cannot pre-order from your own stall.").into());
    }
    if a.lines.is_empty() || a.lines.len() > MAX_ORDER_LINES {
        return Err(Rejection::invalid(format!("A pre-order has 1 to {MAX_ORDER_LINES} products.")).into());
    }
    let mut seen = BTreeSet::new();
    for line in &a.lines {
        if !seen.insert(&line.product_id) {
            return Err(Rejection::invalid(
                "Each product appears once in a pre-order; add up the quantities.",
            )
            .into());
        }
        let product = ctx.product(&line.product_id)?;
        if product.stall_id != stall.id || product.removed {
            return Err(
                Rejection::not_found(&format!("The product {} at {}", product.name, stall.name)).into()
            );
        }
        validate::amount(&format!("quantity of {}", product.name), line.quantity, 1, MAX_ORDER_QUANTITY)?;
        if line.quantity > product.free_stock() {
            return Err(short_of(&product, line.quantity));
        }
    }
    if let Some(day) = a.pickup_day {
        if day < Day::of_instant(ctx.at(), -12 * 60) {
            return Err(Rejection::invalid(format!("The pickup day {day} is in the past.")).into());
        }
    }
    Ok(vec![put(Order {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        stall_id: stall.id,
        trader: stall.owner,
        customer: ctx.m.author.clone(),
        lines: a.lines.clone(),
        pickup_day: a.pickup_day,
        note: validate::free_text("note", &a.note, MAX_TEXT)?,
        status: OrderStatus::Placed,
        decline_reason: None,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

/// The order, if the author is its trader (`as_trader`) or its customer.
fn order_for(ctx: &Ctx<'_>, id: &str, as_trader: bool) -> Result<Order, ApplyError> {
    ctx.actor()?;
    let order = ctx.order(id)?;
    let (who, role) = if as_trader { (&order.trader, "trader") } else { (&order.customer, "customer") };
    if !ctx.is_author(who) {
        return Err(Rejection::forbidden(format!("Only the {role} of this pre-order can do this.")).into());
    }
    Ok(order)
}

fn refuse_state(order: &Order, doing: &str) -> ApplyError {
    let state = match order.status {
        OrderStatus::Placed => "not confirmed yet",
        OrderStatus::Confirmed => "confirmed but not ready yet",
        OrderStatus::Ready => "already ready",
        OrderStatus::Collected => "already collected",
        OrderStatus::Declined => "declined",
        OrderStatus::Cancelled => "cancelled",
    };
    Rejection::wrong_state(format!("This pre-order is {state}, so it cannot be {doing}.")).into()
}

/// Moves the stock of each line: `reserve` is added to the reservation and `take` removed from stock.
fn move_stock(ctx: &Ctx<'_>, order: &Order, reserve: i64, take: i64) -> Result<Vec<Effect>, ApplyError> {
    let mut products = BTreeMap::new();
    for line in &order.lines {
        let mut product = ctx.product(&line.product_id)?;
        if reserve > 0 && product.free_stock() < line.quantity {
            return Err(short_of(&product, line.quantity));
        }
        if reserve > 0 && product.removed {
            return Err(Rejection::wrong_state(format!(
                "{} was removed from the stall; decline this pre-order instead.",
                product.name
            ))
            .into());
        }
        product.reserved = (product.reserved + reserve * line.quantity).max(0);
        // Goods handed over before the last stocktake were not there to be counted: the count has them out.
        if take != 0 && ctx.m.hlc > product.stocktake_hlc {
            product.stock = (product.stock - take * line.quantity).max(0);
            product.record_move(ctx.m.hlc, -take * line.quantity);
        }
        product.updated = product.updated.max(ctx.m.hlc);
        products.insert(product.id.clone(), product);
    }
    Ok(products.into_values().map(put).collect())
}

fn step(ctx: &Ctx<'_>, mut order: Order, to: OrderStatus, reserve: i64, take: i64) -> Outcome {
    let mut effects = move_stock(ctx, &order, reserve, take)?;
    order.status = to;
    order.updated = ctx.m.hlc;
    effects.push(put(order));
    Ok(effects)
}

pub(super) fn confirm_order(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let order = order_for(ctx, id, true)?;
    if order.status != OrderStatus::Placed {
        return Err(refuse_state(&order, "confirmed"));
    }
    step(ctx, order, OrderStatus::Confirmed, 1, 0)
}

pub(super) fn order_ready(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let order = order_for(ctx, id, true)?;
    if order.status != OrderStatus::Confirmed {
        return Err(refuse_state(&order, "made ready"));
    }
    step(ctx, order, OrderStatus::Ready, 0, 0)
}

pub(super) fn collect_order(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let order = order_for(ctx, id, true)?;
    if !order.status.reserves_stock() {
        return Err(refuse_state(&order, "handed over"));
    }
    step(ctx, order, OrderStatus::Collected, -1, 1)
}

pub(super) fn decline_order(ctx: &Ctx<'_>, a: &OrderDecline) -> Outcome {
    let mut order = order_for(ctx, &a.id, true)?;
    if !matches!(order.status, OrderStatus::Placed | OrderStatus::Confirmed | OrderStatus::Ready) {
        return Err(refuse_state(&order, "declined"));
    }
    let release = if order.status.reserves_stock() { -1 } else { 0 };
    let reason = validate::free_text("reason", &a.reason, MAX_TITLE)?;
    order.decline_reason = (!reason.is_empty()).then_some(reason);
    step(ctx, order, OrderStatus::Declined, release, 0)
}

pub(super) fn cancel_order(ctx: &Ctx<'_>, id: &str) -> Outcome {
    let order = order_for(ctx, id, false)?;
    if !matches!(order.status, OrderStatus::Placed | OrderStatus::Confirmed | OrderStatus::Ready) {
        return Err(refuse_state(&order, "cancelled"));
    }
    let release = if order.status.reserves_stock() { -1 } else { 0 };
    step(ctx, order, OrderStatus::Cancelled, release, 0)
}
