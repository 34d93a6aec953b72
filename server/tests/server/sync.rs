//! Register, push, pull and join, through HTTP, as devices do.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::protocol::*;
use reqwest::StatusCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

async fn a_device_registers_once_and_its_token_works(db: Db) {
    let server = TestServer::start(db).await;
    let phone = server.register("mona").await;
    assert_eq!(phone.token.len(), 64, "32 random bytes in hex");

    // The same device, or another device of the same person, cannot register anew (a registered
    // device adds it: /v1/devices).
    for (device, person) in [("mona-phone", "someone-else"), ("mona-tablet", "mona")] {
        let response = server
            .http
            .post(server.url("/v1/register"))
            .json(&RegisterRequest { device_id: device.into(), person_id: person.into(), token: None })
            .send()
            .await
            .unwrap();
        let message = expect_error(response, StatusCode::CONFLICT, "conflict").await;
        assert!(message.contains("registered"), "{message}");
    }

    // A malformed id is refused with the rules' sentence.
    let response = server
        .http
        .post(server.url("/v1/register"))
        .json(&RegisterRequest { device_id: "a phone".into(), person_id: "zoe".into(), token: None })
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("device id"), "{message}");

    // The token is stored as a hash only.
    let stored = blocking(|| server.database.stored_bytes());
    let hash = quartier_server::sync::devices::token_hash(&phone.token);
    assert!(stored.windows(64).any(|w| w == hash.as_bytes()), "the hash is what is stored");
    assert!(!stored.windows(64).any(|w| w == phone.token.as_bytes()), "the token is in the database");
}

