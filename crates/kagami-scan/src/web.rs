//! Hands the HTTP(S) services that probing identified to the web stage,
//! with the scope its redirects may follow: the in-scope names and
//! addresses being probed, and the ports being scanned.

use std::collections::BTreeMap;
use std::net::IpAddr;

use kagami_core::Progress;
use kagami_net::Probed;
use kagami_web::{WebScope, WebService, WebStage};
use time::OffsetDateTime;

use crate::probing::{ProbeSettings, ProbeTarget};

pub(crate) async fn run(
    services: &[Probed],
    targets: &BTreeMap<IpAddr, ProbeTarget>,
    settings: &ProbeSettings,
    progress: &dyn Progress,
) -> WebStage {
    let web: Vec<WebService> = services
        .iter()
        .filter(|p| p.service.protocol == "http")
        .filter_map(|p| {
            let target = targets.get(&p.service.ip)?;
            Some(WebService {
                ip: p.service.ip,
                port: p.service.port,
                tls: p.service.tls_wrapped,
                hostnames: target.hostnames.clone(),
                domain: target.domain.clone(),
            })
        })
        .collect();
    let mut scope = WebScope {
        ports: settings.ports.iter().copied().collect(),
        ..WebScope::default()
    };
    for (&ip, target) in targets {
        scope.ips.insert(ip);
        for name in &target.hostnames {
            scope.names.entry(name.clone()).or_insert(ip);
        }
    }
    kagami_web::probe(
        &web,
        &scope,
        &settings.web,
        progress,
        OffsetDateTime::now_utc(),
    )
    .await
}
