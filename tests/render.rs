//! `bakeryc render --env ENV`: stdout is byte for byte what `kubectl kustomize` prints for the
//! overlay `bakeryc build` writes, for the repository's bakery.toml and every environment of the
//! gitops fixture; an unknown environment, a missing or failing kubectl and an invalid config
//! are refused with the right exit code; and nothing is written in the workspace.

mod common;

use common::Test;

/// Builds in one workspace and renders in another, so the render cannot read the built tree.
fn assert_render_equals_kustomize(fixture: &str, environments: &[&str]) {
    let built = Test::fixture(fixture);
    built.run(&["build"]).success();
    let rendering = Test::fixture(fixture);
    for environment in environments {
        let run = rendering.run(&["render", "--env", environment]).success();
        let expected = common::kustomize_text(&built.join("generated/overlays").join(environment));
        assert!(!expected.is_empty(), "{fixture} {environment}");
        assert_eq!(run.stdout(), expected, "{fixture} {environment}");
        assert_eq!(run.stderr(), "", "{fixture} {environment}");
    }
}

#[test]
fn render_prints_what_kubectl_kustomize_prints_for_the_repository_config() {
    assert_render_equals_kustomize("bakery.toml", &["prod"]);
    // And for the committed tree itself, which `build --check` keeps equal to the build.
    let run = Test::fixture("bakery.toml")
        .run(&["render", "--env", "prod"])
        .success();
    assert_eq!(
        run.stdout(),
        common::kustomize_text(&common::repo("generated/overlays/prod"))
    );
}

#[test]
fn render_prints_what_kubectl_kustomize_prints_for_every_gitops_environment() {
    let test = Test::fixture("tests/fixtures/gitops/bakery.toml");
    let platform = test.platform();
    let names: Vec<&str> = platform
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    assert_render_equals_kustomize("tests/fixtures/gitops/bakery.toml", &names);
}

#[test]
fn render_writes_nothing_in_the_workspace() {
    let test = Test::fixture("tests/fixtures/gitops/bakery.toml");
    let before = test.files("");
    test.run(&["render", "--env", "prod"]).success();
    test.run(&["render", "-c", "bakery.toml", "-e", "dev"])
        .success();
    assert_eq!(test.files(""), before);
    assert!(!test.join("generated").exists());
}

#[test]
fn render_leaves_an_existing_generated_tree_untouched() {
    let test = Test::fixture("tests/fixtures/gitops/bakery.toml");
    test.run(&["build"]).success();
    // An edit by hand in generated/: render must neither read it nor repair it.
    let kustomization = test.join("generated/overlays/prod/kustomization.yaml");
    let edited = format!(
        "{}# edited by hand\n",
        std::fs::read_to_string(&kustomization).unwrap()
    );
    std::fs::write(&kustomization, &edited).unwrap();
    let before = test.files("");
    test.run(&["render", "--env", "prod"]).success();
    assert_eq!(test.files(""), before);
}

#[test]
fn an_unknown_environment_is_refused_with_the_list_of_environments() {
    let run = Test::fixture("tests/fixtures/gitops/bakery.toml")
        .run(&["render", "--env", "qa"])
        .status(2)
        .stderr_has("unknown environment \"qa\"")
        .stderr_has("dev, staging, prod");
    assert_eq!(run.stdout(), "");
}

#[test]
fn a_missing_kubectl_is_named_with_exit_2() {
    let test = Test::fixture("bakery.toml").env("KUBECTL", "/nonexistent");
    let run = test
        .run(&["render", "--env", "prod"])
        .status(2)
        .stderr_has("/nonexistent kustomize");
    assert_eq!(run.stdout(), "");
    assert!(!test.join("generated").exists());
}

#[test]
fn a_failing_kubectl_is_named_with_its_stderr() {
    let test = Test::fixture("bakery.toml").file(
        "fake-kubectl",
        "#!/bin/sh\necho 'half a stream'\necho \"kustomize broke on $2\" >&2\nexit 3\n",
    );
    let fake = test.join("fake-kubectl");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fake = fake.display().to_string();
    let run = test
        .run_env(&["render", "--env", "prod"], &[("KUBECTL", &fake)])
        .status(2)
        .stderr_has(&format!("`{fake} kustomize` failed"))
        .stderr_has("kustomize broke on ")
        .stderr_has("overlays/prod");
    // A failed render prints no partial stream.
    assert_eq!(run.stdout(), "");
}

#[test]
fn an_invalid_config_gets_the_usual_diagnostics_and_exit_1() {
    let source = std::fs::read_to_string(common::repo("bakery.toml")).unwrap();
    let test = Test::config(&source.replacen("[platform]", "[platfrom]", 1));
    let run = test
        .run(&["render", "--env", "prod"])
        .status(1)
        .stderr_has("is invalid");
    assert_eq!(run.stdout(), "");
}
