//! Printing results: short human lines, or JSON with `--json`.
//!
//! Human output names things by their short id (the last 8 characters of the id), which every command
//! accepts in place of the full id. JSON output carries full ids and every field.

use crate::parse::{show_price, show_time, show_weekdays};
use crate::profile::{Profile, Settings};
use quartier_core::domain::*;
use quartier_core::store::inbox::InboxEntry;
use quartier_core::store::queries::*;
use quartier_core::store::search::SearchHit;
use quartier_core::store::{Applied, NewInvitation, Store};
use serde_json::{Value, json};

/// The short form of an id, as shown to people.
pub fn short(id: &str) -> &str {
    &id[id.len().saturating_sub(8)..]
}

fn distance(d: Option<u32>) -> String {
    match d {
        Some(0) => " · here".to_owned(),
        Some(m) if m < 1000 => format!(" · {m} m"),
        Some(m) => format!(" · {:.1} km", f64::from(m) / 1000.0),
        None => String::new(),
    }
}

fn tag<T: serde::Serialize>(value: &T) -> String {
    quartier_core::store::rows::tag(value).replace('_', " ")
}

pub struct Out {
    pub json: bool,
}

impl Out {
    fn pick(&self, value: Value, human: impl FnOnce() -> String) -> String {
        if self.json { value.to_string() } else { human() }
    }

    fn list<T>(
        &self,
        rows: &[T],
        to_json: impl Fn(&T) -> Value,
        line: impl Fn(&T) -> String,
        empty: &str,
    ) -> String {
        if self.json {
            return Value::Array(rows.iter().map(to_json).collect()).to_string();
        }
        if rows.is_empty() {
            return empty.to_owned();
        }
        rows.iter().map(line).collect::<Vec<_>>().join("\n")
    }

    pub fn message(&self, text: &str) -> String {
        self.pick(json!({ "message": text }), || text.to_owned())
    }

    pub fn saved(&self, done: &str, applied: &Applied) -> String {
        let created = applied.effects.iter().find_map(|e| match e {
            Effect::Put { entity } => Some(entity.key()),
            Effect::Delete { .. } => None,
        });
        let json = json!({
            "saved": applied.mutation.op.name(),
            "seq": applied.mutation.seq,
            "id": created.as_ref().map(|k| k.id.clone()),
            "kind": created.as_ref().map(|k| k.kind.as_str()),
            "neighbourhood_id": applied.mutation.neighbourhood_id,
            "effects": applied.effects,
        });
        self.pick(json, || {
            let id = applied.mutation_subject().map(|id| format!(" [{}]", short(&id))).unwrap_or_default();
            format!("{done}{id}. Saved on this device; it will be shared at the next sync.")
        })
    }

    pub fn whoami(&self, profile: &Profile, store: &Store) -> String {
        let identity = store.identity();
        let json = json!({
            "profile": profile.name,
            "person_id": identity.person_id,
            "device_id": identity.device_id,
            "database": store.path().display().to_string(),
            "neighbourhood_id": profile.settings.neighbourhood,
        });
        self.pick(json, || {
            format!(
                "profile {}\nperson  {}\ndevice  {}\ndata    {}\nin      {}",
                profile.name,
                identity.person_id,
                identity.device_id,
                store.path().display(),
                profile.settings.neighbourhood.as_deref().unwrap_or("no neighbourhood yet")
            )
        })
    }

    pub fn settings(&self, s: &Settings) -> String {
        self.pick(serde_json::to_value(s).unwrap_or(Value::Null), || {
            format!(
                "UTC offset {:+} min · quiet hours {}-{} · at most {} notifications a day",
                s.utc_offset_minutes,
                show_time(s.quiet_start_min),
                show_time(s.quiet_end_min),
                s.daily_budget
            )
        })
    }

