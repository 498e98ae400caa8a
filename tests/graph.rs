//! `bakeryc graph`: the README shows the platform's graph exactly as the binary draws it, both
//! languages draw every declared edge with its access and mTLS mark, and `check` says when there
//! is nothing to draw (access is platform-wide).

mod common;

use common::Test;

const FIXTURE: &str = "tests/fixtures/clients/bakery.toml";

#[test]
fn the_readme_shows_the_platforms_graph() {
    let run = Test::fixture("bakery.toml").run(&["graph"]).success();
    let readme = std::fs::read_to_string(common::repo("README.md")).unwrap();
    let marker = "<!-- bakeryc graph: kept equal by tests/graph.rs -->\n```mermaid\n";
    let start = readme.find(marker).expect("the README's graph marker") + marker.len();
    let end = start + readme[start..].find("```\n").unwrap();
    assert_eq!(
        &readme[start..end],
        run.stdout().as_str(),
        "run `bakeryc graph` and paste it into the README"
    );
}

#[test]
fn both_languages_draw_every_declared_edge() {
    let mermaid = Test::fixture(FIXTURE).run(&["graph"]).success().stdout();
    for edge in [
        "orders_service -->|\"orders_db (owner), TLS + password, mTLS in prod\"| orders_db",
        "orders_service -->|\"ACL user, TLS + password, mTLS in prod\"| redis",
        "forecasting_service -->|\"sales_db (read-only), TLS + password, mTLS in prod\"| sales_db",
        "sales_service -->|\"sales_db (read-write), TLS + password, mTLS in prod\"| sales_db",
    ] {
        assert!(mermaid.contains(edge), "{edge}:\n{mermaid}");
    }
    assert_eq!(mermaid.matches("-->").count(), 5, "{mermaid}");
    let dot = Test::fixture(FIXTURE)
        .run(&["graph", "--format", "dot"])
        .success()
        .stdout();
    assert!(dot.starts_with("digraph bakery {"), "{dot}");
    assert!(
        dot.contains("forecasting_service -> orders_db [label=\"orders_db (read-only), TLS + password, mTLS in prod\"];"),
        "{dot}"
    );
    assert_eq!(dot.matches(" -> ").count(), 5, "{dot}");
}

#[test]
fn without_clients_check_says_access_is_platform_wide() {
    let test = Test::fixture("tests/fixtures/one-database/bakery.toml");
    test.run(&["check"])
        .success()
        .stderr_has("no [[client]] is declared, so access is platform-wide");
    let graph = test.run(&["graph"]).success().stdout();
    assert!(
        graph.contains("every pod of the platform reaches every server"),
        "{graph}"
    );
    Test::fixture(FIXTURE)
        .run(&["check"])
        .success()
        .stderr_has("is valid");
}
