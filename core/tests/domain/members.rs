//! Neighbourhoods, invitations, roles, leaving and removal.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;

fn set_role(member: &str, role: Role) -> MemberSetRole {
    MemberSetRole { member_id: member.into(), role }
}

fn invitation(id: &str, code_hash: String, expires_at: i64, max_uses: u32) -> InvitationCreate {
    InvitationCreate { id: id.into(), code_hash, expires_at, max_uses }
}

#[test]
fn the_founder_is_the_first_moderator_and_the_others_are_co_opted() {
    let h = Hood::new();
    let founder = h.member(MONA);
    assert_eq!(
        (founder.role, founder.status, founder.invited_by),
        (Role::Moderator, MemberStatus::Active, None)
    );
    assert_eq!(founder.joined_at, T0);
    let lea = h.member(LEA);
    assert_eq!((lea.role, lea.display_name.as_str()), (Role::Member, "Léa"));
    assert_eq!(lea.invited_by.as_deref(), Some(MONA));
    assert_eq!(h.member(TOM).role, Role::Trader);
    assert_eq!(h.invitation("inv-1").uses, 4);
}

#[test]
fn a_neighbourhood_is_founded_once_with_a_name() {
    let mut h = Hood::new();
    let again = NeighbourhoodCreate {
        name: "Aligre bis".into(),
        description: String::new(),
        cell: None,
        display_name: "Léa".into(),
    };
    h.refuse(LEA, again.clone(), Code::AlreadyExists, &["neighbourhood", NID]);
    h.nid = "belleville".into();
    h.refuse(LEA, NeighbourhoodCreate { name: "  ".into(), ..again.clone() }, Code::Invalid, &["name"]);
    let bad_cell = Some(Cell { row: u32::MAX, col: 0 });
    h.refuse(LEA, NeighbourhoodCreate { cell: bad_cell, ..again.clone() }, Code::Invalid, &["place"]);
    h.refuse(
        LEA,
        NeighbourhoodCreate { description: "\u{0}".into(), ..again.clone() },
        Code::Invalid,
        &["description"],
    );
    h.refuse(
        LEA,
        NeighbourhoodCreate { display_name: String::new(), ..again.clone() },
        Code::Invalid,
        &["display name"],
    );
    h.refuse("lea@home", again, Code::Invalid, &["author id"]);
    h.nid = "not an id!".into();
    h.refuse(LEA, NeighbourhoodEdit { name: "x".into(), description: String::new() }, Code::Invalid, &["id"]);
}

#[test]
fn only_moderators_edit_the_neighbourhood() {
    let mut h = Hood::new();
    let edit = NeighbourhoodEdit { name: "Aligre & Cotte".into(), description: "Around the market.".into() };
    h.refuse(LEA, edit.clone(), Code::Forbidden, &["moderator"]);
    h.refuse(ZED, edit.clone(), Code::NotMember, &["not a member", "invitation"]);
    h.refuse(MONA, NeighbourhoodEdit { name: "\n".into(), ..edit.clone() }, Code::Invalid, &["name"]);
    h.refuse(
        MONA,
        NeighbourhoodEdit { description: "x".repeat(2_001), ..edit.clone() },
        Code::Invalid,
        &["description"],
    );
    h.ok(MONA, edit.clone());
    let Some(Entity::Neighbourhood(n)) = h.get(EntityKind::Neighbourhood, NID) else {
        panic!("no neighbourhood")
    };
    assert_eq!((n.name.as_str(), n.description.as_str()), ("Aligre & Cotte", "Around the market."));
    // A replica that holds the members but not the neighbourhood itself cannot edit it.
    h.state.write(&[Effect::Delete { key: EntityKey::new(NID, EntityKind::Neighbourhood, NID) }]);
    h.refuse(MONA, edit, Code::NotFound, &["The neighbourhood"]);
}