async fn a_registered_device_adds_another_device_of_its_person(db: Db) {
    let server = TestServer::start(db).await;
    let mut phone = server.register("tom").await;
    let add = |token: Option<&str>, device: &str| {
        let request =
            server.http.post(server.url("/v1/devices")).json(&AddDeviceRequest { device_id: device.into() });
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    expect_error(add(None, "tom-tablet").send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized")
        .await;
    let response = add(Some(&phone.token), "tom-tablet").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: RegisterResponse = response.json().await.unwrap();
    assert_eq!((added.person_id.as_str(), added.device_id.as_str()), ("tom", "tom-tablet"));
    assert_ne!(added.token, phone.token);
    // The tablet acts as Tom, with its own numbering, in the neighbourhood the phone founded.
    let founding = phone.mutation("aligre", found("Aligre", "Tom"));
    server.push_ok(&phone, &[founding]).await;
    let mut tablet = Phone::new("tom", "tom-tablet", &added.token);
    let post = tablet.mutation("aligre", ask("f1", "Water my plants"));
    let results = server.push_ok(&tablet, &[post]).await;
    assert_eq!(results[0].outcome, Outcome::Applied);
    assert!(server.replica(&phone, "aligre").await.has(EntityKind::Favour, "f1"));
    // A device id is registered once, whoever asks; a malformed one is refused.
    let again = add(Some(&phone.token), "tom-tablet").send().await.unwrap();
    expect_error(again, StatusCode::CONFLICT, "conflict").await;
    let taken = add(Some(&phone.token), "tom-phone").send().await.unwrap();
    expect_error(taken, StatusCode::CONFLICT, "conflict").await;
    let bad = add(Some(&added.token), "a tablet").send().await.unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "bad_request").await;
}

/// A device added with a link code must make its first call within 15 minutes: after that its token is
/// refused, with a sentence that says what to do. One that called in time keeps working, and so does a
/// device that registered itself, whatever the time.
async fn a_linked_device_must_make_its_first_call_in_time(db: Db) {
    let (server_now, server) = server_with_clock!(db);
    let mut phone = server.register("tom").await;
    server.act(&mut phone, "aligre", found("Aligre", "Tom")).await;
    let tablet = server.link(&phone, "tom-tablet").await;
    let laptop = server.link(&phone, "tom-laptop").await;

    server_now.fetch_add(10 * 60_000, Ordering::SeqCst);
    assert_eq!(server.pull(&tablet, "aligre", 0, None).await.status(), StatusCode::OK, "in time");
    server_now.fetch_add(10 * 60_000, Ordering::SeqCst);
    let late = server.pull(&laptop, "aligre", 0, None).await;
    let message = expect_error(late, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("expired") && message.contains("new link code"), "{message}");

    server_now.fetch_add(24 * 3_600_000, Ordering::SeqCst);
    for device in [&tablet, &phone] {
        assert_eq!(
            server.pull(device, "aligre", 0, None).await.status(),
            StatusCode::OK,
            "{}",
            device.device
        );
    }
}

/// A person sees their devices and takes a lost one off the account from another: its token is
/// refused from then on, with a sentence that says why. Not the last device of an account, not
/// another person's, not one already taken off.
async fn a_lost_device_is_taken_off_its_account_from_another(db: Db) {
    let server = TestServer::start(db).await;
    let mut phone = server.register("tom").await;
    server.act(&mut phone, "aligre", found("Aligre", "Tom")).await;
    let tablet = server.link(&phone, "tom-tablet").await;
    let devices = |by: &Phone| {
        let request = server.http.get(server.url("/v1/devices")).bearer_auth(&by.token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let listed: DevicesResponse = response.json().await.unwrap();
            listed
                .devices
                .into_iter()
                .map(|d| (d.device_id, d.waiting_for_first_call, d.this_device))
                .collect::<Vec<_>>()
        }
    };
    let remove = |by: &Phone, id: &str| {
        server.http.delete(server.url(&format!("/v1/devices/{id}"))).bearer_auth(&by.token).send()
    };
    assert_eq!(
        devices(&phone).await,
        [("tom-phone".to_owned(), false, true), ("tom-tablet".to_owned(), true, false)]
    );
    // Another person's device, or one that does not exist: not found.
    let mona = server.register("mona").await;
    expect_error(remove(&mona, "tom-tablet").await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    expect_error(remove(&phone, "nobody").await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;

    // The phone is lost: the tablet takes it off.
    assert_eq!(server.pull(&tablet, "aligre", 0, None).await.status(), StatusCode::OK);
    assert_eq!(remove(&tablet, "tom-phone").await.unwrap().status(), StatusCode::NO_CONTENT);
    let refused = server.pull(&phone, "aligre", 0, None).await;
    let message = expect_error(refused, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(message.contains("taken off its account"), "{message}");
    let pushed = server.push(&phone, &[phone.clone().mutation("aligre", ask("f-thief", "Help"))]).await;
    expect_error(pushed, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(devices(&tablet).await, [("tom-tablet".to_owned(), false, true)]);
    expect_error(remove(&tablet, "tom-phone").await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
    // The last device of the account stays.
    let last =
        expect_error(remove(&tablet, "tom-tablet").await.unwrap(), StatusCode::CONFLICT, "conflict").await;
    assert!(last.contains("last device"), "{last}");
    let mut tablet = tablet;
    server.act(&mut tablet, "aligre", ask("f-tablet", "Still here")).await;
}

async fn calls_without_a_known_token_are_unauthorized(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let m = mona.mutation("aligre", found("Aligre", "Mona"));
    let body = PushRequest { mutations: vec![m] };
    let push = || server.http.post(server.url("/v1/push")).json(&body);
    expect_error(push().send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthorized").await;
    expect_error(
        push().bearer_auth("0".repeat(64)).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    let basic = push().header("authorization", format!("Basic {}", mona.token)).send().await.unwrap();
    expect_error(basic, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let pull = server.http.get(server.url("/v1/neighbourhoods/aligre/pull")).send().await.unwrap();
    expect_error(pull, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The scheme is case-insensitive; the real token works.
    let ok = push().header("authorization", format!("bearer {}", mona.token)).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

async fn pushed_mutations_are_pulled_back(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let create = mona.mutation("aligre", found("Aligre", "Mona"));
    let post = mona.mutation("aligre", ask("f-plants", "Water my plants"));
    let results = server.push_ok(&mona, &[create.clone(), post.clone()]).await;
    assert_eq!(
        results,
        vec![
            MutationResult { seq: 1, outcome: Outcome::Applied },
            MutationResult { seq: 2, outcome: Outcome::Applied }
        ]
    );

    let page = server.pull_page(&mona, "aligre", 0, None).await;
    assert_eq!((page.cursor, page.checkpoint, page.more), (2, 2, false));
    // The state is what the rules make of the same mutations.
    let mut expected = MemoryState::new();
    expected.apply(&create, now_ms()).unwrap();
    expected.apply(&post, now_ms()).unwrap();
    let mut replica = Replica::new("aligre");
    replica.apply(&page);
    assert_eq!(
        replica.entities.values().cloned().collect::<Vec<_>>(),
        expected.entities().cloned().collect::<Vec<_>>()
    );
    // Versions: the neighbourhood and its founder at 1, the favour at 2.
    let mut versions: Vec<(u64, EntityKind)> =
        page.changes.iter().map(|c| (c.version, c.effect.key().kind)).collect();
    versions.sort();
    assert_eq!(
        versions,
        vec![(1, EntityKind::Neighbourhood), (1, EntityKind::Member), (2, EntityKind::Favour)]
    );

    // Nothing new after the cursor.
    let empty = server.pull_page(&mona, "aligre", 2, None).await;
    assert_eq!((empty.changes.len(), empty.cursor, empty.more), (0, 2, false));
}

async fn a_retried_push_is_not_applied_twice(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let batch = vec![
        mona.mutation("aligre", found("Aligre", "Mona")),
        mona.mutation("aligre", ask("f-1", "Water my plants")),
        // Refused: the id is taken.
        mona.mutation("aligre", ask("f-1", "Feed my cat")),
    ];
    let first = server.push_ok(&mona, &batch).await;
    assert!(matches!(first[2].outcome, Outcome::Rejected { code: Code::AlreadyExists, .. }), "{first:?}");
    let before = server.pull_page(&mona, "aligre", 0, None).await;

    // The answer was lost: the device pushes the same batch again, and once more with a new one.
    let again = server.push_ok(&mona, &batch).await;
    assert_eq!(again, first, "the first outcomes, again");
    let next = mona.mutation("aligre", ask("f-2", "Feed my cat"));
    let mut longer = batch.clone();
    longer.push(next);
    let third = server.push_ok(&mona, &longer).await;
    assert_eq!(&third[..3], &first[..]);
    assert_eq!(third[3].outcome, Outcome::Applied);

    let after = server.pull_page(&mona, "aligre", 0, None).await;
    assert_eq!(after.checkpoint, before.checkpoint + 1, "only the new mutation made a version");
    let favour = after.changes.iter().find(|c| c.effect.key().id == "f-1").unwrap();
    assert_eq!(favour.version, 2, "f-1 was written once");
    match &favour.effect {
        Effect::Put { entity: Entity::Favour(f) } => assert_eq!(f.title, "Water my plants"),
        other => panic!("{other:?}"),
    }
    let metrics = server.metrics().await;
    assert!(metrics.contains(r#"quartier_push_mutations_total{outcome="duplicate"} 6"#), "{metrics}");
}

async fn a_rejection_carries_the_rules_sentence_and_does_not_block_the_next_mutation(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut lea, mut bob) = (h.lea, h.bob);
    server.act(&mut lea, &h.nid, ask("f-plants", "Water my plants")).await;
    server.act(&mut bob, &h.nid, FavourRef { id: "f-plants".into() }).await;

    // Léa's phone, offline, queued three mutations; the middle one cannot stand.
    let batch = vec![
        lea.mutation(&h.nid, ask("f-cat", "Feed my cat")),
        lea.mutation(&h.nid, FavourRef { id: "f-plants".into() }),
        lea.mutation(&h.nid, ask("f-bike", "Fix my bike")),
    ];
    // What the rules say, on a replica that has what the server has.
    let mut expected = MemoryState::new();
    let replica = server.replica(&h.mona, &h.nid).await;
    expected.write(&replica.entities.values().map(|e| Effect::Put { entity: e.clone() }).collect::<Vec<_>>());
    let rejection =
        match domain_apply(&mut expected, &batch[0]).and_then(|_| domain_apply(&mut expected, &batch[1])) {
            Err(ApplyError::Rejected(r)) => r,
            other => panic!("expected a rejection: {other:?}"),
        };
    assert_eq!(rejection.code, Code::Forbidden);

    let results = server.push_ok(&lea, &batch).await;
    assert_eq!(results[0].outcome, Outcome::Applied);
    assert_eq!(
        results[1].outcome,
        Outcome::Rejected { code: rejection.code, message: rejection.message.clone() }
    );
    assert_eq!(results[2].outcome, Outcome::Applied, "the mutation behind a rejection is applied");
    assert!(rejection.message.contains("own favour"), "{}", rejection.message);

    let replica = server.replica(&lea, &h.nid).await;
    assert!(replica.has(EntityKind::Favour, "f-cat") && replica.has(EntityKind::Favour, "f-bike"));
}

fn domain_apply(state: &mut MemoryState, m: &Mutation) -> Result<Vec<Effect>, ApplyError> {
    state.apply(m, now_ms())
}

async fn a_gap_in_sequence_numbers_stops_the_push_and_names_the_expected_seq(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let one = mona.mutation("aligre", found("Aligre", "Mona"));
    let two = mona.mutation("aligre", ask("f-2", "Two"));
    let three = mona.mutation("aligre", ask("f-3", "Three"));
    let four = mona.mutation("aligre", ask("f-4", "Four"));

    // 1 is applied, then 3 comes without 2: the answer has 1's outcome, and where the gap is.
    let response = server.push(&mona, &[one.clone(), three.clone()]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, "seq_gap");
    assert!(body.error.message.contains("up to seq 1") && body.error.message.contains("seq 2"), "{body:?}");
    assert_eq!(
        body.gap,
        Some(SeqGap {
            expected: 2,
            found: 3,
            results: vec![MutationResult { seq: 1, outcome: Outcome::Applied }]
        })
    );
    // A push that starts at the gap has nothing answered before it.
    let body: ErrorBody = server.push(&mona, std::slice::from_ref(&four)).await.json().await.unwrap();
    assert_eq!(body.gap, Some(SeqGap { expected: 2, found: 4, results: vec![] }));
    let page = server.pull_page(&mona, "aligre", 0, None).await;
    assert_eq!(page.checkpoint, 1, "the mutation before the gap was applied, nothing after it");

    // From seq 2 on, everything goes through; 1 is answered again.
    let results = server.push_ok(&mona, &[one, two, three, four.clone()]).await;
    assert!(results.iter().all(|r| r.outcome == Outcome::Applied), "{results:?}");
    let page = server.pull_page(&mona, "aligre", 0, None).await;
    assert_eq!(page.checkpoint, 4);

    // Seq 0 is not a pushed mutation.
    let mut zero = four;
    zero.seq = 0;
    let message =
        expect_error(server.push(&mona, &[zero]).await, StatusCode::BAD_REQUEST, "bad_request").await;
    assert!(message.contains("seq"), "{message}");
}

/// A device whose numbers went back (restored from an older backup) pushes a new mutation under a
/// number already answered: it is not answered with the other mutation's outcome (which would lose it
/// silently) but refused with `409 seq_reused`; the mutation that was answered, pushed again, still is.
async fn a_number_answered_for_another_mutation_is_not_answered_again(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    let one = mona.mutation("aligre", found("Aligre", "Mona"));
    let two = mona.mutation("aligre", ask("f-2", "Two"));
    server.push_ok(&mona, &[one.clone(), two.clone()]).await;
    // Restored: the phone numbers its next mutation 2 again.
    mona.seq = 1;
    let other_two = mona.mutation("aligre", ask("f-other", "Another"));
    assert_eq!(other_two.seq, 2);
    let response = server.push(&mona, &[one.clone(), other_two.clone()]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(body.error.code, "seq_reused");
    assert!(body.error.message.contains("seq 2 was answered already"), "{body:?}");
    assert_eq!(
        body.gap,
        Some(SeqGap {
            expected: 3,
            found: 2,
            results: vec![MutationResult { seq: 1, outcome: Outcome::Applied }]
        })
    );
    let alone: ErrorBody = server.push(&mona, std::slice::from_ref(&other_two)).await.json().await.unwrap();
    assert_eq!(alone.gap, Some(SeqGap { expected: 3, found: 2, results: vec![] }));
    // Nothing of it was applied; the real seq 2, pushed again, is answered again.
    let page = server.pull_page(&mona, "aligre", 0, None).await;
    assert_eq!(page.checkpoint, 2);
    let results = server.push_ok(&mona, &[one, two]).await;
    assert!(results.iter().all(|r| r.outcome == Outcome::Applied), "{results:?}");
    let replica = server.replica(&mona, "aligre").await;
    assert!(replica.has(EntityKind::Favour, "f-2") && !replica.has(EntityKind::Favour, "f-other"));
}

/// The answers a device says it has stored (`?stored_up_to=N`) are forgotten once a day old, never
/// beyond what the server answered; a mutation pushed again under a forgotten number is `seq_reused`.
async fn answers_the_device_has_stored_are_forgotten_after_a_day(db: Db) {
    let (server_now, server) = server_with_clock!(db);
    let mut mona = server.register("mona").await;
    let mut pushed = vec![mona.mutation("aligre", found("Aligre", "Mona"))];
    pushed.extend((2..=3).map(|i| mona.mutation("aligre", ask(&format!("f-{i}"), "Help"))));
    server.push_ok(&mona, &pushed).await;
    let device = mona.device.clone();
    let kept = || {
        let device = device.clone();
        server.read(move |tx| {
            (1..=6).map(|seq| Ok(tx.outcome(&device, seq)?.is_some())).collect::<Result<Vec<_>, _>>()
        })
    };
    // Stored, but answered less than a day ago: kept.
    let m = mona.mutation("aligre", ask("f-4", "Help"));
    push_saying(&server, &mona, 3, m).await;
    assert_eq!(kept(), [true, true, true, true, false, false]);
    // A day later: forgotten up to the number the device said, not beyond.
    server_now.fetch_add(quartier_server::sync::push::OUTCOMES_KEPT_MS + 1, Ordering::SeqCst);
    let m = mona.mutation("aligre", ask("f-5", "Help"));
    push_saying(&server, &mona, 3, m).await;
    assert_eq!(kept(), [false, false, false, true, true, false]);
    // A device that says more than the server answered: up to what it answered.
    server_now.fetch_add(quartier_server::sync::push::OUTCOMES_KEPT_MS + 1, Ordering::SeqCst);
    let m = mona.mutation("aligre", ask("f-6", "Help"));
    push_saying(&server, &mona, 99, m).await;
    assert_eq!(kept(), [false, false, false, false, false, true]);
    // The real seq 2 again, as a device restored from an old backup would push it: not applied again.
    let response = server.push(&mona, &pushed[1..2]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: ErrorBody = response.json().await.unwrap();
    assert_eq!(
        (body.error.code.as_str(), body.gap.map(|g| (g.expected, g.found))),
        ("seq_reused", Some((7, 2)))
    );
}

/// Pushes `m`, saying the phone has stored its answers up to `up_to`: it must be answered.
async fn push_saying(server: &TestServer, phone: &Phone, up_to: u64, m: Mutation) {
    let response = server.push_at(phone, &format!("/v1/push?stored_up_to={up_to}"), &[m]).await;
    let status = response.status();
    assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
}

async fn a_newcomer_joins_with_a_code_and_pulls_the_neighbourhood(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    server.act(&mut mona, "aligre", found("Aligre", "Mona")).await;
    server.act(&mut mona, "aligre", ask("f-plants", "Water my plants")).await;
    // Mona's device drew a code and sent only its hash, for one newcomer.
    server.act(&mut mona, "aligre", invitation("inv-1", "K7QX-2M9D-HT4R-B8WZ", 1)).await;

    let zoe = server.register("zoe").await;
    // Typed the way people type codes.
    let joined = server.join(&zoe, "k7qx 2m9d ht4r b8wz", "Zoé").await;
    assert_eq!(
        joined,
        JoinResponse { neighbourhood_id: "aligre".into(), neighbourhood_name: "Aligre".into() }
    );

    let replica = server.replica(&zoe, "aligre").await;
    let member = replica.member("zoe");
    assert_eq!(
        (member.display_name.as_str(), member.role, member.status),
        ("Zoé", Role::Member, MemberStatus::Active)
    );
    assert_eq!(member.invited_by.as_deref(), Some("mona"));
    assert!(replica.has(EntityKind::Favour, "f-plants"));
    match replica.get(EntityKind::Invitation, "inv-1") {
        Some(Entity::Invitation(i)) => assert_eq!(i.uses, 1),
        other => panic!("{other:?}"),
    }
    // The founder sees the newcomer too, and the join is one version.
    let mona_view = server.replica(&mona, "aligre").await;
    assert_eq!(mona_view.entities, replica.entities);
    assert_eq!(mona_view.seen[&EntityKey::new("aligre", EntityKind::Member, "zoe")].0, 4);

    // The invitation was for one person.
    let yann = server.register("yann").await;
    let message = expect_error(
        server.join_raw(&yann, "K7QX-2M9D-HT4R-B8WZ", "Yann").await,
        StatusCode::CONFLICT,
        "invitation_unusable",
    )
    .await;
    assert!(message.contains("used up"), "{message}");
    // A code no one made.
    let message = expect_error(
        server.join_raw(&yann, "AAAA-BBBB-CCCC-DDDD", "Yann").await,
        StatusCode::NOT_FOUND,
        "invitation_unusable",
    )
    .await;
    assert!(message.contains("No invitation"), "{message}");
    // With an invitation for several people: a member joining again through another invitation is
    // refused (a retry through the same one is not: see the next test), and so is an empty name.
    server.act(&mut mona, "aligre", invitation("inv-2", "second code", 5)).await;
    let message =
        expect_error(server.join_raw(&zoe, "second code", "Zoé").await, StatusCode::CONFLICT, "conflict")
            .await;
    assert!(message.contains("already a member"), "{message}");
    let message = expect_error(
        server.join_raw(&yann, "second code", "  ").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert!(message.contains("display name"), "{message}");
    // Without a token, no one joins.
    let anonymous = server
        .http
        .post(server.url("/v1/join"))
        .json(&JoinRequest { code: "second code".into(), display_name: "Anon".into() })
        .send()
        .await
        .unwrap();
    expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // A join is not one of the device's numbered mutations: Zoé's first push is seq 1.
    let mut zoe = zoe;
    server.act(&mut zoe, "aligre", ask("f-zoe", "Walk my dog")).await;
    let metrics = server.metrics().await;
    assert!(metrics.contains(r#"quartier_joins_total{outcome="joined"} 1"#), "{metrics}");
}

async fn a_join_retried_after_a_lost_answer_answers_the_same_membership(db: Db) {
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    server.act(&mut mona, "aligre", found("Aligre", "Mona")).await;
    server.act(&mut mona, "aligre", invitation("inv-1", "K7QX-2M9D-HT4R-B8WZ", 1)).await;
    let zoe = server.register("zoe").await;
    let first = server.join(&zoe, "K7QX-2M9D-HT4R-B8WZ", "Zoé").await;
    let before = server.replica(&zoe, "aligre").await;

    // The answer was lost on the way: the device asks again with the same code, though the
    // invitation is used up by its own first join, and gets the same answer.
    for _ in 0..2 {
        assert_eq!(server.join(&zoe, "k7qx-2m9d-ht4r-b8wz", "Zoé").await, first);
    }
    let after = server.replica(&zoe, "aligre").await;
    assert_eq!(after.entities, before.entities, "nothing changed: no second membership, no use consumed");
    assert_eq!(after.seen, before.seen, "and no new version");
    match after.get(EntityKind::Invitation, "inv-1") {
        Some(Entity::Invitation(i)) => assert_eq!((i.uses, i.max_uses), (1, 1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(after.member("zoe").invitation_id.as_deref(), Some("inv-1"));
    // Zoé's other device (same person) retrying that join is the same join too.
    let tablet = server.link(&zoe, "zoe-tablet").await;
    assert_eq!(server.join(&tablet, "K7QX-2M9D-HT4R-B8WZ", "Zoé").await, first);
    // Someone else with the used-up code is still refused.
    let yann = server.register("yann").await;
    let message = expect_error(
        server.join_raw(&yann, "K7QX-2M9D-HT4R-B8WZ", "Yann").await,
        StatusCode::CONFLICT,
        "invitation_unusable",
    )
    .await;
    assert!(message.contains("used up"), "{message}");

    // A member removed by a moderator is refused, with the very code they joined by.
    server.act(&mut mona, "aligre", MemberRemove { member_id: "zoe".into() }).await;
    let message = expect_error(
        server.join_raw(&zoe, "K7QX-2M9D-HT4R-B8WZ", "Zoé").await,
        StatusCode::CONFLICT,
        "invitation_unusable",
    )
    .await;
    assert!(message.contains("used up"), "{message}");
    server.act(&mut mona, "aligre", invitation("inv-2", "second code", 5)).await;
    let message =
        expect_error(server.join_raw(&zoe, "second code", "Zoé").await, StatusCode::FORBIDDEN, "forbidden")
            .await;
    assert!(message.contains("removed you"), "{message}");
    let metrics = server.metrics().await;
    assert!(metrics.contains(r#"quartier_joins_total{outcome="joined"} 4"#), "{metrics}");
}

async fn messages_go_only_to_their_two_people_and_so_do_their_tombstones(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut lea, mut bob) = (h.lea, h.bob);
    server.act(&mut lea, &h.nid, ask("f-plants", "Water my plants")).await;
    server.act(&mut bob, &h.nid, FavourRef { id: "f-plants".into() }).await;
    server
        .act(
            &mut bob,
            &h.nid,
            message("m-bob", ThreadKind::Favour, "f-plants", "I live at 12 rue Crozatier."),
        )
        .await;
    server
        .act(&mut lea, &h.nid, message("m-lea", ThreadKind::Favour, "f-plants", "Thank you, see you then."))
        .await;

    let mut replicas = Vec::new();
    for phone in [&lea, &bob, &h.mona, &h.tom] {
        let replica = server.replica(phone, &h.nid).await;
        let mut ids: Vec<&str> = replica.messages().iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        let expected: &[&str] =
            if phone.person == "lea" || phone.person == "bob" { &["m-bob", "m-lea"] } else { &[] };
        assert_eq!(ids, expected, "messages pulled by {}", phone.person);
        // The favour itself is everyone's.
        assert!(replica.has(EntityKind::Favour, "f-plants"));
        if phone.person != "bob" {
            replicas.push((phone.clone(), replica));
        }
    }

    // Bob leaves: his message is removed, and only Léa hears of it.
    server.act(&mut bob, &h.nid, MemberLeave {}).await;
    let m_bob = EntityKey::new(&h.nid, EntityKind::Message, "m-bob");
    for (phone, replica) in &mut replicas {
        let pages = server.catch_up(phone, replica, None).await;
        let deleted: Vec<&Change> = pages
            .iter()
            .flat_map(|p| &p.changes)
            .filter(|c| matches!(&c.effect, Effect::Delete { key } if *key == m_bob))
            .collect();
        assert_eq!(
            deleted.len(),
            usize::from(phone.person == "lea"),
            "tombstone of m-bob pulled by {}",
            phone.person
        );
        assert!(!replica.entities.contains_key(&m_bob));
        // The favour Bob had promised is open again.
        match replica.get(EntityKind::Favour, "f-plants") {
            Some(Entity::Favour(f)) => {
                assert_eq!((f.status, f.counterpart.as_deref()), (FavourStatus::Open, None))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(replicas[0].1.has(EntityKind::Message, "m-lea"), "Léa's own message stays");
}

async fn leaving_turns_a_members_content_into_tombstones(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let mut lea = h.lea;
    server.act(&mut lea, &h.nid, ask("f-lea", "Water my plants")).await;
    server.act(&mut lea, &h.nid, item("drill", "Drill")).await;
    let mut mona_replica = server.replica(&h.mona, &h.nid).await;
    assert!(mona_replica.has(EntityKind::Favour, "f-lea") && mona_replica.has(EntityKind::Item, "drill"));
    let cursor_before = mona_replica.cursor;

    server.act(&mut lea, &h.nid, MemberLeave {}).await;

    let pages = server.catch_up(&h.mona, &mut mona_replica, None).await;
    let changes: Vec<&Change> = pages.iter().flat_map(|p| &p.changes).collect();
    let version = cursor_before + 1;
    assert!(changes.iter().all(|c| c.version == version), "one mutation, one version: {changes:?}");
    let deleted: Vec<EntityKey> = changes
        .iter()
        .filter_map(|c| if let Effect::Delete { key } = &c.effect { Some(key.clone()) } else { None })
        .collect();
    assert_eq!(
        deleted,
        vec![
            EntityKey::new(&h.nid, EntityKind::Favour, "f-lea"),
            EntityKey::new(&h.nid, EntityKind::Item, "drill")
        ]
    );
    assert!(!mona_replica.has(EntityKind::Favour, "f-lea") && !mona_replica.has(EntityKind::Item, "drill"));
    let lea_member = mona_replica.member("lea");
    assert_eq!((lea_member.status, lea_member.display_name.as_str()), (MemberStatus::Left, "former member"));

    // A device that pulls from the start gets the tombstones too, with no content in them.
    let fresh = server.pull_page(&h.tom, &h.nid, 0, None).await;
    let tombstones: Vec<&Change> =
        fresh.changes.iter().filter(|c| matches!(c.effect, Effect::Delete { .. })).collect();
    assert_eq!(tombstones.len(), 2);
    assert!(tombstones.iter().all(|c| c.version == version));
    let text = serde_json::to_string(&fresh).unwrap();
    assert!(
        !text.contains("Water my plants") && !text.contains("Drill"),
        "content of a departed member: {text}"
    );

    // Léa no longer pulls, and her mutations are refused by the rules.
    expect_error(server.pull(&lea, &h.nid, 0, None).await, StatusCode::FORBIDDEN, "forbidden").await;
    let (code, _) = server.refused(&mut lea, &h.nid, ask("f-again", "Anyone?")).await;
    assert_eq!(code, Code::NotMember);
}

async fn pull_pages_never_split_a_version_and_resume_from_their_cursor(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut lea, mut mona) = (h.lea, h.mona);
    for i in 0..5 {
        server.act(&mut mona, &h.nid, ask(&format!("f-mona-{i}"), "Help")).await;
    }
    for i in 0..6 {
        server.act(&mut lea, &h.nid, ask(&format!("f-lea-{i}"), "Help")).await;
    }
    // One version with seven changes: six tombstones and Léa's member entity.
    server.act(&mut lea, &h.nid, MemberLeave {}).await;
    server.act(&mut mona, &h.nid, ask("f-last", "Last")).await;

    let full = server.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await;
    assert!(!full.more);
    let mut per_version = std::collections::BTreeMap::<u64, usize>::new();
    for change in &full.changes {
        *per_version.entry(change.version).or_default() += 1;
    }
    assert!(per_version.values().any(|&n| n >= 7), "a big version: {per_version:?}");

    for limit in [1, 2, 3, 5] {
        let mut replica = Replica::new(&h.nid);
        let pages = server.catch_up(&h.tom, &mut replica, Some(limit)).await;
        assert!(pages.len() > 1, "limit {limit} makes several pages");
        for page in &pages {
            let versions: std::collections::BTreeSet<u64> = page.changes.iter().map(|c| c.version).collect();
            for version in &versions {
                let here = page.changes.iter().filter(|c| c.version == *version).count();
                assert_eq!(here, per_version[version], "version {version} split at limit {limit}");
            }
            // Over the limit only to finish the page's last version.
            let last = *versions.last().unwrap();
            if page.changes.len() > limit as usize {
                let before_last = page.changes.iter().filter(|c| c.version != last).count();
                assert!(before_last < limit as usize, "limit {limit}: {versions:?}");
            }
            if page.more {
                assert_eq!(page.cursor, last);
            } else {
                assert_eq!(page.cursor, page.checkpoint);
            }
        }
        let all: Vec<Change> = pages.into_iter().flat_map(|p| p.changes).collect();
        assert_eq!(all, full.changes, "limit {limit}: the pages add up to the whole");
    }

    // A pull interrupted after a page resumes from its cursor, even with changes made meanwhile.
    let mut replica = Replica::new(&h.nid);
    let first = server.pull_page(&h.tom, &h.nid, 0, Some(4)).await;
    replica.apply(&first);
    assert!(first.more);
    server
        .act(
            &mut mona,
            &h.nid,
            FavourEdit {
                id: "f-mona-0".into(),
                title: "Help, please".into(),
                details: String::new(),
                category: "garden".into(),
                window: None,
            },
        )
        .await;
    server.catch_up(&h.tom, &mut replica, Some(4)).await;
    let whole = server.replica(&h.tom, &h.nid).await;
    assert_eq!(replica.entities, whole.entities);
    assert_eq!(replica.cursor, whole.cursor);

    // Page sizes out of range are refused.
    for bad in ["limit=0", "limit=5001", "limit=-1", "limit=ten", "after=-1", "after=x", "cursor=3"] {
        let url = server.url(&format!("/v1/neighbourhoods/{}/pull?{bad}", h.nid));
        let response = server.http.get(url).bearer_auth(&h.tom.token).send().await.unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "bad_request").await;
    }
}

async fn pulling_a_neighbourhood_that_does_not_exist_is_not_found(db: Db) {
    let server = TestServer::start(db).await;
    let mona = server.register("mona").await;
    let message =
        expect_error(server.pull(&mona, "nowhere", 0, None).await, StatusCode::NOT_FOUND, "not_found").await;
    assert!(message.contains("nowhere"), "{message}");
}

async fn an_invitation_expires_by_the_servers_clock_not_the_devices(db: Db) {
    let (server_now, server) = server_with_clock!(db);
    let mut mona = server.register("mona").await;
    server.act(&mut mona, "aligre", found("Aligre", "Mona")).await;
    let mut short = invitation("inv-short", "short code", 5);
    short.expires_at = now_ms() + 3_600_000;
    server.act(&mut mona, "aligre", short).await;

    // Two hours later on the server: the invitation has expired, whatever the newcomer's phone says.
    server_now.store(now_ms() + 2 * 3_600_000, Ordering::SeqCst);
    let zoe = server.register("zoe").await;
    let message = expect_error(
        server.join_raw(&zoe, "short code", "Zoé").await,
        StatusCode::CONFLICT,
        "invitation_unusable",
    )
    .await;
    assert!(message.contains("expired"), "{message}");
}

/// A phone whose clock is set a year ahead does not carry that date into the neighbourhood: what it
/// writes is stamped by the server's clock, after what it wrote before (half a minute ahead, admitted
/// as it was), so the newest of its prices stands; an invitation's 30 days count from the server's
/// time; and the server's own stamps (a newcomer's membership) stay at the server's time.
async fn a_phone_whose_clock_is_set_ahead_is_stamped_by_the_servers_clock(db: Db) {
    const YEAR_MS: u64 = 365 * 24 * 3_600_000;
    let server = TestServer::start(db).await;
    let mut mona = server.register("mona").await;
    server.act(&mut mona, "aligre", found("Aligre", "Mona")).await;
    server.act(&mut mona, "aligre", invitation("inv", "clock code", 5)).await;
    server.act(&mut mona, "aligre", stall("stall", "Chez Mona")).await;
    mona.ahead_ms = 30_000;
    let product = ProductAdd {
        id: "leeks".into(),
        stall_id: "stall".into(),
        name: "Leeks".into(),
        unit: "bunch".into(),
        price_cents: 200,
        stock: 10,
        available_today: true,
    };
    let near = server.act(&mut mona, "aligre", product).await;

    mona.ahead_ms = YEAR_MS;
    let prices = [250, 300]
        .map(|cents| mona.mutation("aligre", ProductSetPrice { id: "leeks".into(), price_cents: cents }));
    let results = server.push_ok(&mona, &prices).await;
    assert!(results.iter().all(|r| r.outcome == Outcome::Applied), "{results:?}");
    let bound = u64::try_from(now_ms()).unwrap() + hlc::MAX_AHEAD_MS;
    let replica = server.replica(&mona, "aligre").await;
    let Some(Entity::Product(leeks)) = replica.get(EntityKind::Product, "leeks") else {
        panic!("no product: {replica:?}");
    };
    assert_eq!(leeks.price_cents, 300, "the newer price stands");
    assert!(leeks.price_hlc > near.hlc, "{:?} after {:?}", leeks.price_hlc, near.hlc);
    assert!(leeks.price_hlc.wall_ms() <= bound, "a year ahead: {:?}", leeks.price_hlc);

    // Nor does an invitation last a year: its 30 days count from the server's time.
    let mut late = invitation("inv-late", "late code", 5);
    late.expires_at = now_ms() + i64::try_from(YEAR_MS).unwrap() + 7 * 24 * 3_600_000;
    let (code, message) = server.refused(&mut mona, "aligre", late).await;
    assert_eq!(code, Code::Invalid, "{message}");

    let zoe = server.register("zoe").await;
    server.join(&zoe, "clock code", "Zoé").await;
    let member = server.replica(&zoe, "aligre").await.member(&zoe.person);
    assert!(member.updated.wall_ms() <= bound, "the server's clock moved ahead: {:?}", member.updated);
}

/// Many devices push to one neighbourhood at once while a member pulls it in pages of three: every
/// change reaches the puller exactly once, in version order, with no version missing. The writers'
/// transactions run in parallel (PostgreSQL) or queue for the file (SQLite); a version that committed
/// after a later one was already pulled would be behind the puller's cursor for ever.
async fn concurrent_pushes_never_hide_a_change_from_a_concurrent_puller(db: Db) {
    const PUSHERS: usize = 8;
    const EACH: usize = 25;
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let phones = crowd(&server, &mut h, "p", "crowd code", PUSHERS).await;
    let start = server.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await.checkpoint;
    let server = Arc::new(server);
    let pushing = Arc::new(AtomicUsize::new(PUSHERS));

    let mut pushers = Vec::new();
    for mut phone in phones {
        let (server, nid, pushing) = (Arc::clone(&server), h.nid.clone(), Arc::clone(&pushing));
        pushers.push(tokio::spawn(async move {
            for j in 0..EACH {
                let id = format!("f-{}-{j}", phone.person);
                server.act(&mut phone, &nid, ask(&id, "Help")).await;
            }
            pushing.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    let puller = {
        let (server, tom, nid, pushing) =
            (Arc::clone(&server), h.tom.clone(), h.nid.clone(), Arc::clone(&pushing));
        tokio::spawn(async move {
            let (mut cursor, mut changes, mut pages_while_pushing) = (start, Vec::new(), 0);
            loop {
                // Read before pulling: a pull that starts once every push is answered sees them all.
                let done = pushing.load(Ordering::SeqCst) == 0;
                let page = server.pull_page(&tom, &nid, cursor, Some(3)).await;
                assert!(page.changes.iter().all(|c| c.version > cursor), "a change at or before the cursor");
                assert!(page.cursor >= cursor && page.cursor <= page.checkpoint, "{page:?}");
                cursor = page.cursor;
                changes.extend(page.changes);
                if !done {
                    pages_while_pushing += 1;
                } else if !page.more {
                    return (cursor, changes, pages_while_pushing);
                }
            }
        })
    };
    for pusher in pushers {
        pusher.await.unwrap();
    }
    let (cursor, changes, pages_while_pushing) = puller.await.unwrap();

    let total = (PUSHERS * EACH) as u64;
    assert!(pages_while_pushing > 0, "the puller pulled while the devices pushed");
    assert_eq!(cursor, start + total, "the puller caught up");
    // One favour per push, each its own version: the versions are exactly the next `total` ones, in
    // order, and each favour came once.
    let versions: Vec<u64> = changes.iter().map(|c| c.version).collect();
    assert_eq!(versions, (start + 1..=start + total).collect::<Vec<_>>(), "versions pulled, in order");
    let ids: std::collections::BTreeSet<String> = changes.iter().map(|c| c.effect.key().id).collect();
    assert_eq!(ids.len() as u64, total, "every favour exactly once");
    let server = Arc::into_inner(server).unwrap();
    let all = server.replica(&h.tom, &h.nid).await;
    let favours = all.entities.keys().filter(|k| k.kind == EntityKind::Favour).count();
    assert_eq!(favours as u64, total);
}

/// Many devices push at once (on SQLite their pushes are committed in groups, several devices per
/// transaction): every mutation is answered once and applied once, the devices that all post a favour
/// under one id see exactly one of them applied and the others refused, and pushing everything again
/// answers the same outcomes and applies nothing.
async fn pushes_of_many_devices_at_once_are_each_applied_once(db: Db) {
    const DEVICES: usize = 24;
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    let phones = crowd(&server, &mut h, "d", "many code", DEVICES).await;
    let start = server.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await.checkpoint;
    let applied_before = push_count(&server, "applied").await;
    let batches: Vec<(Phone, Vec<Mutation>)> = phones
        .into_iter()
        .map(|mut phone| {
            let own = format!("f-{}", phone.person);
            let batch = vec![
                phone.mutation(&h.nid, ask(&own, "Help")),
                phone.mutation(&h.nid, ask("f-shared", "Help")),
            ];
            (phone, batch)
        })
        .collect();
    let server = Arc::new(server);
    let push_all = |batches: Vec<(Phone, Vec<Mutation>)>| {
        let server = Arc::clone(&server);
        async move {
            let pushes: Vec<_> = batches
                .into_iter()
                .map(|(phone, batch)| {
                    let server = Arc::clone(&server);
                    tokio::spawn(async move { server.push_ok(&phone, &batch).await })
                })
                .collect();
            let mut answers = Vec::new();
            for push in pushes {
                answers.push(push.await.unwrap());
            }
            answers
        }
    };

    let first = push_all(batches.clone()).await;
    for results in &first {
        assert_eq!(results[0].outcome, Outcome::Applied, "{results:?}");
    }
    let shared_applied = first.iter().filter(|results| results[1].outcome == Outcome::Applied).count();
    assert_eq!(shared_applied, 1, "one device's f-shared is applied: {first:?}");
    for results in first.iter().filter(|results| results[1].outcome != Outcome::Applied) {
        assert!(
            matches!(results[1].outcome, Outcome::Rejected { code: Code::AlreadyExists, .. }),
            "{results:?}"
        );
    }

    // Every answer lost: every device pushes its batch again, at once.
    let again = push_all(batches).await;
    assert_eq!(again, first, "the first outcomes, again");

    let server = Arc::into_inner(server).unwrap();
    let total = DEVICES as u64 + 1;
    assert_eq!(push_count(&server, "applied").await - applied_before, total);
    let page = server.pull_page(&h.tom, &h.nid, start, Some(MAX_PULL_LIMIT)).await;
    let versions: Vec<u64> = page.changes.iter().map(|c| c.version).collect();
    assert_eq!(versions, (start + 1..=start + total).collect::<Vec<_>>(), "one version per applied mutation");
    let favours: std::collections::BTreeSet<String> =
        page.changes.iter().map(|c| c.effect.key().id).collect();
    assert_eq!(favours.len() as u64, total, "every favour once");
    assert!(favours.contains("f-shared"));
}

/// The server's count of pushed mutations with this outcome.
async fn push_count(server: &TestServer, outcome: &str) -> u64 {
    let prefix = format!(r#"quartier_push_mutations_total{{outcome="{outcome}"}} "#);
    let metrics = server.metrics().await;
    metrics.lines().find_map(|line| line.strip_prefix(prefix.as_str())).map_or(0, |n| n.parse().unwrap())
}

/// Every page of a pull says up to which number the server has answered the device that pulls (so
/// that a device whose push answer was lost does not replay those mutations on top): its own number,
/// never another device's, not even one of the same person's.
async fn a_pull_says_up_to_which_number_the_server_answered_the_puller(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut mona, tom, nid) = (h.mona, h.tom, h.nid);
    // Mona founded the neighbourhood, made an invitation and gave Tom his role: numbers 1 to 3.
    assert_eq!(server.pull_page(&mona, &nid, 0, None).await.answered_seq, Some(3));
    // Tom joined (a join is not one of his numbered mutations) and pushed nothing.
    assert_eq!(server.pull_page(&tom, &nid, 0, None).await.answered_seq, Some(0));
    // A refused mutation is answered too.
    server.act(&mut mona, &nid, ask("f-1", "Water my plants")).await;
    server.refused(&mut mona, &nid, ask("f-1", "Feed my cat")).await;
    // On every page of a pull in pages, the last one included, and in the JSON as `answered_seq`.
    let pages = server.catch_up(&mona, &mut Replica::new(&nid), Some(1)).await;
    assert!(pages.len() > 2, "{pages:?}");
    assert!(pages.iter().all(|page| page.answered_seq == Some(5)), "{pages:?}");
    let raw = server.pull(&mona, &nid, 0, None).await.text().await.unwrap();
    assert!(raw.contains(r#""answered_seq":5"#), "{raw}");
    assert_eq!(server.pull_page(&tom, &nid, 0, None).await.answered_seq, Some(0), "not Mona's number");

    // Mona's tablet has numbers of its own: none answered yet, then its first.
    let mut tablet = server.link(&mona, "mona-tablet").await;
    assert_eq!(server.pull_page(&tablet, &nid, 0, None).await.answered_seq, Some(0));
    server.act(&mut tablet, &nid, ask("f-2", "Walk my dog")).await;
    assert_eq!(server.pull_page(&tablet, &nid, 0, None).await.answered_seq, Some(1));
    assert_eq!(server.pull_page(&mona, &nid, 0, None).await.answered_seq, Some(5));
}

/// `answered_seq` is read in the snapshot of the page: at the end of each pull, the changes of every
/// mutation of the device numbered up to it have been pulled, while the same device pushes.
async fn the_answered_number_agrees_with_the_pulled_changes_while_the_device_pushes(db: Db) {
    const EACH: u64 = 40;
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (tom, nid) = (h.tom, h.nid);
    let start = server.pull_page(&tom, &nid, 0, Some(MAX_PULL_LIMIT)).await.checkpoint;
    let server = Arc::new(server);
    let pusher = {
        let (server, nid, mut tom) = (Arc::clone(&server), nid.clone(), tom.clone());
        tokio::spawn(async move {
            for _ in 0..EACH {
                let id = format!("f-tom-{}", tom.seq + 1);
                server.act(&mut tom, &nid, ask(&id, "Help")).await;
            }
        })
    };
    let (mut cursor, mut seen, mut answered, mut pulls_while_pushing) =
        (start, std::collections::BTreeSet::new(), 0, 0);
    loop {
        let pushing = !pusher.is_finished();
        let page = server.pull_page(&tom, &nid, cursor, Some(2)).await;
        cursor = page.cursor;
        seen.extend(page.changes.iter().map(|c| c.effect.key().id));
        let page_answered = page.answered_seq.unwrap();
        assert!(page_answered >= answered, "the answered number went back: {page_answered} < {answered}");
        answered = page_answered;
        if page.more {
            continue;
        }
        for seq in 1..=answered {
            assert!(
                seen.contains(&format!("f-tom-{seq}")),
                "answered up to {answered}, but f-tom-{seq} not pulled"
            );
        }
        if !pushing {
            break;
        }
        pulls_while_pushing += 1;
    }
    pusher.await.unwrap();
    assert_eq!(answered, EACH, "the last pull, after the last push, has them all");
    assert!(pulls_while_pushing > 0, "Tom pulled while he pushed");
}

/// Pushes each mutation in a call of its own: each must be applied.
async fn push_one_by_one(server: &TestServer, phone: &Phone, mutations: Vec<Mutation>) {
    for m in mutations {
        let results = server.push_ok(phone, std::slice::from_ref(&m)).await;
        assert_eq!(results[0].outcome, Outcome::Applied, "{} by {}", m.op.name(), phone.person);
    }
}

/// Two server processes over one database, as a host scales out: devices push through either, at
/// once, and pull the same neighbourhood, one sequence of versions, through the other.
async fn two_servers_over_one_database_serve_one_neighbourhood(db: Db) {
    let a = TestServer::start(db).await;
    let b = a.start_beside().await;
    let h = hood(&a).await;
    let (mut lea, mut bob) = (h.lea, h.bob);
    let favours = |phone: &mut Phone, prefix: &str| -> Vec<Mutation> {
        (0..20).map(|i| phone.mutation(&h.nid, ask(&format!("{prefix}-{i}"), "Help"))).collect()
    };
    let (of_lea, of_bob) = (favours(&mut lea, "f-lea"), favours(&mut bob, "f-bob"));
    let before = a.pull_page(&h.tom, &h.nid, 0, None).await.checkpoint;
    tokio::join!(push_one_by_one(&a, &lea, of_lea), push_one_by_one(&b, &bob, of_bob));

    let from_a = a.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await;
    let from_b = b.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await;
    assert_eq!(from_a, from_b, "one database, one answer");
    // Each push made one version: the favours hold the 40 versions after the neighbourhood's making.
    let mut versions: Vec<u64> = from_a
        .changes
        .iter()
        .filter(|c| c.effect.key().kind == EntityKind::Favour)
        .map(|c| c.version)
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (before + 1..=before + 40).collect::<Vec<_>>(), "one sequence of versions");
    assert_eq!(from_a.checkpoint, before + 40);

    // What one server answered, the other answers again: a retried push is not applied twice.
    let again = lea.mutation(&h.nid, ask("f-lea-again", "Once"));
    let first = a.push_ok(&lea, std::slice::from_ref(&again)).await;
    let second = b.push_ok(&lea, std::slice::from_ref(&again)).await;
    assert_eq!(first, second);
    let after = b.pull_page(&h.tom, &h.nid, 0, Some(MAX_PULL_LIMIT)).await;
    assert_eq!(after.checkpoint, from_a.checkpoint + 1);
    b.stop().await.unwrap();
    a.stop().await.unwrap();
}

/// Registering checks, then inserts: registrations at once of one device, or of one person, make one
/// device and conflicts, never two devices or a failure; the same device with the same token at once
/// (a device retrying while its first call is still on the way) makes one device and the same answer.
async fn registrations_at_once_of_one_device_or_one_person_make_one_device(db: Db) {
    let server = TestServer::start(db).await;
    let token = new_token().unwrap();
    let some = |token: &str| Some(token.to_owned());
    for (what, requests, again) in [
        (
            "one device",
            (0..6).map(|_| ("zoe-phone".to_owned(), "zoe".to_owned(), None)).collect::<Vec<_>>(),
            StatusCode::CONFLICT,
        ),
        (
            "one person",
            (0..6).map(|i| (format!("yann-{i}"), "yann".to_owned(), None)).collect(),
            StatusCode::CONFLICT,
        ),
        (
            "one device, its own token each",
            (0..6).map(|_| ("ana-phone".to_owned(), "ana".to_owned(), Some(new_token().unwrap()))).collect(),
            StatusCode::CONFLICT,
        ),
        (
            "one device, one token",
            (0..6).map(|_| ("cleo-phone".to_owned(), "cleo".to_owned(), some(&token))).collect(),
            StatusCode::OK,
        ),
    ] {
        let mut calls = tokio::task::JoinSet::new();
        for (device_id, person_id, token) in requests.iter().cloned() {
            let call = server.http.post(server.url("/v1/register")).json(&RegisterRequest {
                device_id,
                person_id,
                token,
            });
            calls.spawn(async move { call.send().await.unwrap().status() });
        }
        let mut statuses: Vec<StatusCode> = calls.join_all().await;
        statuses.sort();
        let mut expected = vec![StatusCode::CREATED];
        expected.extend(std::iter::repeat_n(again, requests.len() - 1));
        expected.sort();
        assert_eq!(statuses, expected, "{what}");
    }
    let cleo = Phone::new("cleo", "cleo-phone", &token);
    let response = server.pull(&cleo, "nowhere", 0, None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "the token works");
}

/// A device draws its token and keeps it before it registers, so that it can ask again when the
/// answer is lost: the same device id with the same token is answered again, never twice registered;
/// with another token (or none) it is refused. The server keeps only the token's hash.
async fn a_registration_whose_answer_was_lost_is_asked_again_with_the_same_token(db: Db) {
    let server = TestServer::start(db).await;
    let token = new_token().unwrap();
    let request = |device: &str, person: &str, token: Option<String>| {
        server.http.post(server.url("/v1/register")).json(&RegisterRequest {
            device_id: device.into(),
            person_id: person.into(),
            token,
        })
    };
    let first = request("zoe-phone", "zoe", Some(token.clone())).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: RegisterResponse = first.json().await.unwrap();
    for _ in 0..3 {
        let again = request("zoe-phone", "zoe", Some(token.clone())).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK, "answered again, not created again");
        assert_eq!(again.json::<RegisterResponse>().await.unwrap(), first);
    }
    // The token works, and the device is one device: its pushes are numbered from 1.
    let mut zoe = Phone::new("zoe", "zoe-phone", &token);
    server.act(&mut zoe, "aligre", found("Aligre", "Zoé")).await;

    // Another token for the same device id (or another person, or no token) is refused, clearly.
    for (person, other) in [("zoe", Some(new_token().unwrap())), ("yann", Some(token.clone())), ("zoe", None)]
    {
        let refused = request("zoe-phone", person, other).send().await.unwrap();
        let message = expect_error(refused, StatusCode::CONFLICT, "conflict").await;
        assert!(message.contains("registered already with another token"), "{message}");
    }
    // A token that was not drawn like one is refused before anything is stored.
    for bad in ["short".to_owned(), "A".repeat(64), "g".repeat(64), format!("{token}0")] {
        let refused = request("yann-phone", "yann", Some(bad)).send().await.unwrap();
        let message = expect_error(refused, StatusCode::BAD_REQUEST, "bad_request").await;
        assert!(message.contains("64 lower-case hex"), "{message}");
    }
    let yann = server.register("yann").await;
    assert_ne!(yann.token, token);
    // The database holds the token's hash only, never the token.
    let hash = quartier_server::sync::devices::token_hash(&token);
    let stored = server.read(|tx| tx.device_by_token_hash(&hash));
    assert_eq!(stored.map(|d| d.device_id).as_deref(), Some("zoe-phone"));
    let bytes = blocking(|| server.database.stored_bytes());
    assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "no token stored in clear");
}

async fn each_mutation_of_a_push_reads_what_the_ones_before_it_wrote(db: Db) {
    let server = TestServer::start(db).await;
    let mut h = hood(&server).await;
    // In one push (one transaction): Bob asks for help, leaves, then asks again. The rules read Bob
    // for each; the third must see that he left, and the leave must take the first ask with it.
    let first = h.bob.mutation(&h.nid, ask("f-first", "Help with a shelf"));
    let leave = h.bob.mutation(&h.nid, MemberLeave {});
    let again = h.bob.mutation(&h.nid, ask("f-again", "Help again"));
    let results = server.push_ok(&h.bob, &[first, leave, again]).await;
    assert_eq!(results[0].outcome, Outcome::Applied);
    assert_eq!(results[1].outcome, Outcome::Applied);
    assert!(
        matches!(&results[2].outcome, Outcome::Rejected { code: Code::NotMember, .. }),
        "{:?}",
        results[2]
    );
    let mut replica = Replica::new(&h.nid);
    server.catch_up(&h.lea, &mut replica, None).await;
    assert!(!replica.has(EntityKind::Favour, "f-first") && !replica.has(EntityKind::Favour, "f-again"));
    assert_eq!(replica.member("bob").status, MemberStatus::Left);
}

on_both_backends!(
    a_device_registers_once_and_its_token_works,
    a_registered_device_adds_another_device_of_its_person,
    a_linked_device_must_make_its_first_call_in_time,
    a_lost_device_is_taken_off_its_account_from_another,
    calls_without_a_known_token_are_unauthorized,
    pushed_mutations_are_pulled_back,
    a_retried_push_is_not_applied_twice,
    a_rejection_carries_the_rules_sentence_and_does_not_block_the_next_mutation,
    a_gap_in_sequence_numbers_stops_the_push_and_names_the_expected_seq,
    a_number_answered_for_another_mutation_is_not_answered_again,
    answers_the_device_has_stored_are_forgotten_after_a_day,
    a_newcomer_joins_with_a_code_and_pulls_the_neighbourhood,
    a_join_retried_after_a_lost_answer_answers_the_same_membership,
    messages_go_only_to_their_two_people_and_so_do_their_tombstones,
    leaving_turns_a_members_content_into_tombstones,
    pull_pages_never_split_a_version_and_resume_from_their_cursor,
    pulling_a_neighbourhood_that_does_not_exist_is_not_found,
    an_invitation_expires_by_the_servers_clock_not_the_devices,
    a_phone_whose_clock_is_set_ahead_is_stamped_by_the_servers_clock,
    concurrent_pushes_never_hide_a_change_from_a_concurrent_puller,
    pushes_of_many_devices_at_once_are_each_applied_once,
    two_servers_over_one_database_serve_one_neighbourhood,
    registrations_at_once_of_one_device_or_one_person_make_one_device,
    a_registration_whose_answer_was_lost_is_asked_again_with_the_same_token,
    a_pull_says_up_to_which_number_the_server_answered_the_puller,
    the_answered_number_agrees_with_the_pulled_changes_while_the_device_pushes,
    each_mutation_of_a_push_reads_what_the_ones_before_it_wrote,
);
