//! `bakeryc plan` and `build` over adopted workloads, on the before/after pairs of
//! tests/plan/adopt/ (each case a bakery.toml applied after tests/plan/adopt/base.toml was
//! built; its header says what changes): a first build says which claims it adopts and creates
//! no volume for them; changing an adopted claim, data_path, database, role, workload or Service,
//! or dropping adoption, fails `build` with its code and leaves generated/ as it was; a
//! bakeryc-made claim left for an adopted one is refused as orphaned; keeping the adoption
//! refuses nothing; docs/adopt.md shows what plan really prints for the adopt-seed fixture.

mod common;

use common::{Test, repo};
use serde_json::Value;

fn case(name: &str) -> String {
    std::fs::read_to_string(repo(&format!("tests/plan/adopt/{name}.toml"))).unwrap()
}

/// A workspace where base.toml was built, then `name`'s bakery.toml written (not built).
fn after(name: &str) -> Test {
    Test::deployed_then(&case("base"), &case(name))
}

fn refusals(test: &Test) -> Vec<Value> {
    let run = test.run(&["plan", "--format", "json"]).success();
    let plan: Value = serde_json::from_str(&run.stdout()).unwrap();
    plan["refusals"].as_array().unwrap().clone()
}

#[test]
fn every_adoption_case_plans_as_its_snapshot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("plan/adopt/snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::glob!("plan/adopt/*.toml", |path| {
            let name = path.file_stem().unwrap().to_str().unwrap();
            // base.toml itself: the first build, with no tree deployed yet.
            let test = if name == "base" {
                Test::config(&case("base"))
            } else {
                after(name)
            };
            let run = test.run(&["plan"]).success();
            insta::assert_snapshot!(run.stdout());
        });
    });
}

#[test]
fn a_first_build_says_what_it_adopts_and_creates_no_volume_for_it() {
    let test = Test::config(&case("base"));
    let plan = test.run(&["plan"]).success().stdout();
    for claim in ["auth-db-pvc", "redis-pvc"] {
        assert!(
            plan.contains(&format!("adopts claim {claim} (no volume created)")),
            "{plan}"
        );
    }
    assert!(!plan.contains("adopts claim orders"), "{plan}");
    test.run(&["build"]).success();
    let base = std::fs::read_to_string(test.join("generated/base/auth-postgres.yaml")).unwrap();
    assert!(!base.contains("kind: PersistentVolumeClaim"), "{base}");
    assert!(
        base.contains("adopt.bakeryc.dev/claim: auth-db-pvc"),
        "{base}"
    );
}

#[test]
fn changing_or_dropping_an_adoption_fails_build_and_leaves_generated_untouched() {
    for (name, code, keys) in [
        (
            "rename-role",
            "bakery::plan::adopted-name-change",
            &["data_path", "role"][..],
        ),
        (
            "rename-workload",
            "bakery::plan::adopted-name-change",
            &["workload"][..],
        ),
        ("drop", "bakery::plan::adoption-dropped", &[][..]),
        ("replace", "bakery::plan::orphaned-volume", &[][..]),
    ] {
        let test = after(name);
        let before = test.files("generated");
        test.run(&["build"]).status(1).stderr_has(code);
        assert_eq!(
            before,
            test.files("generated"),
            "{name}: generated/ changed"
        );
        let refused = refusals(&test);
        assert!(!refused.is_empty(), "{name}");
        for key in keys {
            assert!(
                refused.iter().any(|r| r["key"] == *key),
                "{name}: {key} not refused in {refused:#?}"
            );
        }
        // A rename leaves the adopted claim to the new Deployment: no orphaned-volume for it.
        if name != "replace" {
            assert!(
                refused.iter().all(|r| r["refusal"] != "orphaned"),
                "{name}: {refused:#?}"
            );
        }
    }
}

#[test]
fn keeping_the_adoption_refuses_nothing() {
    let test = after("unchanged-adoption");
    assert!(refusals(&test).is_empty());
    test.run(&["build"]).success();
}

#[test]
fn docs_adopt_shows_what_plan_prints_for_the_adopt_seed_fixture() {
    let test = Test::fixture("tests/fixtures/adopt-seed/bakery.toml");
    let printed = test.run(&["plan", "--env", "prod"]).success().stdout();
    let docs = std::fs::read_to_string(repo("docs/adopt.md")).unwrap();
    let shown = format!("$ bakeryc plan --env prod\n{printed}");
    assert!(
        docs.contains(shown.trim_end()),
        "docs/adopt.md step 4 must show what plan prints:\n{shown}"
    );
}

#[test]
fn a_made_claim_is_left_for_an_adopted_one_through_one_retiring_build() {
    // The way docs/adopt.md gives out of the orphaned-volume refusal: retire, then adopt.
    let retired =
        case("base").replace("name = \"orders\"\n", "name = \"orders\"\nretired = true\n");
    let test = Test::deployed_then(&case("base"), &retired);
    test.run(&["build"]).success();
    let test = test.file("bakery.toml", &case("replace"));
    let plan = test.run(&["plan"]).success().stdout();
    assert!(
        plan.contains("adopts claim orders-pvc (no volume created)"),
        "{plan}"
    );
    test.run(&["build"]).success();
}