#[test]
fn any_member_invites_with_a_hashed_code_that_expires_within_30_days() {
    let mut h = Hood::new();
    let hash = hash_code("lilac");
    h.ok(LEA, invitation("inv-2", hash.to_ascii_uppercase(), T0 + DAY_MS, 1));
    let stored = h.invitation("inv-2");
    assert_eq!((stored.code_hash.as_str(), stored.created_by.as_str()), (hash.as_str(), LEA));
    assert_eq!((stored.uses, stored.max_uses, stored.revoked), (0, 1, false));

    h.refuse(
        LEA,
        invitation("inv-2", hash.clone(), T0 + DAY_MS, 1),
        Code::AlreadyExists,
        &["invitation", "inv-2"],
    );
    h.refuse(LEA, invitation("inv-3", "lilac".into(), T0 + DAY_MS, 1), Code::Invalid, &["hash", "64"]);
    h.refuse(LEA, invitation("inv-3", "g".repeat(64), T0 + DAY_MS, 1), Code::Invalid, &["hash"]);
    h.refuse(LEA, invitation("inv-3", hash.clone(), T0 - 1, 1), Code::Invalid, &["30 days"]);
    h.refuse(LEA, invitation("inv-3", hash.clone(), T0, 1), Code::Invalid, &["30 days"]);
    h.refuse(LEA, invitation("inv-3", hash.clone(), T0 + 31 * DAY_MS, 1), Code::Invalid, &["30 days"]);
    h.refuse(LEA, invitation("inv-3", hash.clone(), T0 + DAY_MS, 0), Code::Invalid, &["1 to 50", "not 0"]);
    h.refuse(LEA, invitation("inv-3", hash.clone(), T0 + DAY_MS, 51), Code::Invalid, &["1 to 50", "not 51"]);
    h.refuse(LEA, invitation("inv 3", hash.clone(), T0 + DAY_MS, 1), Code::Invalid, &["invitation id"]);
    h.refuse(ZED, invitation("inv-3", hash.clone(), T0 + DAY_MS, 1), Code::NotMember, &["invitation"]);
    h.ok(LEA, invitation("inv-3", hash, T0 + 30 * DAY_MS, 50));
}

#[test]
fn joining_needs_the_right_code_of_a_live_invitation() {
    let mut h = Hood::new();
    h.invite(LEA, "inv-2", "lilac", 1);
    let unusable = Code::InvitationUnusable;
    h.refuse(ZED, join("inv-9", "lilac", "Zed"), unusable, &["does not exist"]);
    h.refuse(ZED, join("inv-2", "lilas", "Zed"), unusable, &["code", "not right"]);
    h.refuse(ZED, join("inv-2", "lilac", " "), Code::Invalid, &["display name"]);
    h.refuse(LEA, join("inv-2", "lilac", "Léa"), Code::AlreadyExists, &["already a member"]);

    // The code is trimmed, like the device trims what the newcomer types.
    h.ok(ZED, join("inv-2", "  lilac ", "Zed"));
    assert_eq!(h.member(ZED).invited_by.as_deref(), Some(LEA));
    assert_eq!(h.invitation("inv-2").uses, 1);
    let r = h.refuse("yann", join("inv-2", "lilac", "Yann"), unusable, &["used up", "new one"]);
    assert!(r.message.starts_with("This invitation"));
}

#[test]
fn joining_again_by_the_same_invitation_changes_nothing() {
    // The newcomer's device asks again when the answer to its join was lost: the membership stands,
    // and the invitation is not used again, though it is used up (or expired, or withdrawn) by now.
    let mut h = Hood::new();
    h.invite(LEA, "inv-2", "lilac", 1);
    h.ok(ZED, join("inv-2", "lilac", "Zed"));
    let (member, invitation) = (h.member(ZED), h.invitation("inv-2"));
    assert_eq!(member.invitation_id.as_deref(), Some("inv-2"));
    assert_eq!(h.ok(ZED, join("inv-2", "lilac", "Zed")), vec![]);
    h.later(31 * DAY_MS);
    assert_eq!(h.ok(ZED, join("inv-2", " LILAC", "Zed again")), vec![]);
    assert_eq!((h.member(ZED), h.invitation("inv-2")), (member, invitation));
    // Only with the right code, and only the invitation they joined by.
    h.refuse(ZED, join("inv-2", "lilas", "Zed"), Code::InvitationUnusable, &["not right"]);
    h.invite(MONA, "inv-3", "lilas", 5);
    h.refuse(ZED, join("inv-3", "lilas", "Zed"), Code::AlreadyExists, &["already a member"]);
    assert_eq!(h.invitation("inv-3").uses, 0);
    // A removed member is refused, whatever invitation they bring.
    h.ok(MONA, MemberRemove { member_id: ZED.into() });
    h.refuse(ZED, join("inv-2", "lilac", "Zed"), Code::InvitationUnusable, &["expired"]);
    h.refuse(ZED, join("inv-3", "lilas", "Zed"), Code::Forbidden, &["removed you", "cannot join"]);
}

