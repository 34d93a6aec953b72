//! Calls whose answer is lost on the way, asked again by the device, with a real server behind a fault
//! proxy that holds the answer and then closes the connection: registering, joining. The server has
//! committed each time; the device, which never heard it, asks again and must get the same result,
//! not a refusal that strands it.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::SyncError;
use quartier_e2e::fault_proxy::{FaultProxy, Faults, PausePoint, Resume};
use quartier_e2e::{Device, TestServer};
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
    zoe.act(
        "aligre",
        NeighbourhoodCreate {
            name: "Aligre".into(),
            description: String::new(),
            cell: None,
            display_name: "Zoé".into(),
        },
    )
    .unwrap();
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
    alice
        .act(
            "aligre",
            NeighbourhoodCreate {
                name: "Aligre".into(),
                description: String::new(),
                cell: None,
                display_name: "Alice".into(),
            },
        )
        .unwrap();
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
