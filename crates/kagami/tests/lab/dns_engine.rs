//! The DNS engine and the discovery library against the lab's BIND.

use std::sync::Arc;

use kagami_core::{AddressPolicy, AssetSource, DomainName, NoProgress};
use kagami_discovery::{Discovery, DiscoveryConfig, Wordlist};
use kagami_dns::{Engine, EngineConfig, RecordType, TransferLimits};

use crate::support::{LAB_DNS, require_lab};

fn name(text: &str) -> DomainName {
    DomainName::parse(text).expect("valid name")
}

async fn lab_engine() -> Engine {
    require_lab();
    Engine::new(EngineConfig {
        resolvers: vec![format!("{LAB_DNS}:53").parse().expect("address")],
        ..EngineConfig::default()
    })
    .await
    .expect("engine")
}

#[tokio::test]
async fn answer_too_large_for_udp_is_fetched_over_tcp() {
    let engine = lab_engine().await;
    let answer = engine
        .query(&name("large.mail-good.test"), RecordType::TXT)
        .await
        .expect("answer");
    let txt = answer.txt();
    assert_eq!(txt.len(), 1);
    assert_eq!(
        txt[0].len(),
        1_500,
        "all six 250-byte strings, concatenated"
    );
    assert!(txt[0].starts_with("kagami-large-txt-0-"));
}

#[tokio::test]
async fn names_found_by_later_stages_join_the_inventory_when_in_scope() {
    let engine = lab_engine().await;
    let discovery = Discovery::new(
        engine,
        DiscoveryConfig {
            wordlist: Arc::new(Wordlist::empty()),
            ct: None,
            policy: AddressPolicy {
                allow_private: true,
            },
            axfr_limits: TransferLimits::default(),
            axfr_port: 53,
            max_names: 1_000,
        },
    );
    let domain = name("axfr-closed.test");
    let mut found = discovery.discover(&domain, &NoProgress).await;
    let portal = name("ct-only-portal.axfr-closed.test");
    assert!(
        found
            .assets(AddressPolicy::default())
            .iter()
            .all(|a| a.hostname != portal)
    );

    let offered = [
        portal.clone(),
        name("elsewhere.example.test"),
        name("www.axfr-closed.test"),
    ];
    let offered = discovery
        .offer_names(&mut found, offered, AssetSource::TlsSan, &NoProgress)
        .await;
    assert_eq!(offered.new, [portal.clone(), name("www.axfr-closed.test")]);
    let assets = found.assets(AddressPolicy {
        allow_private: true,
    });
    let asset = assets
        .iter()
        .find(|a| a.hostname == portal)
        .expect("portal joined");
    assert_eq!(asset.sources, [AssetSource::TlsSan]);
    assert_eq!(
        asset.ips,
        ["127.10.1.90".parse::<std::net::IpAddr>().expect("ip")]
    );
    assert!(asset.in_scope);
    assert!(
        assets
            .iter()
            .all(|a| a.hostname.as_str() != "elsewhere.example.test")
    );
}

#[tokio::test]
async fn follow_up_questions_go_out_in_the_same_run() {
    let engine = lab_engine().await;
    let mut a_answers = Vec::new();
    let mut aaaa_answers = Vec::new();
    engine
        .query_each_then(
            [
                (name("ns1.axfr-closed.test"), RecordType::A),
                (name("no-such-host.axfr-closed.test"), RecordType::A),
            ],
            |asked, rtype, answer| {
                let answer = answer.expect("the lab server answers");
                if rtype == RecordType::AAAA {
                    aaaa_answers.push((asked, answer.ips()));
                    return None;
                }
                let exists = !answer.ips().is_empty();
                a_answers.push((asked.clone(), answer.ips()));
                exists.then_some((asked, RecordType::AAAA))
            },
        )
        .await;
    a_answers.sort();
    assert_eq!(
        a_answers,
        [
            (
                name("no-such-host.axfr-closed.test"),
                Vec::<std::net::IpAddr>::new()
            ),
            (
                name("ns1.axfr-closed.test"),
                vec!["127.10.0.53".parse().expect("ip")]
            ),
        ]
    );
    // Only the name that exists was asked again, for its IPv6 address.
    assert_eq!(
        aaaa_answers,
        [(
            name("ns1.axfr-closed.test"),
            vec!["::1".parse().expect("ip")]
        )]
    );
    assert_eq!(engine.stats().queries, 3);
}
