//! A configured ONNX Runtime path that exists but is not a loadable library:
//! refused with the path and the loader's reason. (Its own test binary: the
//! runtime is loaded once per process, so no other test may load it first.)

use mld::model::{ModelError, Registry};

#[test]
fn a_file_that_is_not_onnx_runtime_is_refused_with_the_loader_reason() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"this is not a shared library").unwrap();
    let registry = Registry::open(dir.path().join("registry"), Some(fake.clone())).unwrap();
    // Real ONNX bytes are not needed: the runtime is loaded before the graph is read.
    let err = registry
        .import_onnx(
            "m",
            b"\x08\x07",
            vec!["a".into()],
            Some(vec!["x".into(), "y".into()]),
        )
        .unwrap_err();
    match &err {
        ModelError::OnnxRuntimeLoad { path, reason } => {
            assert_eq!(path, &fake);
            assert!(!reason.is_empty());
        }
        other => panic!("expected OnnxRuntimeLoad, got {other}"),
    }
    assert!(
        err.to_string().contains(&fake.display().to_string()),
        "{err}"
    );
    assert!(registry.list().unwrap().is_empty());
}
