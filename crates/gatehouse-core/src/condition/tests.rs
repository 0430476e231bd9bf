use super::*;
use serde_json::json;
use std::collections::HashMap;

struct F {
    actor: Actor,
    space: Permissions,
    content: Option<(bool, bool)>,
    props: HashMap<PropertyRef, Value>,
}

impl Facts for F {
    fn actor(&self) -> &Actor {
        &self.actor
    }
    fn space_permissions(&self) -> Permissions {
        self.space
    }
    fn content_access(&self) -> Option<(bool, bool)> {
        self.content
    }
    fn property(&self, p: &PropertyRef) -> Option<&Value> {
        self.props.get(p)
    }
}

fn user(t: AccountType, admin: bool) -> F {
    F {
        actor: Actor {
            account_id: (t != AccountType::Anonymous).then(|| "x".into()),
            account_type: t,
            site_admin: admin,
        },
        space: Permissions::NONE,
        content: None,
        props: HashMap::new(),
    }
}

fn prop(e: EntityKind, k: &str) -> PropertyRef {
    PropertyRef {
        entity: e,
        key: k.into(),
    }
}

fn c(v: Value) -> Condition {
    Condition::compile_module(&json!({ "conditions": v })).unwrap()
}

#[test]
fn user_conditions_by_account_type() {
    let cases = [
        (AccountType::Licensed, false, [true, false, false, true]),
        (AccountType::Licensed, true, [true, true, false, true]),
        (AccountType::Guest, false, [true, false, true, false]),
        (AccountType::Anonymous, false, [false, false, false, false]),
    ];
    for (t, admin, want) in cases {
        let f = user(t, admin);
        for (name, expected) in [
            "user_is_logged_in",
            "user_is_admin",
            "user_is_guest",
            "can_see_user_directory",
        ]
        .iter()
        .zip(want)
        {
            assert_eq!(
                c(json!([{"condition": name}])).holds(&f),
                expected,
                "{name} for {t:?} admin={admin}"
            );
            assert_eq!(
                c(json!([{"condition": name, "invert": true}])).holds(&f),
                !expected,
                "inverted {name}"
            );
        }
    }
}

#[test]
fn composites_nest_and_a_module_list_means_all() {
    let mut f = user(AccountType::Licensed, false);
    f.space = Permissions {
        view: true,
        edit: true,
        admin: false,
    };
    let cond = c(json!([
        {"condition": "user_is_logged_in"},
        {"or": [{"condition": "user_is_admin"}, {"and": [
            {"condition": "has_space_permission", "params": {"permission": "EDITSPACE"}},
            {"condition": "user_is_guest", "invert": true}
        ]}]}
    ]));
    assert!(cond.holds(&f));
    f.space.edit = false;
    assert!(!cond.holds(&f));
    assert!(c(json!([])).holds(&f), "no conditions: visible");
    let single =
        Condition::compile_module(&json!({"condition": {"condition": "user_is_guest"}})).unwrap();
    assert!(!single.holds(&f));
}

#[test]
fn property_conditions_with_paths_and_literals() {
    let mut f = user(AccountType::Licensed, false);
    f.props.insert(
        prop(EntityKind::Addon, "config"),
        json!({"showGlance": true, "tier": "gold", "tags": ["a", "b"], "n": 3}),
    );
    let holds =
        |params: Value, name: &str| c(json!([{"condition": name, "params": params}])).holds(&f);
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config"}),
        "entity_property_exists"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "showGlance"}),
        "entity_property_exists"
    ));
    assert!(!holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "missing"}),
        "entity_property_exists"
    ));
    assert!(!holds(
        json!({"entity": "content", "propertyKey": "config"}),
        "entity_property_exists"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "showGlance", "value": "true"}),
        "entity_property_equal_to"
    ));
    assert!(!holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "showGlance", "value": "false"}),
        "entity_property_equal_to"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "tier", "value": "gold"}),
        "entity_property_equal_to"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "n", "value": "3"}),
        "entity_property_equal_to"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "tags", "value": "[\"z\", \"b\"]"}),
        "entity_property_contains_any"
    ));
    assert!(!holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "tags", "value": "[\"z\"]"}),
        "entity_property_contains_any"
    ));
    assert!(holds(
        json!({"entity": "addon", "propertyKey": "config", "objectName": "tier", "value": "[\"gold\"]"}),
        "entity_property_contains_any"
    ));
}