    pub fn invitation(&self, nid: &str, invitation: &NewInvitation) -> String {
        let json = json!({
            "invitation_id": invitation.invitation_id,
            "code": invitation.code,
            "neighbourhood_id": nid,
        });
        self.pick(json, || {
            format!(
                "Invitation [{}] made. Give this code to the person you invite:\n\n    {}\n\nThey join with it once the invitation has reached the server (at your next sync).",
                short(&invitation.invitation_id),
                invitation.code
            )
        })
    }

    pub fn neighbourhoods(&self, list: &[Neighbourhood], current: Option<&str>) -> String {
        self.list(
            list,
            |n| json!({ "neighbourhood": n, "current": Some(n.id.as_str()) == current }),
            |n| {
                format!(
                    "{} {} [{}]",
                    if Some(n.id.as_str()) == current { "*" } else { " " },
                    n.name,
                    short(&n.id)
                )
            },
            "No neighbourhood yet: create one, or join one with an invitation.",
        )
    }

    pub fn member(&self, view: &MemberView) -> String {
        let m = &view.member;
        self.pick(json!({ "member": m, "thanks_received": view.thanks_received }), || {
            let mut text = format!(
                "{} [{}] · {} · thanked {} times",
                m.display_name,
                short(&m.id),
                tag(&m.role),
                view.thanks_received
            );
            if !m.bio.is_empty() {
                text.push_str(&format!("\n  {}", m.bio));
            }
            if !m.skills.is_empty() {
                text.push_str(&format!("\n  skills: {}", m.skills.join(", ")));
            }
            text
        })
    }

    pub fn members(&self, list: &[MemberView]) -> String {
        self.list(
            list,
            |v| json!({ "member": v.member, "thanks_received": v.thanks_received }),
            |v| {
                format!(
                    "{} [{}] · {} · thanked {}",
                    v.member.display_name,
                    short(&v.member.id),
                    tag(&v.member.role),
                    v.thanks_received
                )
            },
            "No members.",
        )
    }

    fn favour_line(v: &FavourView) -> String {
        let f = &v.favour;
        let with = v.counterpart_name.as_deref().map(|n| format!(" · with {n}")).unwrap_or_default();
        format!(
            "[{}] {} · {} · {} · {}\n    by {}{}{}",
            short(&f.id),
            f.title,
            tag(&f.kind),
            f.category,
            tag(&f.status),
            v.author_name,
            with,
            distance(v.distance_m)
        )
    }

    fn favour_json(v: &FavourView) -> Value {
        json!({ "favour": v.favour, "author_name": v.author_name, "counterpart_name": v.counterpart_name, "distance_m": v.distance_m })
    }

    pub fn favours(&self, list: &[FavourView]) -> String {
        self.list(list, Out::favour_json, Out::favour_line, "No favours.")
    }

    pub fn favour(&self, view: &FavourView) -> String {
        self.pick(Out::favour_json(view), || {
            let mut text = Out::favour_line(view);
            if !view.favour.details.is_empty() {
                text.push_str(&format!("\n    {}", view.favour.details));
            }
            if let Some(note) = &view.favour.thanks_note {
                text.push_str(&format!("\n    thanks: {note}"));
            }
            text
        })
    }

    pub fn entity(&self, entity: &Entity) -> String {
        self.pick(serde_json::to_value(entity).unwrap_or(Value::Null), || match entity {
            Entity::Item(i) => format!(
                "[{}] {} · {} · {}{}\n    deposit: {}\n    {}",
                short(&i.id),
                i.title,
                i.category,
                tag(&i.condition),
                if i.withdrawn { " · withdrawn" } else { "" },
                if i.deposit_note.is_empty() { "none" } else { &i.deposit_note },
                i.description
            ),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        })
    }

    pub fn items(&self, list: &[ItemView]) -> String {
        self.list(
            list,
            |v| json!({ "item": v.item, "owner_name": v.owner_name, "distance_m": v.distance_m, "lent_now": v.lent_now }),
            |v| {
                format!(
                    "[{}] {} · {} · {}{}{}\n    lent by {}{}",
                    short(&v.item.id),
                    v.item.title,
                    v.item.category,
                    tag(&v.item.condition),
                    if v.lent_now { " · lent now" } else { "" },
                    if v.item.withdrawn { " · withdrawn" } else { "" },
                    v.owner_name,
                    distance(v.distance_m)
                )
            },
            "No items.",
        )
    }