#[test]
fn an_expired_invitation_is_judged_by_the_appliers_clock() {
    let mut h = Hood::new();
    h.invite(LEA, "inv-2", "lilac", 5);
    let expires_at = h.invitation("inv-2").expires_at;
    // Made an hour before expiry on the newcomer's phone, but reaching this replica after it.
    h.now = expires_at - HOUR;
    let m = h.mutation(ZED, join("inv-2", "lilac", "Zed"));
    h.now = expires_at;
    h.refuse_m(&m, Code::InvitationUnusable, &["expired", "new one"]);
    h.now = expires_at - 1;
    h.ok_m(&m);
}

#[test]
fn a_withdrawn_invitation_cannot_be_used() {
    let mut h = Hood::new();
    h.invite(LEA, "inv-2", "lilac", 5);
    h.invite(LEA, "inv-3", "lilas", 5);
    let revoke = |id: &str| InvitationRevoke { id: id.into() };
    h.refuse(BOB, revoke("inv-2"), Code::Forbidden, &["made an invitation", "moderator"]);
    h.refuse(BOB, revoke("inv-9"), Code::NotFound, &["invitation"]);
    h.refuse(ZED, revoke("inv-2"), Code::NotMember, &["member"]);
    h.ok(LEA, revoke("inv-2")); // its maker
    h.ok(MONA, revoke("inv-3")); // a moderator
    assert!(h.invitation("inv-2").revoked && h.invitation("inv-3").revoked);
    h.refuse(LEA, revoke("inv-2"), Code::WrongState, &["already withdrawn"]);
    h.refuse(ZED, join("inv-2", "lilac", "Zed"), Code::InvitationUnusable, &["withdrawn", "new one"]);
}

#[test]
fn an_invitation_dies_with_the_membership_of_its_maker() {
    let mut h = Hood::new();
    h.invite(LEA, "inv-2", "lilac", 5);
    h.ok(LEA, MemberLeave {});
    h.refuse(ZED, join("inv-2", "lilac", "Zed"), Code::InvitationUnusable, &["does not exist"]);

    // A replica may still hold the invitation when it learns that its maker left.
    h.invite(BOB, "inv-3", "lilas", 5);
    let kept = h.invitation("inv-3");
    h.ok(MONA, MemberRemove { member_id: BOB.into() });
    h.state.write(&[Effect::Put { entity: Entity::Invitation(kept) }]);
    h.refuse(ZED, join("inv-3", "lilas", "Zed"), Code::InvitationUnusable, &["no longer a member"]);
}

#[test]
fn a_member_who_left_may_come_back_but_a_removed_one_may_not() {
    let mut h = Hood::new();
    h.invite(MONA, "inv-2", "lilac", 5);
    h.ok(LEA, MemberLeave {});
    assert_eq!(h.member(LEA).status, MemberStatus::Left);
    h.refuse(LEA, ask("f1", "Water my plants"), Code::NotMember, &["no longer a member"]);
    h.refuse(LEA, MemberLeave {}, Code::NotMember, &["no longer a member"]);
    h.ok(LEA, join("inv-2", "lilac", "Léa"));
    let back = h.member(LEA);
    assert_eq!(
        (back.status, back.role, back.display_name.as_str()),
        (MemberStatus::Active, Role::Member, "Léa")
    );

    h.ok(MONA, MemberRemove { member_id: BOB.into() });
    assert_eq!(h.member(BOB).status, MemberStatus::Removed);
    h.refuse(BOB, ask("f1", "Water my plants"), Code::NotMember, &["no longer a member"]);
    h.refuse(BOB, join("inv-2", "lilac", "Bob"), Code::Forbidden, &["removed you", "cannot join"]);
    assert_eq!(h.invitation("inv-2").uses, 1);
}