#[test]
fn both_vocabularies_name_the_same_entities() {
    for (name, kind) in [
        ("issue", EntityKind::Content),
        ("page", EntityKind::Content),
        ("project", EntityKind::Space),
        ("space", EntityKind::Space),
    ] {
        let cond = c(
            json!([{"condition": "entity_property_exists", "params": {"entity": name, "propertyKey": "k"}}]),
        );
        let mut refs = vec![];
        cond.properties(&mut refs);
        assert_eq!(refs, [prop(kind, "k")]);
    }
}

#[test]
fn content_permission_needs_content() {
    let mut f = user(AccountType::Guest, false);
    let view =
        c(json!([{"condition": "has_content_permission", "params": {"permission": "view"}}]));
    let edit =
        c(json!([{"condition": "has_content_permission", "params": {"permission": "edit"}}]));
    assert!(!view.holds(&f), "no content: false");
    f.content = Some((true, false));
    assert!(view.holds(&f) && !edit.holds(&f));
    f.content = Some((false, true));
    assert!(!edit.holds(&f), "edit without view is not edit");
}

#[test]
fn unknown_or_malformed_conditions_fail_at_compile_time() {
    for bad in [
        json!([{"condition": "user_is_awesome"}]),
        json!([{"condition": "has_space_permission"}]),
        json!([{"condition": "has_space_permission", "params": {"permission": "FLY"}}]),
        json!([{"condition": "entity_property_exists", "params": {"entity": "galaxy", "propertyKey": "k"}}]),
        json!([{"condition": "entity_property_exists", "params": {"entity": "addon"}}]),
        json!([{"condition": "entity_property_equal_to", "params": {"entity": "addon", "propertyKey": "k"}}]),
        json!([{"condition": "entity_property_contains_any", "params": {"entity": "addon", "propertyKey": "k", "value": "3"}}]),
        json!([{"condition": "user_is_admin", "invert": "maybe"}]),
        json!([{"and": {"condition": "user_is_admin"}}]),
        json!([{"params": {}}]),
        json!({"condition": "user_is_admin"}),
    ] {
        let e = Condition::compile_module(&json!({ "conditions": bad })).unwrap_err();
        assert_eq!(e.code, "invalid_condition", "{bad}");
    }
    let e = Condition::compile_module(&json!({"conditions": [{"condition": "user_is_awesome"}]}))
        .unwrap_err();
    assert!(
        e.message.contains("user_is_awesome") && e.message.contains("user_is_guest"),
        "{}",
        e.message
    );
}

#[test]
fn traces_name_the_deciding_condition_and_the_values_seen() {
    let mut f = user(AccountType::Licensed, false);
    f.props.insert(
        prop(EntityKind::Addon, "config"),
        json!({"showGlance": false}),
    );
    let cond = c(json!([
        {"condition": "user_is_logged_in"},
        {"condition": "entity_property_equal_to", "params": {"entity": "addon", "propertyKey": "config", "objectName": "showGlance", "value": "true"}}
    ]));
    let t = cond.trace(&f);
    assert!(!t.result);
    assert_eq!(t.result, cond.holds(&f));
    let deciding = t.deciding_leaves();
    assert_eq!(deciding.len(), 1);
    assert_eq!(deciding[0].condition, "entity_property_equal_to");
    let detail = deciding[0].detail.as_deref().unwrap();
    assert!(
        detail.contains("\"showGlance\"")
            && detail.contains("is false")
            && detail.contains("wanted true"),
        "{detail}"
    );
}

#[test]
fn real_descriptor_conditions_compile() {
    // From shared/fixtures/descriptors/dynatrace-jira.json.
    let module = json!({"conditions": [{"and": [
        {"condition": "entity_property_exists", "params": {"entity": "addon", "propertyKey": "tenant"}},
        {"condition": "entity_property_exists", "params": {"entity": "issue", "propertyKey": "dynatraceProblemId"}}
    ]}]});
    let cond = Condition::compile_module(&module).unwrap();
    let mut refs = vec![];
    cond.properties(&mut refs);
    assert_eq!(
        refs,
        [
            prop(EntityKind::Addon, "tenant"),
            prop(EntityKind::Content, "dynatraceProblemId")
        ]
    );
    let mut f = user(AccountType::Licensed, false);
    assert!(!cond.holds(&f));
    f.props
        .insert(prop(EntityKind::Addon, "tenant"), json!("t"));
    f.props.insert(
        prop(EntityKind::Content, "dynatraceProblemId"),
        json!("P-1"),
    );
    assert!(cond.holds(&f));
}