    pub fn calendar(&self, loans: &[Loan]) -> String {
        self.list(
            loans,
            |l| json!(l),
            |l| format!("{} → {} · {} [{}]", l.first_day, l.last_day, tag(&l.status), short(&l.id)),
            "Free: no approved loan.",
        )
    }

    pub fn loans(&self, list: &[LoanView]) -> String {
        self.list(
            list,
            |v| json!({ "loan": v.loan, "item_title": v.item_title, "owner_name": v.owner_name, "borrower_name": v.borrower_name }),
            |v| {
                let reason = v.loan.decline_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                format!(
                    "[{}] {} · {} → {} · {}{}\n    {} lends to {}",
                    short(&v.loan.id),
                    v.item_title,
                    v.loan.first_day,
                    v.loan.last_day,
                    tag(&v.loan.status),
                    reason,
                    v.owner_name,
                    v.borrower_name
                )
            },
            "No loans.",
        )
    }

    pub fn stalls(&self, list: &[StallView]) -> String {
        self.list(
            list,
            |v| json!({ "stall": v.stall, "owner_name": v.owner_name }),
            |v| {
                let s = &v.stall;
                format!(
                    "[{}] {} · {} · {} {}-{}\n    kept by {}",
                    short(&s.id),
                    s.name,
                    s.market,
                    show_weekdays(&s.days),
                    show_time(s.opens_min),
                    show_time(s.closes_min),
                    v.owner_name
                )
            },
            "No stalls.",
        )
    }

    fn product_line(p: &Product) -> String {
        format!(
            "[{}] {} · {} per {} · {} in stock{}{}{}",
            short(&p.id),
            p.name,
            show_price(p.price_cents),
            p.unit,
            p.stock,
            if p.reserved > 0 { format!(" ({} reserved)", p.reserved) } else { String::new() },
            if p.available_today { " · today" } else { "" },
            if p.removed { " · removed" } else { "" }
        )
    }

    pub fn products(&self, list: &[Product]) -> String {
        self.list(list, |p| json!(p), Out::product_line, "No products.")
    }

    pub fn stall(&self, stall: &Stall, products: &[Product]) -> String {
        self.pick(json!({ "stall": stall, "products": products }), || {
            let mut text = format!(
                "[{}] {} · {} · {} {}-{}",
                short(&stall.id),
                stall.name,
                stall.market,
                show_weekdays(&stall.days),
                show_time(stall.opens_min),
                show_time(stall.closes_min)
            );
            if !stall.place.is_empty() {
                text.push_str(&format!("\n    {}", stall.place));
            }
            for product in products {
                text.push_str(&format!("\n  {}", Out::product_line(product)));
            }
            text
        })
    }

    pub fn orders(&self, list: &[OrderView]) -> String {
        self.list(
            list,
            |v| json!({ "order": v.order, "stall_name": v.stall_name, "customer_name": v.customer_name, "lines": v.lines.iter().map(|l| json!({"product_id": l.product_id, "name": l.name, "unit": l.unit, "quantity": l.quantity, "price_cents": l.price_cents})).collect::<Vec<_>>(), "total_cents": v.total_cents }),
            |v| {
                let lines: Vec<String> = v.lines.iter().map(|l| format!("{} {} {}", l.quantity, l.unit, l.name)).collect();
                let pickup = v.order.pickup_day.map(|d| format!(" · pickup {d}")).unwrap_or_default();
                let reason = v.order.decline_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                format!(
                    "[{}] {} · {}{}{} · {}\n    {} for {}",
                    short(&v.order.id),
                    v.stall_name,
                    tag(&v.order.status),
                    reason,
                    pickup,
                    show_price(v.total_cents),
                    lines.join(", "),
                    v.customer_name
                )
            },
            "No pre-orders.",
        )
    }

