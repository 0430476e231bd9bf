//! The same decisions as a casbin ABAC model: one policy line per module,
//! whose rule is a rhai expression over request attributes, `eval`ed by the
//! matcher `r.obj.id == p.obj && eval(p.sub_rule)`.

use std::collections::BTreeMap;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi, Model};
use gatehouse_core::condition::{EntityKind, PropertyRef};
use serde_json::json;

use crate::{Dialect, Sample, World, flatten, gate_expr, resolve, space_sets, translate};

struct RhaiDialect;

impl Dialect for RhaiDialect {
    fn user_type(&self) -> &'static str {
        "r.sub.t"
    }
    fn user_admin(&self) -> &'static str {
        "r.sub.admin"
    }
    fn in_space_set(&self, set: &str) -> String {
        format!("(r.obj.has_space && r.sub.{set}.contains(r.obj.space))")
    }
    fn content_view(&self) -> String {
        "(r.obj.has_content && r.sub.views.contains(r.obj.space) && (!r.obj.restricted || r.obj.allowed.contains(r.sub.id)))".into()
    }
    fn has_content(&self) -> &'static str {
        "r.obj.has_content"
    }
    fn scalars(&self, e: EntityKind) -> &'static str {
        match e {
            EntityKind::Addon => "r.obj.aprops",
            _ => "r.obj.cprops",
        }
    }
    fn arrays(&self, e: EntityKind) -> &'static str {
        match e {
            EntityKind::Addon => "r.obj.aarrs",
            _ => "r.obj.carrs",
        }
    }
    fn has_key(&self, map: &str, key: &str) -> String {
        format!("({} in {map})", json!(key))
    }
    fn index(&self, map: &str, key: &str) -> String {
        format!("{map}[{}]", json!(key))
    }
    fn contains_any(&self, array: &str, values: &[String]) -> String {
        let parts: Vec<String> = values
            .iter()
            .map(|v| format!("{array}.contains({})", json!(v)))
            .collect();
        format!("({})", parts.join(" || "))
    }
}

#[derive(serde::Serialize, Hash, Clone)]
pub struct Sub {
    id: String,
    t: String,
    admin: bool,
    views: Vec<String>,
    edits: Vec<String>,
    admins: Vec<String>,
}

#[derive(serde::Serialize, Hash, Clone)]
pub struct Obj {
    id: String,
    guest_ok: bool,
    aprops: BTreeMap<String, String>,
    aarrs: BTreeMap<String, Vec<String>>,
    space: String,
    has_space: bool,
    has_content: bool,
    restricted: bool,
    allowed: Vec<String>,
    cprops: BTreeMap<String, String>,
    carrs: BTreeMap<String, Vec<String>>,
}

pub struct Casbin {
    enforcer: Enforcer,
    /// One enforcer per module holding only its line: casbin's best case.
    sliced: std::collections::HashMap<String, Enforcer>,
}

async fn enforcer(lines: Vec<Vec<String>>) -> Enforcer {
    let mut m = DefaultModel::default();
    m.add_def("r", "r", "sub, obj, act");
    m.add_def("p", "p", "sub_rule, obj, act");
    m.add_def("e", "e", "some(where (p.eft == allow))");
    m.add_def("m", "m", "r.obj.id == p.obj && eval(p.sub_rule)");
    let mut e = Enforcer::new(m, MemoryAdapter::default())
        .await
        .expect("casbin enforcer");
    e.add_policies(lines).await.expect("casbin policies");
    e
}

impl Casbin {
    pub async fn build(w: &World) -> Casbin {
        let d = RhaiDialect;
        let mut rules = Vec::new();
        for app in w.snapshot.apps.values() {
            for m in &app.descriptor.modules {
                let rule = format!(
                    "{} && {}",
                    gate_expr(m.rule, &d, "r.obj.guest_ok"),
                    translate(&m.condition, &d)
                );
                rules.push(vec![
                    rule,
                    format!("{}/{}", app.installation.app_key, m.key),
                    "view".to_string(),
                ]);
            }
        }
        let mut sliced = std::collections::HashMap::new();
        for line in &rules {
            sliced.insert(line[1].clone(), enforcer(vec![line.clone()]).await);
        }
        Casbin {
            enforcer: enforcer(rules).await,
            sliced,
        }
    }

    /// The subject and the page half of the object, built once per plan.
    pub fn prepare(&self, w: &World, s: &Sample) -> (Sub, Obj) {
        let page = resolve(w, s);
        let sub = match page.user {
            Some(u) => {
                let [views, edits, admins] = space_sets(w, u);
                Sub {
                    id: u.account_id.clone(),
                    t: u.account_type.as_str().into(),
                    admin: u.site_admin,
                    views,
                    edits,
                    admins,
                }
            }
            None => Sub {
                id: String::new(),
                t: "anonymous".into(),
                admin: false,
                views: vec![],
                edits: vec![],
                admins: vec![],
            },
        };
        let (mut cprops, mut carrs) = (BTreeMap::new(), BTreeMap::new());
        if let Some(c) = page.content {
            for key in ["labels", "flag"] {
                if let Some(v) = w.snapshot.value(
                    &PropertyRef {
                        entity: EntityKind::Content,
                        key: key.into(),
                    },
                    &c.id,
                ) {
                    flatten(key, v, &mut cprops, &mut carrs);
                }
            }
        }
        let obj = Obj {
            id: String::new(),
            guest_ok: false,
            aprops: BTreeMap::new(),
            aarrs: BTreeMap::new(),
            space: page.space.map(|s| s.key.clone()).unwrap_or_default(),
            has_space: page.space.is_some(),
            has_content: page.content.is_some(),
            restricted: page.content.is_some_and(|c| c.restricted_to.is_some()),
            allowed: page
                .content
                .and_then(|c| c.restricted_to.clone())
                .unwrap_or_default(),
            cprops,
            carrs,
        };
        (sub, obj)
    }

    /// Decides every module of a plan: `ids` as (app key, `app/module`).
    pub fn plan(&self, w: &World, prepared: &(Sub, Obj), ids: &[(String, String)]) -> Vec<bool> {
        self.decide(w, prepared, ids, |_| &self.enforcer)
    }

    /// The same, each request against an enforcer holding only its line.
    pub fn plan_sliced(
        &self,
        w: &World,
        prepared: &(Sub, Obj),
        ids: &[(String, String)],
    ) -> Vec<bool> {
        self.decide(w, prepared, ids, |id| &self.sliced[id])
    }

    fn decide<'a>(
        &'a self,
        w: &World,
        prepared: &(Sub, Obj),
        ids: &[(String, String)],
        enforcer: impl Fn(&str) -> &'a Enforcer,
    ) -> Vec<bool> {
        ids.iter()
            .map(|(app_key, id)| {
                let app = &w.snapshot.apps[app_key];
                let (mut aprops, mut aarrs) = (BTreeMap::new(), BTreeMap::new());
                if let Some(v) = w.snapshot.value(
                    &PropertyRef {
                        entity: EntityKind::Addon,
                        key: "config".into(),
                    },
                    app_key,
                ) {
                    flatten("config", v, &mut aprops, &mut aarrs);
                }
                let obj = Obj {
                    id: id.clone(),
                    guest_ok: app.descriptor.guest_access_supported
                        && app.installation.guest_access_enabled,
                    aprops,
                    aarrs,
                    ..prepared.1.clone()
                };
                enforcer(id)
                    .enforce((prepared.0.clone(), obj, "view"))
                    .expect("casbin enforce")
            })
            .collect()
    }
}
