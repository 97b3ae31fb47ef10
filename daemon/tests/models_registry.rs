//! The registry on disk: immutable versions, the `active` alias, and broken
//! artifacts that are refused with a reason while everything else keeps working.

mod models_common;

use std::fs;

use mld::model::{Algorithm, ModelError, Registry, VersionStatus};
use models_common::*;

/// A registry with `good` v1 and v2 (decision tree, then naive Bayes).
fn registry_with_two_versions(dir: &std::path::Path) -> Registry {
    let catalog = catalog(vec![("iris", csv_dataset(&iris_csv(), "species"))]);
    let registry = Registry::open(dir.join("registry"), None).unwrap();
    for algorithm in [Algorithm::DecisionTree, Algorithm::GaussianNb] {
        let t = train_ok(&catalog, &request("iris", algorithm, &[]));
        let id = registry.save_experiment(t.meta, &t.artifact).unwrap();
        registry.commit_experiment(&id, "good").unwrap();
    }
    registry
}

fn broken_reason(registry: &Registry, name: &str, version: u32) -> String {
    let entry = registry
        .list()
        .unwrap()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap();
    match &entry
        .versions
        .iter()
        .find(|v| v.version == version)
        .unwrap()
        .status
    {
        VersionStatus::Broken { reason } => reason.clone(),
        VersionStatus::Ok(_) => panic!("{name} v{version} listed as fine"),
    }
}

#[test]
fn committed_versions_are_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    let catalog = catalog(vec![("iris", csv_dataset(&iris_csv(), "species"))]);
    let t = train_ok(&catalog, &request("iris", Algorithm::Svm, &[]));
    let before = fs::read(registry.root().join("good/v1/model.json")).unwrap();
    let err = registry
        .commit_as("good", 1, t.meta.clone(), &t.artifact)
        .unwrap_err();
    assert!(
        matches!(err, ModelError::VersionExists { version: 1, .. }),
        "{err}"
    );
    assert_eq!(
        fs::read(registry.root().join("good/v1/model.json")).unwrap(),
        before
    );
    // No temp directories are left behind.
    let leftovers: Vec<_> = fs::read_dir(registry.root().join("good"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
    // Explicit new versions still work, and bad names are refused before touching disk.
    assert_eq!(
        registry
            .commit_as("good", 3, t.meta.clone(), &t.artifact)
            .unwrap()
            .version,
        3
    );
    assert!(matches!(
        registry.commit_as("../evil", 1, t.meta, &t.artifact),
        Err(ModelError::InvalidName { .. })
    ));
}

#[test]
fn active_alias_moves_only_to_existing_versions() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    assert_eq!(registry.active("good").unwrap(), None);
    assert!(matches!(
        registry.load_active("good"),
        Err(ModelError::NoActive { .. })
    ));
    registry.set_active("good", 1).unwrap();
    assert_eq!(
        registry.load_active("good").unwrap().meta().algorithm,
        Algorithm::DecisionTree
    );
    let moved = registry.set_active("good", 2).unwrap();
    assert_eq!(moved.version, 2);
    assert_eq!(
        registry.load_active("good").unwrap().meta().algorithm,
        Algorithm::GaussianNb
    );
    assert!(matches!(
        registry.set_active("good", 9),
        Err(ModelError::NotFound {
            version: Some(9),
            ..
        })
    ));
    assert_eq!(
        registry.active("good").unwrap(),
        Some(2),
        "a refused move leaves the alias"
    );
    // The config's initial alias applies only where none is set.
    let initial = [("good".to_string(), 1u32)].into_iter().collect();
    assert!(registry.apply_initial_active(&initial).is_empty());
    assert_eq!(registry.active("good").unwrap(), Some(2));
}

#[test]
fn truncated_payload_is_refused_and_the_rest_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    let payload = registry.root().join("good/v1/model.json");
    let bytes = fs::read(&payload).unwrap();
    fs::write(&payload, &bytes[..bytes.len() / 2]).unwrap();

    let err = registry.load("good", 1).unwrap_err();
    assert!(matches!(err, ModelError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("content hash mismatch"), "{err}");
    assert!(broken_reason(&registry, "good", 1).contains("content hash mismatch"));
    // v2 still loads and scores.
    let v2 = registry.load("good", 2).unwrap();
    let iris = mld::training::dataset::load_csv("iris", &iris_csv(), "species", None).unwrap();
    assert_eq!(
        v2.predict(&v2.bind(&iris.features).unwrap(), iris.x.view())
            .unwrap()
            .len(),
        150
    );
    // The alias refuses to point at a broken version.
    assert!(registry.set_active("good", 1).is_err());
}

#[test]
fn garbage_meta_and_unknown_format_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    let meta1 = registry.root().join("good/v1/meta.json");
    fs::write(&meta1, b"\x00\x01not json").unwrap();
    let err = registry.load("good", 1).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("not valid JSON"), "{err}");

    let meta2 = registry.root().join("good/v2/meta.json");
    let text = fs::read_to_string(&meta2)
        .unwrap()
        .replace("mld-model/1", "mld-model/99");
    fs::write(&meta2, text).unwrap();
    let err = registry.load("good", 2).unwrap_err();
    assert!(
        matches!(err, ModelError::UnknownFormat { ref found, .. } if found == "mld-model/99"),
        "{err}"
    );

    // Listing still works and shows both as broken, with their reasons.
    assert!(broken_reason(&registry, "good", 1).contains("not valid JSON"));
    assert!(broken_reason(&registry, "good", 2).contains("unknown format"));
}

#[test]
fn payload_that_hashes_right_but_does_not_fit_the_meta_is_refused() {
    // Someone edits meta.json to claim another feature list: the hash still matches the payload.
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    let meta = registry.root().join("good/v2/meta.json");
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(&meta).unwrap()).unwrap();
    value["features"] = serde_json::json!(["only_one"]);
    fs::write(&meta, serde_json::to_vec(&value).unwrap()).unwrap();
    let err = registry.load("good", 2).unwrap_err();
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("does not fit 1 features"), "{err}");
}

#[test]
fn missing_model_and_version_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_two_versions(dir.path());
    assert_eq!(
        registry.load("nope", 1).unwrap_err().to_string(),
        "no model nope version 1"
    );
    assert!(matches!(
        registry.load("good", 7),
        Err(ModelError::NotFound {
            version: Some(7),
            ..
        })
    ));
    let names: Vec<String> = registry
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(
        names,
        ["good"],
        "experiments and temp dirs are not model names"
    );
}