    pub fn messages(&self, list: &[MessageView]) -> String {
        self.list(
            list,
            |v| json!({ "message": v.message, "author_name": v.author_name }),
            |v| format!("{}: {}", v.author_name, v.message.body),
            "No messages yet.",
        )
    }

    pub fn search(&self, hits: &[SearchHit]) -> String {
        self.list(
            hits,
            |h| json!({ "kind": h.kind.as_str(), "id": h.id, "title": h.title, "snippet": h.snippet, "category": h.category, "distance_m": h.distance_m }),
            |h| format!("[{}] {} · {}{}", short(&h.id), h.title, h.kind.as_str(), distance(h.distance_m)),
            "Nothing found.",
        )
    }

    pub fn inbox(&self, entries: &[InboxEntry]) -> String {
        self.list(
            entries,
            |e| json!({ "key": e.key, "kind": e.kind.as_str(), "title": e.title, "body": e.body, "subject": e.subject, "at": e.at }),
            |e| format!("• {}\n  {}", e.title, e.body),
            "Nothing new.",
        )
    }

    pub fn link(&self, link: &quartier_core::sync::DeviceLink) -> String {
        let code = link.to_code();
        self.pick(json!({ "link": code, "device_id": link.device_id }), || {
            format!(
                "On your other device, run:\n\n    quartier --profile NEW_PROFILE pair {code}\n\nKeep this code to yourself: it lets a device act as you."
            )
        })
    }

    pub fn devices(&self, devices: &[quartier_core::sync::protocol::AccountDevice]) -> String {
        self.list(
            devices,
            |d| {
                json!({ "device_id": d.device_id, "added_at": d.added_at, "waiting_for_first_call": d.waiting_for_first_call, "this_device": d.this_device })
            },
            |d| {
                let this = if d.this_device { " (this device)" } else { "" };
                let waiting = if d.waiting_for_first_call { " · its link code is not used yet" } else { "" };
                format!("• {}{this}{waiting}", d.device_id)
            },
            "No devices.",
        )
    }

    pub fn joined(&self, joined: &quartier_core::sync::protocol::JoinResponse) -> String {
        let json = json!({ "neighbourhood_id": joined.neighbourhood_id, "neighbourhood_name": joined.neighbourhood_name });
        self.pick(json, || format!("Welcome to {}! You now act in it.", joined.neighbourhood_name))
    }

    pub fn synced(
        &self,
        report: &quartier_core::sync::SyncReport,
        status: &quartier_core::sync::SyncStatus,
    ) -> String {
        let rejected: Vec<Value> = report
            .rejected
            .iter()
            .map(|r| json!({ "seq": r.seq, "name": r.name, "code": r.code, "message": r.message }))
            .collect();
        let json = json!({
            "pushed": report.pushed,
            "pulled": report.pulled,
            "rejected": rejected,
            "complete": report.complete,
            "pending": status.pending,
        });
        self.pick(json, || {
            let mut text = format!("Sent {} change(s), received {}.", report.pushed, report.pulled);
            for r in &report.rejected {
                text.push_str(&format!("\nRefused by the neighbourhood: {}", r.message));
            }
            if !report.complete {
                text.push_str(&format!("\nNot finished ({} still to send): run sync again.", status.pending));
            }
            text
        })
    }

    pub fn outbox(&self, mutations: &[Mutation]) -> String {
        self.list(
            mutations,
            |m| json!(m),
            |m| format!("#{} {} ({})", m.seq, m.op.name(), m.hlc.wall_ms()),
            "Nothing waiting to be sent.",
        )
    }
}

/// The id of the thing a mutation created or acted on, for telling the person.
trait Subject {
    fn mutation_subject(&self) -> Option<String>;
}

impl Subject for Applied {
    fn mutation_subject(&self) -> Option<String> {
        let args = serde_json::to_value(&self.mutation.op).ok()?;
        args.get("args")?.get("id")?.as_str().map(str::to_owned)
    }
}
