//! The same decisions as cedar-policy policies and entities.

use std::collections::BTreeMap;
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
use gatehouse_core::condition::EntityKind;
use serde_json::{Value, json};

use crate::{Dialect, Sample, World, flatten, gate_expr, resolve, space_sets, translate};

struct CedarDialect;

impl Dialect for CedarDialect {
    fn user_type(&self) -> &'static str {
        "principal.type"
    }
    fn user_admin(&self) -> &'static str {
        "principal.admin"
    }
    fn in_space_set(&self, set: &str) -> String {
        format!("(context.hasSpace && principal.{set}.contains(context.space))")
    }
    fn content_view(&self) -> String {
        "(context.hasContent && principal.views.contains(context.space) && (!context.content.restricted || context.content.allowed.contains(principal)))".into()
    }
    fn has_content(&self) -> &'static str {
        "context.hasContent"
    }
    fn scalars(&self, e: EntityKind) -> &'static str {
        match e {
            EntityKind::Addon => "resource.app.props",
            EntityKind::Content => "context.content.props",
            EntityKind::Space | EntityKind::User => "context.noProps",
        }
    }
    fn arrays(&self, e: EntityKind) -> &'static str {
        match e {
            EntityKind::Addon => "resource.app.arrs",
            EntityKind::Content => "context.content.arrs",
            EntityKind::Space | EntityKind::User => "context.noProps",
        }
    }
    fn has_key(&self, map: &str, key: &str) -> String {
        format!("{map} has {}", json!(key))
    }
    fn index(&self, map: &str, key: &str) -> String {
        format!("{map}[{}]", json!(key))
    }
    fn contains_any(&self, array: &str, values: &[String]) -> String {
        format!("{array}.containsAny({})", json!(values))
    }
}

fn uid(t: &str, id: &str) -> Value {
    json!({"__entity": {"type": t, "id": id}})
}

fn props_of(
    v: Option<&Value>,
    key: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, Vec<String>>) {
    let (mut s, mut a) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = v {
        flatten(key, v, &mut s, &mut a);
    }
    (s, a)
}

pub struct Cedar {
    policies: PolicySet,
    /// The same policies, one set per module: Cedar's best case, where the
    /// caller already knows which single policy can apply.
    sliced: std::collections::HashMap<String, PolicySet>,
    entities: Entities,
    authorizer: Authorizer,
    action: EntityUid,
}

pub const ANONYMOUS: &str = "__anonymous";
const NONE: &str = "__none";

