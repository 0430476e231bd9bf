//! `cargo bench -p gatehouse-bench`: one render plan for a random (user,
//! page, location) on a synthetic tenant (50 apps × 20 modules, 1,000 users
//! with 10 % guests and 5 % admins, 200 spaces), decided by Gatehouse, by
//! cedar-policy and by casbin, on one core, after checking all three agree on
//! every sampled decision. `BENCH_SECONDS` bounds each engine's timing run
//! (default 5).

use std::time::{Duration, Instant};

use gatehouse_bench::casbin_encoding::Casbin;
use gatehouse_bench::cedar_encoding::{Cedar, module_uid};
use gatehouse_bench::*;
use gatehouse_core::token::{ContextTokenSpec, mint_context_token};
use gatehouse_server::render;

struct Timing {
    name: &'static str,
    nanos: Vec<u128>,
    decisions: usize,
}

impl Timing {
    fn pct(&self, q: f64) -> f64 {
        let mut v = self.nanos.clone();
        v.sort_unstable();
        v[((v.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0
    }
    fn mean_us(&self) -> f64 {
        self.nanos.iter().sum::<u128>() as f64 / self.nanos.len() as f64 / 1000.0
    }
    fn plans_per_sec(&self) -> f64 {
        1e6 / self.mean_us()
    }
}

/// Runs `f` over samples until `budget` is spent (at least 20 plans).
fn time(
    name: &'static str,
    samples: &[Sample],
    budget: Duration,
    mut f: impl FnMut(&Sample) -> usize,
) -> Timing {
    let start = Instant::now();
    let mut nanos = Vec::new();
    let mut decisions = 0;
    for s in samples.iter().cycle() {
        let t0 = Instant::now();
        decisions += std::hint::black_box(f(s));
        nanos.push(t0.elapsed().as_nanos());
        if nanos.len() >= 20 && (start.elapsed() > budget || nanos.len() >= 200_000) {
            break;
        }
    }
    Timing {
        name,
        nanos,
        decisions,
    }
}

fn main() {
    let budget = Duration::from_secs(
        std::env::var("BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    let t = Instant::now();
    let w = generate(42);
    let modules: usize = w
        .snapshot
        .apps
        .values()
        .map(|a| a.descriptor.modules.len())
        .sum();
    println!(
        "tenant: {} apps, {modules} modules, {} users, {} spaces, {} pages (built in {:?})",
        w.snapshot.apps.len(),
        w.snapshot.users.len(),
        w.snapshot.spaces.len(),
        w.snapshot.content.len(),
        t.elapsed()
    );
    let samples = w.samples(7, 2_000);
    let t = Instant::now();
    let cedar = Cedar::build(&w);
    println!(
        "cedar: {modules} policies and entities built in {:?}",
        t.elapsed()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = Instant::now();
    let casbin = rt.block_on(Casbin::build(&w));
    println!("casbin: {modules} policy lines built in {:?}", t.elapsed());

    // The module ids of each plan, outside the timed region for Cedar and
    // casbin (Gatehouse finds them itself, inside its timing).
    let plan_ids = |s: &Sample| {
        gatehouse_plan(&w, s)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };

    // 1. Agreement on every sampled decision.
    let (mut checked, mut visible) = (0usize, 0usize);
    for s in samples.iter().take(300) {
        let gh = gatehouse_plan(&w, s);
        let ids: Vec<String> = gh.iter().map(|(id, _)| id.clone()).collect();
        let uids: Vec<_> = ids.iter().map(|id| module_uid(id)).collect();
        let prepared = cedar.prepare(&w, s);
        let cd = cedar.plan(&prepared, &uids);
        assert_eq!(
            cd,
            cedar.plan_sliced(&prepared, &uids),
            "sliced Cedar agrees with whole-set Cedar"
        );
        let keyed: Vec<(String, String)> = ids
            .iter()
            .map(|id| (id.split('/').next().unwrap().to_string(), id.clone()))
            .collect();
        let prepared = casbin.prepare(&w, s);
        let cb = casbin.plan(&w, &prepared, &keyed);
        assert_eq!(
            cb,
            casbin.plan_sliced(&w, &prepared, &keyed),
            "sliced casbin agrees with whole-set casbin"
        );
        for (i, (id, g)) in gh.iter().enumerate() {
            assert!(
                *g == cd[i] && *g == cb[i],
                "disagreement on {s:?} {id}: gatehouse={g} cedar={} casbin={}",
                cd[i],
                cb[i]
            );
            visible += *g as usize;
        }
        checked += gh.len();
    }
    println!(
        "agreement: all three agree on {checked} decisions over 300 page views ({visible} visible, {} hidden)",
        checked - visible
    );

    // 2. Timing, one core, same samples.
    let gh = time("gatehouse (decisions)", &samples, budget, |s| {
        let view = s.view();
        let page = render::resolve(&w.snapshot, &view).unwrap();
        render::plan(&w.snapshot, &page, &view, false, |_| None).len()
    });
    let mint_key = b"bench-mint-key";
    let gh_full = time(
        "gatehouse (full plan: URLs + context tokens)",
        &samples,
        budget,
        |s| {
            let view = s.view();
            let page = render::resolve(&w.snapshot, &view).unwrap();
            let now = 1_800_000_000;
            render::plan(&w.snapshot, &page, &view, false, |app| {
                Some(mint_context_token(&ContextTokenSpec {
                    client_key: "bench-client",
                    app_key: &app.installation.app_key,
                    shared_secret: app
                        .installation
                        .shared_secret
                        .as_deref()
                        .unwrap_or("")
                        .as_bytes(),
                    mint_key,
                    user: page.user,
                    now,
                }))
            })
            .len()
        },
    );
    let cedar_ids: Vec<Vec<_>> = samples
        .iter()
        .map(|s| plan_ids(s).iter().map(|id| module_uid(id)).collect())
        .collect();
    let mut i = 0;
    let cd = time("cedar-policy", &samples, budget, |s| {
        let ids = &cedar_ids[i % samples.len()];
        i += 1;
        let prepared = cedar.prepare(&w, s);
        cedar.plan(&prepared, ids).len()
    });
    let mut i = 0;
    let cd_sliced = time(
        "cedar-policy, one policy per request",
        &samples,
        budget,
        |s| {
            let ids = &cedar_ids[i % samples.len()];
            i += 1;
            let prepared = cedar.prepare(&w, s);
            cedar.plan_sliced(&prepared, ids).len()
        },
    );
    let casbin_ids: Vec<Vec<(String, String)>> = samples
        .iter()
        .map(|s| {
            plan_ids(s)
                .into_iter()
                .map(|id| (id.split('/').next().unwrap().to_string(), id))
                .collect()
        })
        .collect();
    let mut i = 0;
    let cb = time("casbin", &samples, budget, |s| {
        let ids = &casbin_ids[i % samples.len()];
        i += 1;
        let prepared = casbin.prepare(&w, s);
        casbin.plan(&w, &prepared, ids).len()
    });

    let mut i = 0;
    let cb_sliced = time(
        "casbin, one policy line per request",
        &samples,
        budget,
        |s| {
            let ids = &casbin_ids[i % samples.len()];
            i += 1;
            let prepared = casbin.prepare(&w, s);
            casbin.plan_sliced(&w, &prepared, ids).len()
        },
    );

    println!();
    println!(
        "| engine | plans timed | decisions/plan | p50 | p99 | mean | plans/s (1 core) | decisions/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for t in [&gh, &gh_full, &cd, &cd_sliced, &cb, &cb_sliced] {
        println!(
            "| {} | {} | {:.0} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} | {:.0} |",
            t.name,
            t.nanos.len(),
            t.decisions as f64 / t.nanos.len() as f64,
            t.pct(0.5),
            t.pct(0.99),
            t.mean_us(),
            t.plans_per_sec(),
            t.decisions as f64 / (t.nanos.iter().sum::<u128>() as f64 / 1e9)
        );
    }
    println!();
    let r = |a: &Timing, b: &Timing| a.mean_us() / b.mean_us();
    println!(
        "ratios of mean plan time (same samples, one core): cedar/gatehouse {:.0}×, cedar-sliced/gatehouse {:.1}×, casbin/gatehouse {:.0}×, casbin-sliced/gatehouse {:.1}×; against gatehouse's full plan (with context tokens): cedar {:.0}×, cedar-sliced {:.1}×, casbin {:.0}×, casbin-sliced {:.1}×",
        r(&cd, &gh),
        r(&cd_sliced, &gh),
        r(&cb, &gh),
        r(&cb_sliced, &gh),
        r(&cd, &gh_full),
        r(&cd_sliced, &gh_full),
        r(&cb, &gh_full),
        r(&cb_sliced, &gh_full)
    );
}