#[test]
fn only_moderators_remove_and_not_themselves() {
    let mut h = Hood::new();
    let remove = |id: &str| MemberRemove { member_id: id.into() };
    h.refuse(LEA, remove(BOB), Code::Forbidden, &["moderator"]);
    h.refuse(MONA, remove(MONA), Code::Forbidden, &["leave"]);
    h.refuse(MONA, remove(ZED), Code::NotFound, &["That member"]);
    h.ok(MONA, remove(BOB));
    h.refuse(MONA, remove(BOB), Code::NotFound, &["That member"]);
    h.ok(LEA, MemberLeave {});
    h.refuse(MONA, remove(LEA), Code::NotFound, &["That member"]);
    // Another moderator can be removed by a moderator.
    h.ok(MONA, set_role(CHLOE, Role::Moderator));
    h.ok(CHLOE, remove(MONA));
    assert_eq!(h.member(MONA).status, MemberStatus::Removed);
}

#[test]
fn moderators_set_roles_but_do_not_step_down_themselves() {
    let mut h = Hood::new();
    h.refuse(LEA, set_role(LEA, Role::Trader), Code::Forbidden, &["moderator"]);
    h.refuse(TOM, set_role(LEA, Role::Trader), Code::Forbidden, &["moderator"]);
    h.refuse(MONA, set_role(ZED, Role::Trader), Code::NotFound, &["That member"]);
    h.refuse(MONA, set_role(MONA, Role::Member), Code::Forbidden, &["step down", "another moderator"]);
    h.refuse(MONA, set_role(MONA, Role::Trader), Code::Forbidden, &["step down"]);
    h.ok(MONA, set_role(MONA, Role::Moderator));
    h.ok(MONA, set_role(LEA, Role::Moderator));
    h.ok(LEA, set_role(MONA, Role::Member)); // a moderator may demote another one
    assert_eq!((h.member(LEA).role, h.member(MONA).role), (Role::Moderator, Role::Member));
    h.refuse(MONA, set_role(BOB, Role::Trader), Code::Forbidden, &["moderator"]);
    h.ok(LEA, set_role(TOM, Role::Member));
    assert_eq!(h.member(TOM).role, Role::Member);
    h.ok(BOB, MemberLeave {});
    h.refuse(LEA, set_role(BOB, Role::Trader), Code::NotFound, &["That member"]);
}

#[test]
fn a_member_rewrites_their_profile_and_the_newest_version_wins() {
    let mut h = Hood::new();
    let profile = |name: &str| MemberUpdateProfile {
        display_name: name.into(),
        bio: "Balcony gardener.".into(),
        skills: vec!["plants".into(), "bikes".into()],
        cell: Some(Cell::from_coordinates(48.849, 2.378).unwrap()),
    };
    let older = h.mutation_on(LEA, "lea-tablet", profile("Léa M."));
    h.later(1_000);
    h.ok(LEA, profile("Léa Martin"));
    assert_eq!(h.ok_m(&older), vec![], "an older profile is ignored");
    let lea = h.member(LEA);
    assert_eq!((lea.display_name.as_str(), lea.skills.len()), ("Léa Martin", 2));
    assert!(lea.cell.is_some());

    let too_many = MemberUpdateProfile { skills: vec!["x".into(); 21], ..profile("Léa") };
    h.refuse(LEA, too_many, Code::Invalid, &["20 skills"]);
    h.refuse(
        LEA,
        MemberUpdateProfile { skills: vec!["a\nb".into()], ..profile("Léa") },
        Code::Invalid,
        &["skill"],
    );
    h.refuse(
        LEA,
        MemberUpdateProfile { bio: "x".repeat(2_001), ..profile("Léa") },
        Code::Invalid,
        &["short text"],
    );
    let off_map = Some(Cell { row: 0, col: u32::MAX });
    h.refuse(LEA, MemberUpdateProfile { cell: off_map, ..profile("Léa") }, Code::Invalid, &["place"]);
    h.refuse(LEA, profile(""), Code::Invalid, &["display name"]);
    h.refuse(ZED, profile("Zed"), Code::NotMember, &["member"]);
}

