//! Who may do what: roles × actions, every cell asserted.
//!
//! Roles: a stranger (registered, member of nothing), a member, a trader and a moderator of Aligre, a
//! member of Belleville only, and a member Aligre's moderator removed. Actions: pull Aligre, pull
//! Belleville, push a `favour.post` to Aligre, and push a mutation with a forged author or device id.

use crate::support::*;
use quartier_core::domain::mutation::*;
use quartier_core::domain::*;
use quartier_core::sync::protocol::Outcome;
use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pull {
    Allowed,
    Forbidden,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Post {
    Applied,
    NotMember,
}

async fn the_authorization_matrix(db: Db) {
    let server = TestServer::start(db).await;
    let h = hood(&server).await;
    let (mut mona, lea, tom) = (h.mona, h.lea, h.tom);
    let aligre = h.nid.clone();

    // Rémi joins Aligre and is removed by Mona.
    let remi = server.register("remi").await;
    server.join(&remi, CODE, "Rémi").await;
    server.act(&mut mona, &aligre, MemberRemove { member_id: "remi".into() }).await;

    // Belleville: Yves founds it, Béa joins it.
    let mut yves = server.register("yves").await;
    server.act(&mut yves, "belleville", found("Belleville", "Yves")).await;
    server.act(&mut yves, "belleville", invitation("inv-b", "belleville code", 5)).await;
    let bea = server.register("bea").await;
    server.join(&bea, "belleville code", "Béa").await;

    let zed = server.register("zed").await;
    let reader = lea.clone();

    use Post::*;
    use Pull::{Allowed, Forbidden};
    // role, device, pull Aligre, pull Belleville, favour.post to Aligre
    let matrix = [
        ("stranger", zed, Forbidden, Forbidden, NotMember),
        ("member of Aligre", lea, Allowed, Forbidden, Applied),
        ("trader of Aligre", tom, Allowed, Forbidden, Applied),
        ("moderator of Aligre", mona, Allowed, Forbidden, Applied),
        ("member of Belleville", bea, Forbidden, Allowed, NotMember),
        ("removed from Aligre", remi, Forbidden, Forbidden, NotMember),
    ];

    for (role, mut phone, pull_aligre, pull_belleville, post) in matrix {
        for (nid, expected) in [(aligre.as_str(), pull_aligre), ("belleville", pull_belleville)] {
            let response = server.pull(&phone, nid, 0, None).await;
            match expected {
                Allowed => {
                    assert_eq!(response.status(), StatusCode::OK, "{role} pulls {nid}");
                }
                Forbidden => {
                    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
                }
            }
        }

        let favour_id = format!("f-{}", phone.person);
        let m = phone.mutation(&aligre, ask(&favour_id, "Water my plants"));
        // Acting as someone else: the moderator, or for the moderator, a plain member.
        let victim = if phone.person == "mona" { "lea" } else { "mona" };
        let forged_author = Mutation { author: victim.into(), ..m.clone() };
        let forged_device = Mutation { device_id: format!("{victim}-phone"), ..m.clone() };
        for (what, forged) in [("author", &forged_author), ("device", &forged_device)] {
            let message = expect_error(
                server.push(&phone, std::slice::from_ref(forged)).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            )
            .await;
            assert!(message.contains(what), "{role}, forged {what}: {message}");
        }
        // Hidden behind a mutation of its own, a forged one still sinks the whole push.
        let batch = [m.clone(), Mutation { seq: m.seq + 1, ..forged_author.clone() }];
        expect_error(server.push(&phone, &batch).await, StatusCode::FORBIDDEN, "forbidden").await;

        // Nothing of the refused pushes was applied or counted: seq m.seq is still the next one.
        let results = server.push_ok(&phone, std::slice::from_ref(&m)).await;
        match post {
            Applied => assert_eq!(results[0].outcome, Outcome::Applied, "{role} posts a favour"),
            NotMember => assert!(
                matches!(&results[0].outcome, Outcome::Rejected { code: Code::NotMember, .. }),
                "{role} posts a favour: {:?}",
                results[0].outcome
            ),
        }
    }

    // Aligre holds the favours of its members, and nothing forged.
    let replica = server.replica(&reader, &aligre).await;
    let favours: Vec<(&str, &str)> = replica
        .entities
        .values()
        .filter_map(
            |e| if let Entity::Favour(f) = e { Some((f.id.as_str(), f.author.as_str())) } else { None },
        )
        .collect();
    assert_eq!(favours, vec![("f-lea", "lea"), ("f-mona", "mona"), ("f-tom", "tom")]);
}

on_both_backends!(the_authorization_matrix,);
