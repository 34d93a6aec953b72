//! Neighbourhoods, invitations and members: who belongs, and by whose trust.
//!
//! A neighbourhood is founded by one person, its first moderator. Everyone else joins by redeeming an
//! invitation made by a member (co-optation), and is recorded as invited by them. Moderators set roles
//! and remove members; anyone may leave. Leaving or removal deletes the member's content everywhere.

use super::mutation::{
    InvitationCreate, InvitationRevoke, MemberJoin, MemberRemove, MemberSetRole, MemberUpdateProfile,
    NeighbourhoodCreate, NeighbourhoodEdit,
};
use super::validate::{self, MAX_NAME, MAX_SKILLS, MAX_SLUG, MAX_TEXT, MAX_TITLE};
use super::*;
use sha2::{Digest, Sha256};

/// The longest an invitation may stay valid: 30 days.
pub const MAX_INVITATION_MS: i64 = 30 * 24 * 3_600_000;
pub const MAX_INVITATION_USES: u32 = 50;

/// Reads a code as typed by a person: case, spaces and dashes do not matter, and the letters that look
/// like digits are read as those digits.
pub fn normalise_code(typed: &str) -> String {
    let chars: Vec<char> = typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    chars.chunks(4).map(|chunk| chunk.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// The hash under which an invitation code is stored and compared (of the code as normalised above).
pub fn hash_code(code: &str) -> String {
    let digest = Sha256::digest(normalise_code(code).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn moderator(ctx: &Ctx<'_>) -> Result<Member, ApplyError> {
    let actor = ctx.actor()?;
    if actor.role != Role::Moderator {
        return Err(Rejection::forbidden("Only a moderator of the neighbourhood can do this.").into());
    }
    Ok(actor)
}

fn new_member(ctx: &Ctx<'_>, display_name: String, role: Role, invited_by: Option<&Invitation>) -> Member {
    Member {
        neighbourhood_id: ctx.nid().to_owned(),
        id: ctx.m.author.clone(),
        display_name,
        bio: String::new(),
        skills: Vec::new(),
        cell: None,
        role,
        status: MemberStatus::Active,
        invited_by: invited_by.map(|invitation| invitation.created_by.clone()),
        invitation_id: invited_by.map(|invitation| invitation.id.clone()),
        joined_at: ctx.at(),
        profile_hlc: ctx.m.hlc,
        updated: ctx.m.hlc,
    }
}

pub(super) fn create_neighbourhood(ctx: &Ctx<'_>, a: &NeighbourhoodCreate) -> Outcome {
    ctx.fresh_id(EntityKind::Neighbourhood, ctx.nid())?;
    let name = validate::required_line("neighbourhood name", &a.name, MAX_TITLE)?;
    let description = validate::free_text("description", &a.description, MAX_TEXT)?;
    let display_name = validate::required_line("display name", &a.display_name, MAX_NAME)?;
    validate::cell(a.cell)?;
    let neighbourhood = Neighbourhood {
        id: ctx.nid().to_owned(),
        name,
        description,
        cell: a.cell,
        created_by: ctx.m.author.clone(),
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    };
    Ok(vec![put(neighbourhood), put(new_member(ctx, display_name, Role::Moderator, None))])
}

pub(super) fn edit_neighbourhood(ctx: &Ctx<'_>, a: &NeighbourhoodEdit) -> Outcome {
    moderator(ctx)?;
    let mut neighbourhood = ctx.neighbourhood_entity(ctx.nid())?;
    neighbourhood.name = validate::required_line("neighbourhood name", &a.name, MAX_TITLE)?;
    neighbourhood.description = validate::free_text("description", &a.description, MAX_TEXT)?;
    neighbourhood.updated = ctx.m.hlc;
    Ok(vec![put(neighbourhood)])
}

pub(super) fn create_invitation(ctx: &Ctx<'_>, a: &InvitationCreate) -> Outcome {
    ctx.actor()?;
    ctx.fresh_id(EntityKind::Invitation, &a.id)?;
    let is_hex_sha256 = a.code_hash.len() == 64 && a.code_hash.chars().all(|c| c.is_ascii_hexdigit());
    if !is_hex_sha256 {
        return Err(
            Rejection::invalid("The invitation code hash must be 64 hexadecimal digits (SHA-256).").into()
        );
    }
    let lifetime = a.expires_at.saturating_sub(ctx.at());
    if lifetime <= 0 || lifetime > MAX_INVITATION_MS {
        return Err(Rejection::invalid("An invitation must expire within the next 30 days.").into());
    }
    if !(1..=MAX_INVITATION_USES).contains(&a.max_uses) {
        return Err(Rejection::invalid(format!(
            "An invitation can be used from 1 to {MAX_INVITATION_USES} times, not {}.",
            a.max_uses
        ))
        .into());
    }
    Ok(vec![put(Invitation {
        neighbourhood_id: ctx.nid().to_owned(),
        id: a.id.clone(),
        created_by: ctx.m.author.clone(),
        code_hash: a.code_hash.to_ascii_lowercase(),
        expires_at: a.expires_at,
        max_uses: a.max_uses,
        uses: 0,
        revoked: false,
        created_at: ctx.at(),
        updated: ctx.m.hlc,
    })])
}

pub(super) fn revoke_invitation(ctx: &Ctx<'_>, a: &InvitationRevoke) -> Outcome {
    let actor = ctx.actor()?;
    let mut invitation = ctx.invitation(&a.id)?;
    if !ctx.is_author(&invitation.created_by) && actor.role != Role::Moderator {
        return Err(Rejection::forbidden(
            "Only the member who made an invitation, or a moderator, can withdraw it.",
        )
        .into());
    }
    if invitation.revoked {
        return Err(Rejection::wrong_state("This invitation was already withdrawn.").into());
    }
    invitation.revoked = true;
    invitation.updated = ctx.m.hlc;
    Ok(vec![put(invitation)])
}

pub(super) fn join(ctx: &Ctx<'_>, a: &MemberJoin) -> Outcome {
    let unusable = |why: &str| -> ApplyError { Rejection::new(Code::InvitationUnusable, why).into() };
    let mut invitation =
        ctx.invitation(&a.invitation_id).map_err(|_| unusable("This invitation does not exist."))?;
    if hash_code(&a.code) != invitation.code_hash {
        return Err(unusable("This invitation code is not right; check it with the neighbour who gave it."));
    }
    // The same join again (its answer was lost on the way and the device asks again): the membership
    // it made stands, and the invitation is not used again, even if it has run out or expired since.
    if let Some(member) = ctx.member(&ctx.m.author)?
        && member.status == MemberStatus::Active
        && member.invitation_id.as_deref() == Some(invitation.id.as_str())
    {
        return Ok(vec![]);
    }
    if invitation.revoked {
        return Err(unusable("This invitation was withdrawn; ask a neighbour for a new one."));
    }
    if ctx.now_ms >= invitation.expires_at {
        return Err(unusable("This invitation has expired; ask a neighbour for a new one."));
    }
    if invitation.uses >= invitation.max_uses {
        return Err(unusable("This invitation has been used up; ask a neighbour for a new one."));
    }
    let display_name = validate::required_line("display name", &a.display_name, MAX_NAME)?;
    match ctx.member(&ctx.m.author)? {
        Some(member) if member.status == MemberStatus::Active => {
            return Err(Rejection::new(
                Code::AlreadyExists,
                "You are already a member of this neighbourhood.",
            )
            .into());
        }
        Some(member) if member.status == MemberStatus::Removed => {
            return Err(Rejection::forbidden(
                "A moderator removed you from this neighbourhood; you cannot join it again.",
            )
            .into());
        }
        _ => {}
    }
    // Co-optation: the inviter vouches for the newcomer, so they must still be a member themselves.
    ctx.active_member(&invitation.created_by)
        .map_err(|_| unusable("The neighbour who made this invitation is no longer a member."))?;
    invitation.uses += 1;
    invitation.updated = ctx.m.hlc;
    let member = new_member(ctx, display_name, Role::Member, Some(&invitation));
    Ok(vec![put(invitation), put(member)])
}

pub(super) fn update_profile(ctx: &Ctx<'_>, a: &MemberUpdateProfile) -> Outcome {
    let mut member = ctx.actor()?;
    if member.profile_hlc > ctx.m.hlc {
        return Ok(vec![]); // a newer version of the profile already won
    }
    if a.skills.len() > MAX_SKILLS {
        return Err(Rejection::invalid(format!("A profile lists at most {MAX_SKILLS} skills.")).into());
    }
    member.display_name = validate::required_line("display name", &a.display_name, MAX_NAME)?;
    member.bio = validate::free_text("short text", &a.bio, MAX_TEXT)?;
    member.skills = a
        .skills
        .iter()
        .map(|skill| validate::required_line("skill", skill, MAX_SLUG))
        .collect::<Result<_, _>>()?;
    validate::cell(a.cell)?;
    member.cell = a.cell;
    member.profile_hlc = ctx.m.hlc;
    member.updated = member.updated.max(ctx.m.hlc);
    Ok(vec![put(member)])
}

pub(super) fn set_role(ctx: &Ctx<'_>, a: &MemberSetRole) -> Outcome {
    moderator(ctx)?;
    let mut member = ctx.active_member(&a.member_id)?;
    if ctx.is_author(&member.id) && a.role != Role::Moderator {
        return Err(
            Rejection::forbidden("A moderator cannot step down themselves; ask another moderator.").into()
        );
    }
    member.role = a.role;
    member.updated = member.updated.max(ctx.m.hlc);
    Ok(vec![put(member)])
}

/// The member's content, removed, and the member kept as a tombstone with their new status.
fn depart(ctx: &Ctx<'_>, mut member: Member, status: MemberStatus) -> Outcome {
    let keys = ctx.view.keys_of_member(ctx.nid(), &member.id)?;
    let mut effects = Vec::with_capacity(keys.len() + 1);
    // Pre-orders of theirs at other stalls held stock: give it back to those stalls.
    let mut released: std::collections::BTreeMap<Id, Product> = Default::default();
    for key in keys.iter().filter(|key| key.kind == EntityKind::Order) {
        let order = ctx.order(&key.id)?;
        if !order.status.reserves_stock() || order.trader == member.id {
            continue;
        }
        for line in &order.lines {
            if !released.contains_key(&line.product_id) {
                let Ok(product) = ctx.product(&line.product_id) else { continue };
                released.insert(line.product_id.clone(), product);
            }
            if let Some(product) = released.get_mut(&line.product_id) {
                product.reserved = (product.reserved - line.quantity).max(0);
                product.updated = product.updated.max(ctx.m.hlc);
            }
        }
    }
    effects.extend(released.into_values().map(put));
    // Favours they promised are open again for someone else.
    for mut favour in ctx.view.favours_taken_up_by(ctx.nid(), &member.id)? {
        favour.status = FavourStatus::Open;
        favour.counterpart = None;
        favour.updated = favour.updated.max(ctx.m.hlc);
        effects.push(put(favour));
    }
    effects.extend(keys.into_iter().map(|key| Effect::Delete { key }));
    member.status = status;
    member.display_name = String::from("former member");
    member.bio.clear();
    member.skills.clear();
    member.cell = None;
    member.updated = ctx.m.hlc;
    effects.push(put(member));
    Ok(effects)
}

pub(super) fn leave(ctx: &Ctx<'_>) -> Outcome {
    let member = ctx.actor()?;
    depart(ctx, member, MemberStatus::Left)
}

pub(super) fn remove(ctx: &Ctx<'_>, a: &MemberRemove) -> Outcome {
    moderator(ctx)?;
    if ctx.is_author(&a.member_id) {
        return Err(Rejection::forbidden("To leave the neighbourhood yourself, use leave.").into());
    }
    let member = ctx.active_member(&a.member_id)?;
    depart(ctx, member, MemberStatus::Removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_people_type_them() {
        assert_eq!(normalise_code("k7qx 2m9d hT4R-b8wz"), "K7QX-2M9D-HT4R-B8WZ");
        assert_eq!(normalise_code("O1LI"), "0111");
        assert_eq!(hash_code("k7qx2m9dht4rb8wz"), hash_code("K7QX-2M9D-HT4R-B8WZ"));
        assert_ne!(hash_code("K7QX-2M9D-HT4R-B8WZ"), hash_code("K7QX-2M9D-HT4R-B8WY"));
    }
}