/// Léa's things, and things of others that touch hers, in Tom's neighbourhood market and beyond.
fn lea_is_everywhere(h: &mut Hood) {
    with_stall(h);
    // Her ask, promised by Bob, with a thread.
    h.ok(LEA, ask("lea-ask", "Water my plants"));
    h.ok(BOB, FavourRef { id: "lea-ask".into() });
    h.ok(LEA, message("m1", ThreadKind::Favour, "lea-ask", "Keys under the mat."));
    h.ok(BOB, message("m2", ThreadKind::Favour, "lea-ask", "Got it."));
    // Her drill, lent to Bob.
    h.ok(LEA, item("lea-drill", "Drill"));
    h.ok(BOB, loan("bob-loan", "lea-drill", 1, 2));
    h.ok(LEA, LoanApprove { id: "bob-loan".into() });
    h.ok(BOB, message("m3", ThreadKind::Loan, "bob-loan", "Thanks!"));
    // Bob's ladder, lent to her.
    h.ok(BOB, item("bob-ladder", "Ladder"));
    h.ok(LEA, loan("lea-loan", "bob-ladder", 1, 2));
    h.ok(BOB, LoanApprove { id: "lea-loan".into() });
    h.ok(BOB, message("m4", ThreadKind::Loan, "lea-loan", "It is in the cellar."));
    // Her pre-orders at Tom's stall: one confirmed (stock reserved), one placed.
    h.ok(LEA, order("lea-order", "stall-1", &[("apples", 3), ("pears", 2)]));
    h.ok(TOM, OrderConfirm { id: "lea-order".into() });
    h.ok(TOM, message("m5", ThreadKind::Order, "lea-order", "Ready on Saturday."));
    h.ok(LEA, order("lea-order-2", "stall-1", &[("apples", 1)]));
    // Chloé's confirmed pre-order.
    h.ok(CHLOE, order("chloe-order", "stall-1", &[("apples", 4)]));
    h.ok(TOM, OrderConfirm { id: "chloe-order".into() });
    // Bob's ask, promised by her.
    h.ok(BOB, ask("bob-ask", "Feed my cat"));
    h.ok(LEA, FavourRef { id: "bob-ask".into() });
    h.ok(LEA, message("m6", ThreadKind::Favour, "bob-ask", "I live at number 12."));
    h.ok(BOB, message("m7", ThreadKind::Favour, "bob-ask", "Perfect."));
    // Chloé's offer taken by Bob, which Léa has nothing to do with.
    h.ok(CHLOE, offer("chloe-offer", "Bike repairs"));
    h.ok(BOB, FavourRef { id: "chloe-offer".into() });
    h.ok(BOB, message("m8", ThreadKind::Favour, "chloe-offer", "Flat tyre."));
    h.invite(LEA, "inv-lea", "lilac", 3);
    assert_eq!(h.product("apples").reserved, 7);
}

#[test]
fn leaving_removes_a_members_content_everywhere() {
    let mut h = Hood::new();
    lea_is_everywhere(&mut h);
    let before = h.state.len();
    h.ok(LEA, MemberLeave {});

    let gone = [
        (EntityKind::Favour, "lea-ask"),
        (EntityKind::Message, "m1"),
        (EntityKind::Message, "m2"),
        (EntityKind::Item, "lea-drill"),
        (EntityKind::Loan, "bob-loan"),
        (EntityKind::Message, "m3"),
        (EntityKind::Loan, "lea-loan"),
        (EntityKind::Message, "m4"),
        (EntityKind::Order, "lea-order"),
        (EntityKind::Order, "lea-order-2"),
        (EntityKind::Message, "m5"),
        (EntityKind::Message, "m6"),
        (EntityKind::Invitation, "inv-lea"),
    ];
    for (kind, id) in gone {
        assert_eq!(h.get(kind, id), None, "{kind:?} {id} survived");
    }
    assert_eq!(h.state.len(), before - gone.len());
    for id in ["bob-ask", "chloe-offer"] {
        h.favour(id);
    }
    h.item("bob-ladder");
    h.order("chloe-order");
    for id in ["m7", "m8"] {
        h.message(id);
    }
    // The stock her confirmed pre-order held is back on Tom's stall; Chloé's still holds hers.
    let (apples, pears) = (h.product("apples"), h.product("pears"));
    assert_eq!((apples.stock, apples.reserved, pears.stock, pears.reserved), (20, 4, 12, 0));
    // Nothing of her profile is left but a tombstone.
    let lea = h.member(LEA);
    assert_eq!(
        (lea.status, lea.display_name.as_str(), lea.bio.as_str()),
        (MemberStatus::Left, "former member", "")
    );
    assert!(lea.skills.is_empty() && lea.cell.is_none());
    crate::properties::assert_invariants(&h.state);
    // Bob's ladder is free again on those days.
    h.ok(CHLOE, loan("chloe-loan", "bob-ladder", 1, 2));
}

