//! The planner's tests: same seed, same plan; limits refused.

use super::*;

fn knobs() -> Knobs {
    Knobs {
        steps: 200,
        clients: 4,
        servers: vec!["WB".into(), "RS".into(), "PA".into()],
        faults: FaultMix::all(),
        contended_env: false,
        think_ms: 60,
        lenient_stock: false,
        cluster: None,
    }
}

#[test]
fn a_cluster_target_adds_node_partitions_and_leaves_other_plans_alone() {
    let k = knobs();
    let with = Knobs {
        cluster: Some("WB".into()),
        ..knobs()
    };
    assert!(with.validate().is_ok());
    let p = plan(11, &with);
    assert!(p.faults.iter().any(|f| matches!(
        f.kind,
        FaultKind::NodeIsolate { server: 0, node } if node < CLUSTER_NODES
    )));
    assert!(!plan(11, &k)
        .faults
        .iter()
        .any(|f| matches!(f.kind, FaultKind::NodeIsolate { .. })));
    let bad = Knobs {
        cluster: Some("RA".into()),
        ..knobs()
    };
    assert!(bad.validate().unwrap_err().contains("RA"));
}

#[test]
fn a_seed_always_gives_the_same_plan_and_seeds_differ() {
    let k = knobs();
    assert_eq!(plan(7, &k), plan(7, &k));
    assert_ne!(plan(7, &k), plan(8, &k));
    let p = plan(7, &k);
    assert_eq!(p.clients.iter().map(Vec::len).sum::<usize>(), 200);
    assert!(!p.faults.is_empty());
    assert!(p.faults.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    // Takeovers only on servers that may be master; forwarding only off the owner.
    for op in p.clients.iter().flatten() {
        match op.action {
            Action::Takeover => assert_ne!(op.target, 2),
            Action::Handover { to } => assert_ne!(to, 2),
            Action::Book { forward: true, .. } => assert_ne!(op.target, 2),
            _ => {}
        }
    }
}

#[test]
fn fault_mixes_parse_and_print_back() {
    assert_eq!(FaultMix::parse("all").unwrap(), FaultMix::all());
    let m = FaultMix::parse("kill,mangle").unwrap();
    assert!(m.kill && m.mangle && !m.pause);
    assert_eq!(m.to_list(), "kill,mangle");
    assert_eq!(
        FaultMix::parse(&FaultMix::all().to_list()).unwrap(),
        FaultMix::all()
    );
    assert!(FaultMix::parse("kill,fire").unwrap_err().contains("fire"));
    let none = plan(
        1,
        &Knobs {
            faults: FaultMix::none(),
            ..knobs()
        },
    );
    assert!(none.faults.is_empty());
    assert!(none.skews.values().all(|s| *s == 0));
}

#[test]
fn bad_knobs_are_refused_with_the_reason() {
    let bad = |f: &dyn Fn(&mut Knobs)| {
        let mut k = knobs();
        f(&mut k);
        k.validate().unwrap_err()
    };
    assert!(bad(&|k| k.steps = 0).contains("steps"));
    assert!(bad(&|k| k.clients = 0).contains("clients"));
    assert!(bad(&|k| k.servers = vec!["WB".into()]).contains("2 to"));
    assert!(bad(&|k| k.servers = vec!["PA".into(), "WB".into()]).contains("initial master"));
    assert!(bad(&|k| k.servers = vec!["WB".into(), "RS".into()]).contains("property server"));
    assert!(bad(&|k| k.servers = vec!["WB".into(), "WB".into(), "PA".into()]).contains("twice"));
    assert!(knobs().validate().is_ok());
}
