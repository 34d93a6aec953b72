//! Calls whose answer is lost on the way, asked again by the device, with a real server behind a fault
//! proxy that holds the answer and then closes the connection: registering, joining, pushing. The
//! server has committed each time; the device, which never heard it, asks again and must get the same
//! result, not a refusal that strands it. A push applied whose answer was lost must not count twice
//! on the device when a pull brings its effects before the answer.
//!
//! And pushes the server stops at a hole in the device's numbers (`409 seq_gap`) or at a number it
//! answered already for another change (`409 seq_reused`): a hole the device left itself is filled;
//! one it cannot fill (a server restored from an older backup), or numbers that went back (a device
//! restored from one), are reported in the sync status, with nothing waiting dropped and no hot loop.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::SyncError;
use quartier_core::sync::protocol::Outcome;
use quartier_e2e::fault_proxy::{FaultProxy, Faults, PausePoint, Resume};
use quartier_e2e::fixtures::{neighbourhood, product, stall};
use quartier_e2e::{Device, TestServer};
use quartier_server::storage::Backend;
use std::time::Duration;

/// Lets the next request of `path` reach the server, then closes its connection before the answer.
async fn lose_the_next_answer(proxy: &FaultProxy, path: &str) -> tokio::task::JoinHandle<()> {
    let pause = proxy.pause(path, PausePoint::BeforeAnswer);
    tokio::spawn(async move {
        pause.reached.await.unwrap();
        pause.resume.send(Resume::Close).unwrap();
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_answer_was_lost_is_asked_again_and_the_device_keeps_its_id() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let zoe = Device::unregistered(&proxy.url, "zoe");

    let lost = lose_the_next_answer(&proxy, "/v1/register").await;
    let error = zoe.client.register().await.unwrap_err();
    lost.await.unwrap();
    assert!(error.is_transient(), "a lost answer is the network's fault: {error:?}");
    assert!(!zoe.client.is_registered().unwrap(), "not registered until the server has answered");
    // The server registered the device, with the token the device drew and kept.
    assert!(server.read(|tx| tx.device_exists("zoe-device")));

    // Asked again: answered again with the same token, and it works.
    zoe.client.register().await.unwrap();
    assert!(zoe.client.is_registered().unwrap());
    zoe.act("aligre", neighbourhood("Aligre", "Zoé")).unwrap();
    let report = zoe.client.sync_once(Duration::from_secs(30)).await.unwrap();
    assert_eq!((report.pushed, report.complete), (1, true));
    assert!(server.entity(&EntityKey::new("aligre", EntityKind::Neighbourhood, "aligre")).is_some());
    // Registered once: registering again is a no-op for the device, and another device that claims
    // its id (with a token of its own) is refused.
    zoe.client.register().await.unwrap();
    let impostor = Device::unregistered(&server.url, "zoe");
    match impostor.client.register().await.unwrap_err() {
        SyncError::Server { status: 409, code, message } => {
            assert_eq!(code, "conflict");
            assert!(message.contains("registered already with another token"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_answer_was_lost_is_asked_again_and_joins_once() {
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("aligre", neighbourhood("Aligre", "Alice")).unwrap();
    // For one newcomer only: the join the device did not hear of uses it up.
    let invitation = alice.store.invite("aligre", 1, 86_400_000).unwrap();
    alice.sync().await;

    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let bob = Device::unregistered(&proxy.url, "bob");
    bob.client.register().await.unwrap();
    let lost = lose_the_next_answer(&proxy, "/v1/join").await;
    let error = bob.client.join(&invitation.code, "Bob").await.unwrap_err();
    lost.await.unwrap();
    assert!(error.is_transient(), "{error:?}");
    assert!(bob.store.followed().unwrap().is_empty(), "the device does not know it joined");

    let joined = bob.client.join(&invitation.code, "Bob").await.unwrap();
    assert_eq!(joined.neighbourhood_id, "aligre");
    assert_eq!(bob.store.followed().unwrap(), vec!["aligre".to_owned()]);
    let Some(Entity::Invitation(used)) =
        server.entity(&EntityKey::new("aligre", EntityKind::Invitation, &invitation.invitation_id))
    else {
        panic!("the invitation is gone");
    };
    assert_eq!((used.uses, used.max_uses), (1, 1), "one use, by the first join");
    let Some(Entity::Member(member)) = server.entity(&EntityKey::new("aligre", EntityKind::Member, "bob"))
    else {
        panic!("Bob is not a member");
    };
    assert_eq!(member.status, MemberStatus::Active);
    alice.sync().await;
    assert_eq!(bob.shared_replica("aligre"), alice.shared_replica("aligre"));
}

/// A trader's restock reaches the server, but the push's answer is lost, and a pull of the same
/// device brings the stock with the restock in it before the device has heard that answer (the pull
/// of another round, by the background client of the same database, was on its way). The restock
/// shows once, not once confirmed and once more replayed on top; the next sync gets the answer again
/// and settles it; the server applied it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restock_whose_answer_was_lost_shows_once_when_a_pull_brings_it() {
    let server = TestServer::start().await;
    let tom = Device::new(&server, "tom").await;
    tom.act("aligre", neighbourhood("Aligre", "Tom")).unwrap();
    tom.act("aligre", stall("stall", "Les Vergers")).unwrap();
    tom.act("aligre", product("radish", "stall", "Radis", 10)).unwrap();
    tom.sync().await;

    // A round of the background client: nothing to push, and its pull held on the way to the server.
    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let held_pull = proxy.pause("/v1/neighbourhoods/aligre/pull", PausePoint::BeforeForward);
    let background = tom.client_via(&proxy.url);
    let round = tokio::spawn(async move { background.sync_once(Duration::from_secs(30)).await });
    held_pull.reached.await.unwrap();
    // Meanwhile Tom restocks 5, and the app's client pushes it: the server applies it, and the answer
    // is lost on the way back.
    let restock = tom.act("aligre", ProductAdjustStock { id: "radish".into(), delta: 5 }).unwrap().mutation;
    assert_eq!(tom.product("aligre", "radish").stock, 15);
    let lost = lose_the_next_answer(&proxy, "/v1/push").await;
    let error = tom.client_via(&proxy.url).sync_once(Duration::from_secs(30)).await.unwrap_err();
    lost.await.unwrap();
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(server.outcome("tom-device", restock.seq), Some(Outcome::Applied));
    assert_eq!(tom.store.pending_count().unwrap(), 1, "the device has not heard the answer");

    // The held pull goes on, read after the push: its page holds the restock, and says that the
    // server answered the device up to it.
    held_pull.resume.send(Resume::Go).unwrap();
    let report = round.await.unwrap().unwrap();
    assert!(report.complete && report.pulled > 0, "{report:?}");
    let shown = tom.product("aligre", "radish");
    assert_eq!(shown.stock, 15, "the restock counted once: {shown:?}");
    assert_eq!(shown.moves.iter().filter(|m| m.hlc == restock.hlc).count(), 1, "{shown:?}");
    assert_eq!(tom.store.pending_count().unwrap(), 1, "still waiting for its answer");

    // The next sync pushes it again and gets the recorded answer; nothing moves.
    let report = tom.sync().await;
    assert_eq!((report.pushed, report.rejected.len()), (1, 0), "{report:?}");
    assert_eq!(tom.store.pending_count().unwrap(), 0);
    assert_eq!(tom.product("aligre", "radish").stock, 15);
    tom.sync().await;
    // The server applied it once, and the device holds exactly what the server holds.
    let Some(Entity::Product(on_server)) =
        server.entity(&EntityKey::new("aligre", EntityKind::Product, "radish"))
    else {
        panic!("no radishes on the server");
    };
    assert_eq!(on_server.stock, 15);
    assert_eq!(on_server.moves.iter().filter(|m| m.hlc == restock.hlc).count(), 1, "{on_server:?}");
    assert_eq!(tom.product("aligre", "radish"), on_server);
    assert_eq!(tom.replica("aligre"), server.visible_to("aligre", "tom"));
}

fn ask(id: &str) -> FavourPost {
    FavourPost {
        id: id.into(),
        kind: FavourKind::Ask,
        title: "Water my plants".into(),
        details: String::new(),
        category: "garden".into(),
        window: None,
        cell: None,
    }
}

/// A change made to a neighbourhood while the pull that finds the person removed from it is under way
/// is set aside with the neighbourhood; its number is still expected by the server. The device sends
/// it to fill the gap (the server refuses it: not a member), and the changes after it go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_set_aside_with_a_forgotten_neighbourhood_fills_the_gap_it_left() {
    let server = TestServer::start().await;
    let bob = Device::new(&server, "bob").await;
    bob.act("bastille", neighbourhood("Bastille", "Bob")).unwrap();
    let invitation = bob.store.invite("bastille", 1, 86_400_000).unwrap();
    bob.sync().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("aligre", neighbourhood("Aligre", "Alice")).unwrap();
    alice.sync().await;
    alice.client.join(&invitation.code, "Alice").await.unwrap();
    bob.sync().await;
    bob.act("bastille", MemberRemove { member_id: "alice".into() }).unwrap();
    bob.sync().await;

    // Alice's next round: while its pull of Bastille is on the way, she asks for help there (her
    // device still thinks she belongs) and in Aligre.
    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let via_proxy = alice.client_via(&proxy.url);
    let pause = proxy.pause("/v1/neighbourhoods/bastille", PausePoint::BeforeForward);
    let round = tokio::spawn({
        let client = via_proxy.clone();
        async move { client.sync_once(Duration::from_secs(30)).await }
    });
    pause.reached.await.unwrap();
    let set_aside = alice.act("bastille", ask("bastille-plants")).unwrap().mutation.seq;
    let after = alice.act("aligre", ask("aligre-plants")).unwrap().mutation.seq;
    assert_eq!(after, set_aside + 1);
    pause.resume.send(Resume::Go).unwrap();
    assert!(round.await.unwrap().unwrap().complete);
    // Bastille is forgotten, and the change to it set aside, with its reason.
    assert_eq!(alice.store.followed().unwrap(), vec!["aligre".to_owned()]);
    assert_eq!(alice.rejected(), vec![(set_aside, "not_member".to_owned())]);
    assert_eq!(alice.store.pending_count().unwrap(), 1);

    // The next round: the server expects the set-aside number first; the device sends it, then the rest.
    let report = via_proxy.sync_once(Duration::from_secs(30)).await.unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(alice.store.pending_count().unwrap(), 0);
    assert!(matches!(
        server.outcome("alice-device", set_aside),
        Some(Outcome::Rejected { code: Code::NotMember, .. })
    ));
    assert_eq!(server.outcome("alice-device", after), Some(Outcome::Applied));
    assert!(server.entity(&EntityKey::new("aligre", EntityKind::Favour, "aligre-plants")).is_some());
    assert!(server.entity(&EntityKey::new("bastille", EntityKind::Favour, "bastille-plants")).is_none());
    assert_eq!(alice.rejected(), vec![(set_aside, "not_member".to_owned())], "told once, still there");
    assert_eq!(via_proxy.status().last_error, None);
}

/// A server restored from an older backup has lost changes it had confirmed to a device: the device
/// cannot send them again. It says so in its sync status, keeps what is waiting, and does not knock
/// again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_lost_confirmed_changes_is_reported_and_nothing_waiting_is_dropped() {
    let server = TestServer::start().await;
    let alice = Device::new(&server, "alice").await;
    alice.act("aligre", neighbourhood("Aligre", "Alice")).unwrap();
    alice.act("aligre", ask("one")).unwrap();
    alice.act("aligre", ask("two")).unwrap();
    alice.sync().await;
    // The injected fault: the server forgets that it answered seqs 2 and 3.
    quartier_e2e::blocking(|| {
        server.server.backend().write(|tx| tx.set_last_seq("alice-device", 1)).unwrap();
    });
    let waiting = alice.act("aligre", ask("three")).unwrap().mutation;

    let proxy = FaultProxy::start(&server.url, 1, Faults::NONE).await.unwrap();
    let via_proxy = alice.client_via(&proxy.url);
    for _ in 0..2 {
        match via_proxy.sync_once(Duration::from_secs(30)).await.unwrap_err() {
            error @ SyncError::Server { status: 409, .. } => {
                assert!(!error.is_transient(), "not worth retrying soon: {error:?}");
                let SyncError::Server { code, message, .. } = error else { unreachable!() };
                assert_eq!(code, "seq_gap");
                for words in ["up to number 1", "confirmed up to 3", "backup", "1 change waiting", "is kept"]
                {
                    assert!(message.contains(words), "{words:?} in {message}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
    let status = via_proxy.status();
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("backup")), "{status:?}");
    assert_eq!(status.pending, 1);
    assert_eq!(alice.store.pending(10).unwrap(), vec![waiting], "nothing waiting is dropped");
    assert_eq!(server.outcome("alice-device", 4), None, "nothing was applied out of order");

    // The background loop backs off: a handful of pushes, not a hot loop.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pushes_before = proxy.stats().requests;
    let engine =
        tokio::spawn(via_proxy.clone().run(Duration::from_secs(3600), Duration::from_secs(3600), async {
            let _ = stopped.await;
        }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();
    engine.await.unwrap();
    let pushes = proxy.stats().requests - pushes_before;
    assert!((1..=2).contains(&pushes), "{pushes} pushes");
    assert_eq!(alice.store.pending_count().unwrap(), 1);
}

/// A phone restored from an older backup numbers its next changes as the server has already seen
/// them. The server does not answer them with the outcomes of the changes it had under those numbers
/// (which would lose them without a word): the device says so in its sync status and keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_restored_from_an_older_backup_loses_nothing_silently() {
    use quartier_core::store::{Identity, Store, StoreOptions};
    use quartier_core::sync::{FileSecretStore, SyncClient};
    use std::sync::Arc;
    let server = TestServer::start().await;
    let dir = tempfile::TempDir::new().unwrap();
    let identity = Identity { device_id: "alice-device".into(), person_id: "alice".into() };
    let open = |file: &str| {
        let options = StoreOptions { identity: Some(identity.clone()), ..StoreOptions::default() };
        Arc::new(Store::open(dir.path().join(file), options).unwrap())
    };
    let secrets = Arc::new(FileSecretStore::new(dir.path().join("secrets.json")));
    let phone = open("quartier.db");
    let client = SyncClient::new(phone.clone(), &server.url, secrets.clone()).unwrap();
    client.register().await.unwrap();
    phone.mutate("aligre", neighbourhood("Aligre", "Alice")).unwrap();
    phone.mutate("aligre", ask("one")).unwrap();
    assert!(client.sync_once(Duration::from_secs(30)).await.unwrap().complete);
    // The backup, then a change the server confirms after it.
    let backup = dir.path().join("backup.db");
    phone
        .read(|conn| {
            conn.execute("VACUUM INTO ?", [backup.to_str().unwrap()]).unwrap();
            Ok(())
        })
        .unwrap();
    let lost_on_the_phone = phone.mutate("aligre", ask("two")).unwrap().mutation;
    assert!(client.sync_once(Duration::from_secs(30)).await.unwrap().complete);
    drop(client);

    // Restored: the same device, the same token, the older database.
    let restored = open("backup.db");
    let client = SyncClient::new(restored.clone(), &server.url, secrets).unwrap();
    let three = restored.mutate("aligre", ask("three")).unwrap().mutation;
    assert_eq!(three.seq, lost_on_the_phone.seq, "the numbers went back");
    for _ in 0..2 {
        match client.sync_once(Duration::from_secs(30)).await.unwrap_err() {
            SyncError::Server { status: 409, code, message } => {
                assert_eq!(code, "seq_reused");
                for words in ["another change", "backup", "1 change waiting", "is kept"] {
                    assert!(message.contains(words), "{words:?} in {message}");
                }
            }
            other => panic!("{other:?}"),
        }
    }
    let status = client.status();
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("backup")), "{status:?}");
    assert_eq!(restored.pending(10).unwrap(), vec![three], "kept, not answered with another's outcome");
    assert!(server.entity(&EntityKey::new("aligre", EntityKind::Favour, "two")).is_some());
    assert!(server.entity(&EntityKey::new("aligre", EntityKind::Favour, "three")).is_none());
}