#[test]
fn removing_a_trader_removes_their_stall_and_the_pre_orders_at_it() {
    let mut h = Hood::new();
    lea_is_everywhere(&mut h);
    h.ok(MONA, MemberRemove { member_id: TOM.into() });
    for (kind, id) in [
        (EntityKind::Stall, "stall-1"),
        (EntityKind::Product, "apples"),
        (EntityKind::Product, "pears"),
        (EntityKind::Order, "lea-order"),
        (EntityKind::Order, "lea-order-2"),
        (EntityKind::Order, "chloe-order"),
        (EntityKind::Message, "m5"),
    ] {
        assert_eq!(h.get(kind, id), None, "{kind:?} {id} survived");
    }
    h.loan("lea-loan");
    h.favour("lea-ask");
    assert_eq!(h.member(TOM).status, MemberStatus::Removed);
    crate::properties::assert_invariants(&h.state);
    h.refuse(TOM, stall("stall-2", "Tom again"), Code::NotMember, &["no longer a member"]);
}

#[test]
fn leaving_removes_only_the_threads_on_ones_own_things() {
    // Ids are chosen by devices and only unique per kind: Léa's favour may share the id of Bob's loan.
    let mut h = Hood::new();
    h.ok(BOB, item("drill", "Drill"));
    h.ok(CHLOE, loan("shared", "drill", 1, 2));
    h.ok(BOB, message("m1", ThreadKind::Loan, "shared", "Come by at 7."));
    h.ok(CHLOE, message("m2", ThreadKind::Loan, "shared", "Thanks."));
    h.ok(LEA, ask("shared", "Water my plants"));
    h.ok(CHLOE, FavourRef { id: "shared".into() });
    h.ok(CHLOE, message("m3", ThreadKind::Favour, "shared", "On my way."));
    h.ok(LEA, MemberLeave {});
    assert_eq!(h.get(EntityKind::Message, "m3"), None);
    assert_eq!(h.message("m1").author, BOB);
    assert_eq!(h.message("m2").author, CHLOE);
}

#[test]
fn favours_a_leaving_member_had_promised_are_open_again() {
    let mut h = Hood::new();
    h.ok(MONA, ask("f1", "Water my plants"));
    h.ok(LEA, FavourRef { id: "f1".into() });
    h.ok(LEA, MemberLeave {});
    let favour = h.favour("f1");
    assert_eq!((favour.status, favour.counterpart), (FavourStatus::Open, None));
    h.ok(BOB, FavourRef { id: "f1".into() });
}

#[test]
fn a_profile_edit_made_offline_survives_a_later_role_change() {
    let mut h = Hood::new();
    h.later(1_000);
    let edit = h.offline_on(
        TOM,
        "tom-tablet",
        MemberUpdateProfile {
            display_name: "Tom des Vergers".into(),
            bio: String::new(),
            skills: vec![],
            cell: None,
        },
    );
    h.later(1_000);
    h.ok(MONA, MemberSetRole { member_id: TOM.into(), role: Role::Moderator });
    h.ok_m(&edit);
    let tom = h.member(TOM);
    assert_eq!((tom.display_name.as_str(), tom.role), ("Tom des Vergers", Role::Moderator));
}