impl Cedar {
    pub fn build(w: &World) -> Cedar {
        let d = CedarDialect;
        let snap = &w.snapshot;
        // Policies: one per module.
        let mut text = String::new();
        let mut sliced = std::collections::HashMap::new();
        let mut apps: Vec<_> = snap.apps.values().collect();
        apps.sort_by(|a, b| a.installation.app_key.cmp(&b.installation.app_key));
        for app in &apps {
            for m in &app.descriptor.modules {
                let id = format!("{}/{}", app.installation.app_key, m.key);
                let policy = format!(
                    "permit(principal, action == Action::\"view\", resource == Module::{}) when {{ {} && {} }};\n",
                    json!(id),
                    gate_expr(m.rule, &d, "resource.app.guestOk"),
                    translate(&m.condition, &d)
                );
                sliced.insert(
                    id,
                    PolicySet::from_str(&policy).expect("generated Cedar policy parses"),
                );
                text.push_str(&policy);
            }
        }
        let policies = PolicySet::from_str(&text).expect("generated Cedar policies parse");
        // Entities.
        let mut ents = Vec::new();
        let sets = |ss: &[String]| ss.iter().map(|k| uid("Space", k)).collect::<Vec<_>>();
        for u in snap.users.values() {
            let [v, e, a] = space_sets(w, u);
            ents.push(json!({"uid": {"type": "User", "id": u.account_id}, "parents": [], "attrs": {
                "type": u.account_type.as_str(), "admin": u.site_admin, "views": sets(&v), "edits": sets(&e), "admins": sets(&a)
            }}));
        }
        ents.push(json!({"uid": {"type": "User", "id": ANONYMOUS}, "parents": [], "attrs": {"type": "anonymous", "admin": false, "views": [], "edits": [], "admins": []}}));
        for s in snap.spaces.keys().map(String::as_str).chain([NONE]) {
            ents.push(json!({"uid": {"type": "Space", "id": s}, "parents": [], "attrs": {}}));
        }
        let content_prop = |key: &str, id: &str| {
            snap.values
                .get(&gatehouse_core::condition::PropertyRef {
                    entity: EntityKind::Content,
                    key: key.into(),
                })
                .and_then(|m| m.get(id))
        };
        for c in snap.content.values() {
            let (mut props, mut arrs) = props_of(content_prop("labels", &c.id), "labels");
            let (p2, a2) = props_of(content_prop("flag", &c.id), "flag");
            props.extend(p2);
            arrs.extend(a2);
            ents.push(json!({"uid": {"type": "Content", "id": c.id}, "parents": [], "attrs": {
                "restricted": c.restricted_to.is_some(),
                "allowed": c.restricted_to.iter().flatten().map(|u| uid("User", u)).collect::<Vec<_>>(),
                "props": props, "arrs": arrs,
            }}));
        }
        ents.push(json!({"uid": {"type": "Content", "id": NONE}, "parents": [], "attrs": {"restricted": false, "allowed": [], "props": {}, "arrs": {}}}));
        for app in &apps {
            let key = &app.installation.app_key;
            let config = snap
                .values
                .get(&gatehouse_core::condition::PropertyRef {
                    entity: EntityKind::Addon,
                    key: "config".into(),
                })
                .and_then(|m| m.get(key));
            let (props, arrs) = props_of(config, "config");
            let guest_ok =
                app.descriptor.guest_access_supported && app.installation.guest_access_enabled;
            ents.push(json!({"uid": {"type": "App", "id": key}, "parents": [], "attrs": {"guestOk": guest_ok, "props": props, "arrs": arrs}}));
            for m in &app.descriptor.modules {
                ents.push(json!({"uid": {"type": "Module", "id": format!("{key}/{}", m.key)}, "parents": [], "attrs": {"app": uid("App", key)}}));
            }
        }
        ents.push(json!({"uid": {"type": "Action", "id": "view"}, "parents": [], "attrs": {}}));
        let entities = Entities::from_json_value(Value::Array(ents), None)
            .expect("generated Cedar entities load");
        Cedar {
            policies,
            sliced,
            entities,
            authorizer: Authorizer::new(),
            action: EntityUid::from_str("Action::\"view\"").unwrap(),
        }
    }

    /// The request parts of one page view, built once per plan.
    pub fn prepare(&self, w: &World, s: &Sample) -> (EntityUid, Context) {
        let page = resolve(w, s);
        let principal = EntityUid::from_str(&format!(
            "User::{}",
            json!(s.account_id.as_deref().unwrap_or(ANONYMOUS))
        ))
        .unwrap();
        let space = page.space.map_or(NONE, |sp| sp.key.as_str());
        let content = page.content.map_or(NONE, |c| c.id.as_str());
        let ctx = Context::from_json_value(
            json!({"space": uid("Space", space), "hasSpace": page.space.is_some(), "content": uid("Content", content), "hasContent": page.content.is_some(), "noProps": {}}),
            None,
        )
        .expect("context");
        (principal, ctx)
    }

    /// Decides every module of a plan against the whole policy set.
    pub fn plan(&self, prepared: &(EntityUid, Context), ids: &[(String, EntityUid)]) -> Vec<bool> {
        self.decide(prepared, ids, |_| &self.policies)
    }

    /// The same, each request against only its module's policy.
    pub fn plan_sliced(
        &self,
        prepared: &(EntityUid, Context),
        ids: &[(String, EntityUid)],
    ) -> Vec<bool> {
        self.decide(prepared, ids, |id| &self.sliced[id])
    }

    fn decide<'a>(
        &'a self,
        prepared: &(EntityUid, Context),
        ids: &[(String, EntityUid)],
        set: impl Fn(&str) -> &'a PolicySet,
    ) -> Vec<bool> {
        ids.iter()
            .map(|(id, resource)| {
                let req = Request::new(
                    prepared.0.clone(),
                    self.action.clone(),
                    resource.clone(),
                    prepared.1.clone(),
                    None,
                )
                .expect("request");
                self.authorizer
                    .is_authorized(&req, set(id), &self.entities)
                    .decision()
                    == Decision::Allow
            })
            .collect()
    }
}

pub fn module_uid(id: &str) -> (String, EntityUid) {
    (
        id.to_string(),
        EntityUid::from_str(&format!("Module::{}", json!(id))).unwrap(),
    )
}
